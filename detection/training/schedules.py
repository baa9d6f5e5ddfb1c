"""The TF Object Detection API's learning-rate schedules, as tf_keras schedules.

Same formulas as research/object_detection/utils/learning_schedules.py (TF2
version) and the mapping from `optimizer.proto` fields in
builders/optimizer_builder.py:

- constant_learning_rate: `learning_rate`.
- exponential_decay_learning_rate: during burn-in a linear ramp from
  `burnin_learning_rate` to `initial_learning_rate` (or the base rate flat when
  `burnin_learning_rate` is 0); afterwards
  `initial * decay_factor ** ((step - burnin_steps) / decay_steps)` (floored
  exponent when `staircase`), never below `min_learning_rate`.
- manual_step_learning_rate: `initial_learning_rate` then each `schedule`
  entry's rate from its `step` on; with `warmup` a linear ramp from the initial
  rate to the first entry's rate over the first boundary.
- cosine_decay_learning_rate: linear warm-up from `warmup_learning_rate` over
  `warmup_steps`, hold at `learning_rate_base` for `hold_base_rate_steps`, then
  `0.5 * base * (1 + cos(pi * progress))`, 0 after `total_steps`.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras


class ConstantLearningRate(tf_keras.optimizers.schedules.LearningRateSchedule):
    """OD API constant_learning_rate."""

    def __init__(self, learning_rate: float):
        self.learning_rate = float(learning_rate)

    def __call__(self, step):
        return tf.constant(self.learning_rate, tf.float32)

    def get_config(self):
        return {"learning_rate": self.learning_rate}


class ExponentialDecayWithBurnin(tf_keras.optimizers.schedules.LearningRateSchedule):
    """OD API exponential_decay_learning_rate (learning_schedules.exponential_decay_with_burnin)."""

    def __init__(self, learning_rate_base: float, decay_steps: int, decay_factor: float,
                 burnin_learning_rate: float = 0.0, burnin_steps: int = 0,
                 min_learning_rate: float = 0.0, staircase: bool = True):
        if decay_steps <= 0:
            raise ValueError("decay_steps must be positive.")
        if burnin_learning_rate and burnin_steps <= 0:
            raise ValueError("burnin_learning_rate needs burnin_steps > 0.")
        self.learning_rate_base = float(learning_rate_base)
        self.decay_steps = int(decay_steps)
        self.decay_factor = float(decay_factor)
        self.burnin_learning_rate = float(burnin_learning_rate)
        self.burnin_steps = int(burnin_steps)
        self.min_learning_rate = float(min_learning_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if self.burnin_learning_rate == 0:
            burnin_rate = tf.constant(self.learning_rate_base, tf.float32)
        else:
            slope = (self.learning_rate_base - self.burnin_learning_rate) / self.burnin_steps
            burnin_rate = slope * step + self.burnin_learning_rate
        exponent = (step - self.burnin_steps) / self.decay_steps
        if self.staircase:
            exponent = tf.floor(exponent)
        post_burnin = self.learning_rate_base * tf.pow(self.decay_factor, exponent)
        rate = tf.where(step < self.burnin_steps, burnin_rate, post_burnin)
        return tf.maximum(rate, self.min_learning_rate)

    def get_config(self):
        return dict(vars(self))


class ManualStepping(tf_keras.optimizers.schedules.LearningRateSchedule):
    """OD API manual_step_learning_rate (learning_schedules.manual_stepping)."""

    def __init__(self, boundaries: list[int], rates: list[float], warmup: bool = False):
        boundaries = [int(b) for b in boundaries]
        if any(b < 0 for b in boundaries):
            raise ValueError("schedule steps must be positive integers.")
        if any(nxt <= b for b, nxt in zip(boundaries, boundaries[1:])):
            raise ValueError("schedule steps must be strictly increasing.")
        if len(rates) != len(boundaries) + 1:
            raise ValueError("need exactly one more rate than schedule steps.")
        if boundaries and boundaries[0] == 0:
            raise ValueError("the first schedule step cannot be zero.")
        rates = [float(r) for r in rates]
        self.boundaries, self.rates, self.warmup = boundaries, rates, bool(warmup)
        if warmup and boundaries:
            slope = (rates[1] - rates[0]) / boundaries[0]
            self._starts = list(range(boundaries[0])) + boundaries
            self._values = [rates[0] + slope * s for s in range(boundaries[0])] + rates[1:]
        else:
            self._starts = [0] + boundaries
            self._values = rates

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        starts = tf.constant(self._starts, tf.int64)
        index = tf.reduce_sum(tf.cast(step >= starts, tf.int32)) - 1
        return tf.gather(tf.constant(self._values, tf.float32), tf.maximum(index, 0))

    def get_config(self):
        return {"boundaries": self.boundaries, "rates": self.rates, "warmup": self.warmup}


class CosineDecayWithWarmup(tf_keras.optimizers.schedules.LearningRateSchedule):
    """OD API cosine_decay_learning_rate (learning_schedules.cosine_decay_with_warmup)."""

    def __init__(self, learning_rate_base: float, total_steps: int,
                 warmup_learning_rate: float = 0.0, warmup_steps: int = 0,
                 hold_base_rate_steps: int = 0):
        if learning_rate_base < warmup_learning_rate:
            raise ValueError("learning_rate_base must be larger or equal to warmup_learning_rate.")
        if total_steps < warmup_steps:
            raise ValueError("total_steps must be larger or equal to warmup_steps.")
        self.learning_rate_base = float(learning_rate_base)
        self.total_steps = int(total_steps)
        self.warmup_learning_rate = float(warmup_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.hold_base_rate_steps = int(hold_base_rate_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        base = self.learning_rate_base
        decay_start = self.warmup_steps + self.hold_base_rate_steps
        decay_len = max(float(self.total_steps - decay_start), 1.0)
        rate = 0.5 * base * (1.0 + tf.cos(math.pi * (step - decay_start) / decay_len))
        if self.hold_base_rate_steps > 0:
            rate = tf.where(step > decay_start, rate, base)
        if self.warmup_steps > 0:
            slope = (base - self.warmup_learning_rate) / self.warmup_steps
            rate = tf.where(step < self.warmup_steps,
                            slope * step + self.warmup_learning_rate, rate)
        return tf.where(step > self.total_steps, 0.0, rate)

    def get_config(self):
        return dict(vars(self))


def build_learning_rate(learning_rate) -> tf_keras.optimizers.schedules.LearningRateSchedule:
    """Builds the schedule an OD API `LearningRate` proto message names.

    Raises ValueError for an unset or unknown schedule, or for values the OD API
    rejects (e.g. cosine total_steps < warmup_steps).
    """
    kind = learning_rate.WhichOneof("learning_rate")
    if kind == "constant_learning_rate":
        return ConstantLearningRate(learning_rate.constant_learning_rate.learning_rate)
    if kind == "exponential_decay_learning_rate":
        c = learning_rate.exponential_decay_learning_rate
        return ExponentialDecayWithBurnin(
            c.initial_learning_rate, c.decay_steps, c.decay_factor,
            burnin_learning_rate=c.burnin_learning_rate, burnin_steps=c.burnin_steps,
            min_learning_rate=c.min_learning_rate, staircase=c.staircase)
    if kind == "manual_step_learning_rate":
        c = learning_rate.manual_step_learning_rate
        return ManualStepping([s.step for s in c.schedule],
                              [c.initial_learning_rate] + [s.learning_rate for s in c.schedule],
                              warmup=c.warmup)
    if kind == "cosine_decay_learning_rate":
        c = learning_rate.cosine_decay_learning_rate
        return CosineDecayWithWarmup(
            c.learning_rate_base, c.total_steps, warmup_learning_rate=c.warmup_learning_rate,
            warmup_steps=c.warmup_steps, hold_base_rate_steps=c.hold_base_rate_steps)
    raise ValueError(f"unsupported learning_rate: {kind!r}")
