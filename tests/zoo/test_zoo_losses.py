"""Training numerics: detflow's SSD targets and losses equal the OD API's on the same network, image and boxes.

The fixture's `loss_reference.npz` was written by the OD API's own `model.loss` and `_assign_targets`, its
model built for training (tools/oracle/make_zoo_fixtures.py): two large boxes and three small ones below
every anchor's 0.5 IoU, which only the matcher's force-match gives anchors.
"""
import numpy as np
import tensorflow as tf

from detection.architectures import registry
from detection.checkpoints import restore
from detection.data import inputs
from tests.zoo.fixtures import assert_close, fixture, zoo_config

ZOO = "ssd_mobilenet_v2_fpnlite_320"


def test_ssd_targets_and_losses_equal_the_od_api():
    ref = np.load(fixture(ZOO) / "loss_reference.npz")
    config = zoo_config(ZOO)
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(ZOO)), "full", pipeline_proto=config.proto)
    task = registry.task_for(bundle)
    options = inputs.InputOptions.from_spec(bundle.spec)
    size = float(bundle.spec.input.height)
    targets = task.targets(options)(tf.constant(ref["boxes"] * size), tf.constant(ref["classes"], tf.int32))
    anchor_classes = np.maximum(targets["cls_targets"].numpy(), 0)
    np.testing.assert_array_equal(anchor_classes, ref["anchor_classes"])
    assert set(anchor_classes[anchor_classes > 0]) == {1, 2, 3}       # the small boxes have anchors too
    np.testing.assert_array_equal(targets["box_weights"].numpy(), ref["box_weights"])
    images = bundle.preprocess(tf.constant(ref["image"]))
    outputs = bundle.model(images, training=True)
    assert_close(outputs["box_encodings"], ref["box_encodings"], "training-mode box encodings")
    assert_close(outputs["class_predictions_with_background"], ref["class_predictions"],
                 "training-mode class predictions")
    losses = task.losses(bundle.model, images, {k: v[None] for k, v in targets.items()})
    np.testing.assert_allclose(float(losses["cls_loss"]), float(ref["classification_loss"]), rtol=1e-4)
    np.testing.assert_allclose(float(losses["box_loss"]), float(ref["localization_loss"]), rtol=1e-4)
