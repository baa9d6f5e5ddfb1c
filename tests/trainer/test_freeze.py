"""freeze: frozen backbone (weights and batch-norm statistics) and the freeze/update regexes."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from components.trainer import freeze, model_builder
from tests.trainer.detector_fixtures import ssd_proto


@pytest.fixture(scope="module")
def bundle():
    return model_builder.build_detector(ssd_proto(num_classes=2))


def test_regexes_allow_and_deny(bundle):
    model = bundle.model
    everything = freeze.trainable_variables(model, freeze_backbone=False)
    assert len(everything) == len(model.trainable_variables)
    heads = freeze.trainable_variables(model, False, update_trainable_variables=["^head/"])
    assert heads and all(any(v is h for h in model.head.trainable_variables) for v in heads)
    assert len(heads) == len(model.head.trainable_variables)
    no_class = freeze.trainable_variables(model, False, freeze_variables=["_classifier", "classnet"],
                                          update_trainable_variables=["^head/"])
    assert 0 < len(no_class) < len(heads)
    assert not any("classnet" in v.name or "scores" in v.name for v in no_class)


def test_frozen_backbone_keeps_weights_and_batchnorm_statistics(bundle):
    model = bundle.model
    train_vars = freeze.trainable_variables(model, freeze_backbone=True, freeze_variables=["^decoder/"])
    backbone_ids = {id(v) for v in model.backbone.variables}
    decoder_ids = {id(v) for v in model.decoder.variables}
    assert train_vars and not any(id(v) in backbone_ids | decoder_ids for v in train_vars)
    before = {id(v): v.numpy() for v in model.backbone.variables + model.decoder.variables}
    head_before = {id(v): v.numpy() for v in train_vars}
    optimizer = tf_keras.optimizers.SGD(0.5)
    images = tf.random.uniform([2, 64, 64, 3], -2.0, 2.0, seed=1)
    with tf.GradientTape() as tape:
        out = model(images, training=True)  # training mode: unfrozen BN would update its statistics
        loss = sum(tf.reduce_sum(tf.square(t)) for t in
                   list(out["cls_outputs"].values()) + list(out["box_outputs"].values()))
    grads = tape.gradient(loss, train_vars)
    optimizer.apply_gradients(zip(grads, train_vars))
    for var in model.backbone.variables:
        np.testing.assert_array_equal(var.numpy(), before[id(var)], err_msg=var.name)
    moving = [v for v in model.backbone.variables if "moving_" in v.name]
    assert moving
    changed = [v for v in train_vars if not np.array_equal(v.numpy(), head_before[id(v)])]
    assert changed  # the optimizer did step the trainable part
