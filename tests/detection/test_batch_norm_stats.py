"""Batch-norm re-estimation (`batch_norm_stats`): the rule, the cumulative mean, and nothing else touched."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from detection.training import batch_norm_stats as bns


def test_auto_re_estimates_while_the_start_still_weighs_more_than_one_percent():
    assert bns.steps_to_forget(0.997) == 1533 and bns.steps_to_forget(0.9) == 44
    layer = tf_keras.layers.BatchNormalization(momentum=0.997)
    assert bns.decide("auto", 400, [layer])[0] is True
    assert "400 steps are fewer than the 1533" in bns.decide("auto", 400, [layer])[1]
    assert bns.decide("auto", 2000, [layer])[0] is False
    assert bns.decide("auto", 400, [tf_keras.layers.BatchNormalization(momentum=0.9)])[0] is False
    assert bns.decide("on", 10**6, [layer]) == (True, "asked for (--bn-reestimate on)")
    assert bns.decide("off", 1, [layer])[0] is False
    assert "no batch-norm layer's statistics move" in bns.decide("on", 1, [])[1]
    with pytest.raises(ValueError, match="one of auto, on, off"):
        bns.decide("sometimes", 1, [layer])


def _model():
    inputs = tf_keras.Input((4,))
    frozen = tf_keras.layers.BatchNormalization(momentum=0.99, name="frozen_bn")
    moving = tf_keras.layers.BatchNormalization(momentum=0.997, name="moving_bn")
    model = tf_keras.Model(inputs, moving(tf_keras.layers.Dense(3, name="dense")(frozen(inputs))))
    frozen.trainable = False
    return model, frozen, moving


def test_the_moving_statistics_become_the_mean_of_the_batch_statistics_and_only_of_moving_layers():
    tf_keras.utils.set_random_seed(0)
    model, frozen, moving = _model()
    batches = [tf.constant(np.random.default_rng(i).normal(3.0 + i, 1.0 + i, (16, 4)), tf.float32)
               for i in range(5)]
    layers = bns.batch_norm_layers(model)
    assert {layer.name for layer in layers} == {"frozen_bn", "moving_bn"}
    weights_before = [w.name for w in model.weights]
    frozen_mean = frozen.moving_mean.numpy().copy()
    with bns.variable_momenta(layers) as momenta:
        forward = tf.function(lambda batch: model(batch, training=True))    # traced once, momenta as variables
        found = bns.moving_layers(momenta, lambda: forward(batches[0]))
        assert [layer.name for layer in found] == ["moving_bn"]
        assert np.all(moving.moving_mean.numpy() == 0.0)          # the probe leaves the statistics as they were
        result = bns.reestimate(momenta, found, forward, iter(batches), num_batches=4, batch_size=16, reason="test")
    assert result.done and result.batches == 4 and result.images == 64 and result.layers == 1
    hidden = [tf_keras.Model(model.input, model.get_layer("dense").output)(b).numpy() for b in batches[:4]]
    np.testing.assert_allclose(moving.moving_mean.numpy(), np.mean([h.mean(0) for h in hidden], 0), rtol=1e-5)
    np.testing.assert_allclose(moving.moving_variance.numpy(), np.mean([h.var(0) for h in hidden], 0), rtol=1e-4)
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), frozen_mean)
    assert moving.momentum == 0.997 and isinstance(moving.momentum, float)
    assert [w.name for w in model.weights] == weights_before   # no variable became a weight of the layer
    assert "re-estimated for 1 layers from 4 training batches" in result.line()
    assert result.variance_ratio["median"] > 1.0          # from the initial variance of 1 to the data's


def test_no_batch_keeps_the_statistics():
    model, _, moving = _model()
    with bns.variable_momenta([moving]) as momenta:
        result = bns.reestimate(momenta, [moving], lambda batch: model(batch, training=True), iter([]), 10, 8, "x")
    assert not result.done and np.all(moving.moving_variance.numpy() == 1.0)
