"""Batch-norm statistics that match the weights at export: re-estimated from training batches (as SWA's update_bn).

Why: a batch-norm layer's moving mean and variance follow its batch statistics with the config's
`batch_norm.decay` (momentum). At the zoo's 0.997 the start's statistics still weigh 0.997^400 = 30 %
after 400 steps: freshly initialised FPN and head layers (a `classification` start) or a backbone that
trains leave inference-mode batch norm normalising with statistics far from those the weights were
trained with, and the exported model's outputs go flat (every score one constant). Re-estimating is
what SWA (`torch.optim.swa_utils.update_bn`) and timm do: with the final weights, run training-mode
forward passes over training batches (no augmentation) and set each moving statistic to the average
of its batch statistics (momentum k/(k+1) at the k-th batch: a cumulative mean).

Only the layers whose statistics move in training are re-estimated (found by running one training
batch and seeing which moved); a frozen backbone's batch norm runs in inference mode and keeps its own.

The rule for `auto` (the default): re-estimate when the run is too short for the slowest moving layer's
decay to have forgotten the start, i.e. when its steps are fewer than log(0.01) / log(decay) (the steps
after which the start weighs under 1 %: 1533 at 0.997, 44 at 0.9).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Callable, Iterable

import numpy as np
import tensorflow as tf

from detection.training import BN_REESTIMATE_MODES

MODES = BN_REESTIMATE_MODES
DEFAULT_BATCHES = 50          # at batch 8, 400 images; the measured effect is in README (BN re-estimation)
START_WEIGHT = 0.01           # `auto`: re-estimate while the start's statistics weigh more than this


@dataclasses.dataclass
class Reestimation:
    """What a re-estimation did, for the log and the Model artifact."""

    done: bool
    reason: str
    layers: int = 0
    batches: int = 0
    images: int = 0
    mean_shift: dict = dataclasses.field(default_factory=dict)     # |new - old| mean / new std, over layers
    variance_ratio: dict = dataclasses.field(default_factory=dict)  # new / old variance, over layers

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return dataclasses.asdict(self)

    def line(self) -> str:
        """One line for the log."""
        if not self.done:
            return f"batch-norm statistics kept as trained: {self.reason}"
        return (f"batch-norm statistics re-estimated for {self.layers} layers from {self.batches} training batches "
                f"({self.images} images, no augmentation): {self.reason}; the moving means moved by "
                f"{self.mean_shift.get('median', 0):.3g} standard deviations (median over layers; max "
                f"{self.mean_shift.get('max', 0):.3g} in {self.mean_shift.get('max_layer', '?')}), the variances "
                f"by a factor {self.variance_ratio.get('median', 1):.3g} (median; extremes "
                f"{self.variance_ratio.get('min', 1):.3g}..{self.variance_ratio.get('max', 1):.3g})")


def batch_norm_layers(model) -> list:
    """Every Keras batch-norm layer inside `model` (nested models and OD-style containers included)."""
    found, seen = [], set()
    for module in model.submodules:
        if id(module) in seen:
            continue
        seen.add(id(module))
        if hasattr(module, "moving_mean") and hasattr(module, "moving_variance") and hasattr(module, "momentum"):
            found.append(module)
    return found


def _snapshot(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]


def _restore(layers, values) -> None:
    for layer, (mean, var) in zip(layers, values):
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(var)


class Momenta:
    """Each batch-norm layer's momentum as a tf.Variable (`variable_momenta`), so one traced training-mode
    forward pass serves the eval loss, the probe for moving layers and the re-estimation."""

    def __init__(self, layers: list):
        self.layers = list(layers)
        self.originals = [layer.momentum for layer in self.layers]
        self.variables = [tf.Variable(float(m), trainable=False, dtype=tf.float32, name="bn_momentum")
                          for m in self.originals]

    def set(self, layers: list, value: float) -> None:
        """Sets the momentum of `layers` (a subset of self.layers) to `value`."""
        chosen = {id(layer) for layer in layers}
        for layer, variable in zip(self.layers, self.variables):
            if id(layer) in chosen:
                variable.assign(value)

    def reset(self) -> None:
        """Every layer's momentum back to its own value."""
        for variable, value in zip(self.variables, self.originals):
            variable.assign(float(value))


