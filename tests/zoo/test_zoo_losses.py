"""Training numerics: detflow's SSD targets and losses equal the OD API's on the same network, image and boxes.

The fixture's `loss_reference.npz` was written by the OD API's own `model.loss` and `_assign_targets`, its
model built for training (tools/oracle/make_zoo_fixtures.py): two large boxes and three small ones below
every anchor's 0.5 IoU, which only the matcher's force-match gives anchors. For FPN-lite 320 (a background
column) and EfficientDet-D0 (add_background_class false: class c in column c - 1).
"""
import numpy as np
import pytest
import tensorflow as tf

from detection.architectures import registry
from detection.checkpoints import restore
from detection.data import inputs
from tests.zoo.fixtures import assert_close, fixture, zoo_config

# FPN-lite 320 (a background class) and EfficientDet-D0 (none: num_classes columns, class c in column c - 1).
ZOOS = ("ssd_mobilenet_v2_fpnlite_320", "ssd_efficientdet_d0_256")
STOCHASTIC_IN_TRAINING = ("ssd_efficientdet_d0_256",)


@pytest.mark.parametrize("zoo", ZOOS)
def test_ssd_targets_and_losses_equal_the_od_api(zoo):
    ref = np.load(fixture(zoo) / "loss_reference.npz")
    config = zoo_config(zoo)
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(zoo)), "full", pipeline_proto=config.proto)
    task = registry.task_for(bundle)
    options = inputs.InputOptions.from_spec(bundle.spec)
    size = float(bundle.spec.input.height)
    targets = task.targets(options)(tf.constant(ref["boxes"] * size), tf.constant(ref["classes"], tf.int32))
    anchor_classes = np.maximum(targets["cls_targets"].numpy(), 0)
    np.testing.assert_array_equal(anchor_classes, ref["anchor_classes"])
    assert set(anchor_classes[anchor_classes > 0]) == {1, 2, 3}       # the small boxes have anchors too
    np.testing.assert_array_equal(targets["box_weights"].numpy(), ref["box_weights"])
    images = bundle.preprocess(tf.constant(ref["image"]))
    model = bundle.model
    if zoo in STOCHASTIC_IN_TRAINING:
        # Its training-mode outputs are random (EfficientNet's stochastic depth): the losses are computed from
        # the OD API's own training-mode outputs, by detflow's loss code.
        model = lambda images, training: {"box_encodings": tf.constant(ref["box_encodings"]),  # noqa: E731
                                          "class_predictions_with_background": tf.constant(ref["class_predictions"])}
    else:
        outputs = bundle.model(images, training=True)
        assert_close(outputs["box_encodings"], ref["box_encodings"], "training-mode box encodings")
        assert_close(outputs["class_predictions_with_background"], ref["class_predictions"],
                     "training-mode class predictions")
    losses = task.losses(model, images, {k: v[None] for k, v in targets.items()})
    np.testing.assert_allclose(float(losses["cls_loss"]), float(ref["classification_loss"]), rtol=1e-4)
    np.testing.assert_allclose(float(losses["box_loss"]), float(ref["localization_loss"]), rtol=1e-4)
