"""freeze: frozen backbone (weights and batch-norm statistics) and the freeze/update regexes."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from detection.architectures import registry
from detection.checkpoints import freeze
from tests.detection.detector_fixtures import ssd_proto


@pytest.fixture(scope="module")
def bundle():
    return registry.build_detector(ssd_proto(num_classes=2))


def test_regexes_allow_and_deny(bundle):
    model = bundle.model
    everything = freeze.trainable_variables(model, freeze_backbone=False)
    assert len(everything) == len(model.trainable_variables)
    predictor = model._box_predictor  # pylint: disable=protected-access
    heads = freeze.trainable_variables(model, False, update_trainable_variables=["^box_predictor/"])
    assert heads and all(any(v is h for h in predictor.trainable_variables) for v in heads)
    assert len(heads) == len(predictor.trainable_variables)
    no_class = freeze.trainable_variables(model, False, freeze_variables=["ClassPredictor"],
                                          update_trainable_variables=["^box_predictor/"])
    assert len(no_class) == len(heads) - 3         # separable class conv: depthwise, pointwise, bias
    assert not any("ClassPredictor" in v.name for v in no_class)


def test_frozen_backbone_keeps_weights_and_batchnorm_statistics(bundle):
    model = bundle.model
    train_vars = freeze.trainable_variables(model, freeze_backbone=True,
                                            freeze_variables=["^feature_extractor/_fpn_features_generator/"])
    fpn = model.feature_extractor._fpn_features_generator  # pylint: disable=protected-access
    backbone_ids = {id(v) for v in model.backbone.variables}
    decoder_ids = {id(v) for v in fpn.variables}
    assert train_vars and not any(id(v) in backbone_ids | decoder_ids for v in train_vars)
    before = {id(v): v.numpy() for v in model.backbone.variables + fpn.variables}
    head_before = {id(v): v.numpy() for v in train_vars}
    optimizer = tf_keras.optimizers.SGD(0.5)
    images = tf.random.uniform([2, 64, 64, 3], -2.0, 2.0, seed=1)
    with tf.GradientTape() as tape:
        out = model(images, training=True)  # training mode: unfrozen BN would update its statistics
        loss = tf.reduce_sum(tf.square(out["box_encodings"])) + tf.reduce_sum(
            tf.square(out["class_predictions_with_background"]))
    grads = tape.gradient(loss, train_vars)
    optimizer.apply_gradients(zip(grads, train_vars))
    for var in model.backbone.variables:
        np.testing.assert_array_equal(var.numpy(), before[id(var)], err_msg=var.name)
    moving = [v for v in model.backbone.variables if "moving_" in v.name]
    assert moving
    changed = [v for v in train_vars if not np.array_equal(v.numpy(), head_before[id(v)])]
    assert changed  # the optimizer did step the trainable part
