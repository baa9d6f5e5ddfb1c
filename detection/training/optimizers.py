"""Optimizers from an OD API `train_config.optimizer` (tf_keras, as Model Garden uses).

Mapping (OD API builders/optimizer_builder.py, TF2 branch):
- momentum_optimizer → SGD(momentum=momentum_optimizer_value)
- rms_prop_optimizer → RMSprop(rho=decay, momentum=momentum_optimizer_value, epsilon)
- adam_optimizer → Adam(epsilon)
- use_moving_average → an exponential moving average of the trained weights
  with momentum `moving_average_decay` (tf_keras's built-in `use_ema`); the
  export swaps the averages in (`moving_averages_swapped_in`).
- `train_config.gradient_clipping_by_norm` → `clip_gradients` (global norm,
  per replica before the update, as model_lib_v2 does).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import tensorflow as tf
import tf_keras

from detection.training import schedules


def build_optimizer(optimizer_config) -> tf_keras.optimizers.Optimizer:
    """The tf_keras optimizer (with its OD API learning-rate schedule) a config names.

    Raises ValueError if no optimizer is set.
    """
    kind = optimizer_config.WhichOneof("optimizer")
    if kind is None:
        raise ValueError("train_config.optimizer: no optimizer set "
                         "(use momentum_optimizer, adam_optimizer or rms_prop_optimizer)")
    c = getattr(optimizer_config, kind)
    lr = schedules.build_learning_rate(c.learning_rate)
    ema = dict(use_ema=True, ema_momentum=float(optimizer_config.moving_average_decay)) \
        if optimizer_config.use_moving_average else {}
    if kind == "momentum_optimizer":
        return tf_keras.optimizers.SGD(learning_rate=lr, momentum=c.momentum_optimizer_value, **ema)
    if kind == "rms_prop_optimizer":
        return tf_keras.optimizers.RMSprop(learning_rate=lr, rho=c.decay, momentum=c.momentum_optimizer_value,
                                           epsilon=c.epsilon, **ema)
    if kind == "adam_optimizer":
        return tf_keras.optimizers.Adam(learning_rate=lr, epsilon=c.epsilon, **ema)
    raise ValueError(f"train_config.optimizer: {kind} is not supported")


def current_learning_rate(optimizer: tf_keras.optimizers.Optimizer) -> tf.Tensor:
    """The learning rate the optimizer uses at its current iteration."""
    # tf_keras's `learning_rate` property lags one step behind for schedules.
    lr = getattr(optimizer, "_learning_rate", optimizer.learning_rate)
    if isinstance(lr, tf_keras.optimizers.schedules.LearningRateSchedule):
        return lr(optimizer.iterations)
    return tf.convert_to_tensor(lr)


def clip_gradients(grads: Sequence[tf.Tensor], clip_norm: float) -> list[tf.Tensor]:
    """OD API gradient_clipping_by_norm: clip by global norm when clip_norm > 0."""
    if clip_norm and clip_norm > 0:
        return tf.clip_by_global_norm(list(grads), clip_norm)[0]
    return list(grads)


@contextlib.contextmanager
def moving_averages_swapped_in(optimizer: tf_keras.optimizers.Optimizer,
                               variables: Sequence[tf.Variable]) -> Iterator[bool]:
    """Within the block, `variables` hold their moving averages (when the optimizer keeps them).

    Yields whether a swap happened; the trained values are put back on exit.
    """
    if not getattr(optimizer, "use_ema", False) or not optimizer.variables:
        yield False
        return
    saved = [v.read_value() for v in variables]
    optimizer.finalize_variable_values(list(variables))
    try:
        yield True
    finally:
        for var, value in zip(variables, saved):
            var.assign(value)