@contextlib.contextmanager
def variable_momenta(layers: list):
    """Inside: the layers' momenta are tf.Variables (Momenta); after: the floats they were."""
    momenta = Momenta(layers)
    try:
        for layer, variable in zip(momenta.layers, momenta.variables):
            # Past Keras' attribute tracking: the variable must not become a weight of the layer.
            object.__setattr__(layer, "momentum", variable)
        yield momenta
    finally:
        for layer, value in zip(momenta.layers, momenta.originals):
            object.__setattr__(layer, "momentum", value)


def steps_to_forget(decay: float) -> int:
    """Steps after which a moving average of momentum `decay` gives its start less than START_WEIGHT."""
    if decay <= 0.0:
        return 1
    if decay >= 1.0:
        return math.inf
    return int(math.ceil(math.log(START_WEIGHT) / math.log(decay)))


def moving_layers(momenta: Momenta, run_forward: Callable[[], None]) -> list:
    """The layers whose statistics one training-mode forward pass moves (statistics and momenta kept).

    The probe runs with every momentum at 0.5, so a layer that updates at all moves visibly.
    """
    layers = momenta.layers
    before = _snapshot(layers)
    momenta.set(layers, 0.5)
    try:
        run_forward()
        after = _snapshot(layers)
    finally:
        _restore(layers, before)
        momenta.reset()
    return [layer for layer, (m0, v0), (m1, v1) in zip(layers, before, after)
            if not (np.array_equal(m0, m1) and np.array_equal(v0, v1))]


def decide(mode: str, steps: int, layers: list, decays: list[float] | None = None) -> tuple[bool, str]:
    """(re-estimate?, why) for a run of `steps` steps whose moving layers are `layers` (see the module doc).

    `decays` are those layers' momenta (default: read from the layers).
    """
    if mode not in MODES:
        raise ValueError(f"batch-norm re-estimation {mode!r} is not one of {', '.join(MODES)}")
    if not layers:
        return False, "no batch-norm layer's statistics move in training (frozen or none)"
    if mode == "off":
        return False, "turned off (--bn-reestimate off)"
    if mode == "on":
        return True, "asked for (--bn-reestimate on)"
    decay = max(decays if decays else [float(layer.momentum) for layer in layers])
    needed = steps_to_forget(decay)
    if steps < needed:
        return True, (f"the run's {steps} steps are fewer than the {needed} a batch-norm decay of {decay:g} needs to "
                      f"give its starting statistics under {START_WEIGHT:.0%} (auto)")
    return False, f"the run's {steps} steps are enough for a batch-norm decay of {decay:g} to converge (auto)"


def reestimate(momenta: Momenta, layers: list, forward: Callable[[object], None], batches: Iterable,
               num_batches: int, batch_size: int, reason: str) -> Reestimation:
    """Sets each of `layers` moving statistics to the mean of its batch statistics over `num_batches` batches.

    `forward(batch)` runs the model in training mode on one batch (which moves the statistics with each
    layer's momentum: here k/(k+1) at the k-th batch, through `momenta`). The momenta are reset after.
    """
    before = _snapshot(layers)
    count = 0
    try:
        for batch in batches:
            if count >= num_batches:
                break
            momenta.set(layers, count / (count + 1.0))
            forward(batch)
            count += 1
    finally:
        momenta.reset()
    if count == 0:
        _restore(layers, before)
        return Reestimation(False, "no training batch to re-estimate from")
    after = _snapshot(layers)
    shifts, ratios, names = [], [], []
    for layer, (m0, v0), (m1, v1) in zip(layers, before, after):
        eps = float(getattr(layer, "epsilon", 1e-3))
        shifts.append(float(np.mean(np.abs(m1 - m0) / np.sqrt(v1 + eps))))
        ratios.append(float(np.mean((v1 + eps) / (v0 + eps))))
        names.append(layer.name)
    worst = int(np.argmax(shifts))
    return Reestimation(
        True, reason, layers=len(layers), batches=count, images=count * batch_size,
        mean_shift={"median": float(np.median(shifts)), "max": shifts[worst], "max_layer": names[worst]},
        variance_ratio={"median": float(np.median(ratios)), "min": float(np.min(ratios)),
                        "max": float(np.max(ratios))})
