"""Optimizers from OD API configs: kinds, schedules, clipping, moving averages."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from google.protobuf import text_format

from detection.training import optimizers
from schemas.protos import optimizer_pb2


def _opt(text):
    return optimizers.build_optimizer(text_format.Parse(text, optimizer_pb2.Optimizer()))


def test_kinds_and_hyperparameters():
    sgd = _opt("momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.03 } }"
               " momentum_optimizer_value: 0.8 } use_moving_average: false")
    assert isinstance(sgd, tf_keras.optimizers.SGD) and sgd.momentum == pytest.approx(0.8)
    assert not sgd.use_ema
    assert float(optimizers.current_learning_rate(sgd)) == pytest.approx(0.03)
    rms = _opt("rms_prop_optimizer { learning_rate { constant_learning_rate {} } decay: 0.95 epsilon: 0.5 }")
    assert isinstance(rms, tf_keras.optimizers.RMSprop)
    assert rms.rho == pytest.approx(0.95) and rms.epsilon == pytest.approx(0.5)
    assert rms.use_ema and rms.ema_momentum == pytest.approx(0.9999)  # OD API default: on, 0.9999
    adam = _opt("adam_optimizer { learning_rate { cosine_decay_learning_rate { learning_rate_base: 0.01 "
                "total_steps: 100 warmup_learning_rate: 0.001 warmup_steps: 10 } } } use_moving_average: false")
    assert isinstance(adam, tf_keras.optimizers.Adam)
    assert float(optimizers.current_learning_rate(adam)) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="no optimizer"):
        _opt("use_moving_average: false")


def test_learning_rate_follows_iterations():
    opt = _opt("momentum_optimizer { learning_rate { manual_step_learning_rate { initial_learning_rate: 0.1 "
               "schedule { step: 2 learning_rate: 0.01 } } } } use_moving_average: false")
    var = tf.Variable([1.0])
    rates = []
    for _ in range(4):
        rates.append(float(optimizers.current_learning_rate(opt)))
        opt.apply_gradients([(tf.constant([1.0]), var)])
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.01])


def test_clip_by_global_norm():
    grads = [tf.constant([3.0, 0.0]), tf.constant([4.0])]   # global norm 5
    clipped = optimizers.clip_gradients(grads, 1.0)
    assert float(tf.linalg.global_norm(clipped)) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped[0].numpy(), [0.6, 0.0], rtol=1e-6)
    unclipped = optimizers.clip_gradients(grads, 0.0)
    assert float(tf.linalg.global_norm(unclipped)) == pytest.approx(5.0)


def test_moving_average_swapped_in_and_back():
    opt = _opt("momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 1.0 } }"
               " momentum_optimizer_value: 0.0 } use_moving_average: true moving_average_decay: 0.5")
    var = tf.Variable([0.0])
    for _ in range(3):
        opt.apply_gradients([(tf.constant([-1.0]), var)])
    # The average starts at the initial weight (0), as tf.train.ExponentialMovingAverage
    # does; weights 1, 2, 3 give 0.5, 0.5*0.5 + 0.5*2 = 1.25, 0.5*1.25 + 0.5*3 = 2.125.
    assert float(var[0]) == pytest.approx(3.0)
    with optimizers.moving_averages_swapped_in(opt, [var]) as swapped:
        assert swapped
        assert float(var[0]) == pytest.approx(2.125)
    assert float(var[0]) == pytest.approx(3.0)
