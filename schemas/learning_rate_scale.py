"""Does an SGD learning rate look scaled for a much larger batch than the config's? The one rule, stated once.

The TF2 Detection Zoo's SGD configs use 0.08 at batch 128 (SSD FPN-lite, EfficientDet) or 0.04 at 64
(RetinaNet, Faster R-CNN): 0.000625 per image. Scaled linearly to a batch of B that is 0.000625 x B
(0.005 at batch 8). A peak learning rate more than WARN_FACTOR times that is named: `config check` warns,
and the Trainer gives it as a likely cause when a run collapses. Adam is left alone (its rates do not
scale with the batch that way).
"""

from __future__ import annotations

ZOO_RATE_PER_IMAGE = 0.08 / 128
WARN_FACTOR = 4.0


def peak_learning_rate(optimizer) -> float | None:
    """The peak learning rate of an OD API momentum or RMSProp optimizer message; None for Adam or none."""
    kind = optimizer.WhichOneof("optimizer")
    if kind not in ("momentum_optimizer", "rms_prop_optimizer"):
        return None
    schedule = getattr(optimizer, kind).learning_rate
    which = schedule.WhichOneof("learning_rate")
    if which is None:
        return None
    value = getattr(schedule, which)
    if which == "manual_step_learning_rate":
        return float(max([value.initial_learning_rate] + [s.learning_rate for s in value.schedule]))
    for field in ("learning_rate_base", "learning_rate", "initial_learning_rate"):
        if hasattr(value, field):
            return float(getattr(value, field))
    return None


def learning_rate_note(learning_rate: float | None, batch_size: int) -> str | None:
    """The note when `learning_rate` is more than WARN_FACTOR x the zoo's per-image rate at `batch_size`."""
    if not learning_rate or batch_size <= 0:
        return None
    scaled = ZOO_RATE_PER_IMAGE * batch_size
    if learning_rate <= WARN_FACTOR * scaled:
        return None
    return (f"learning rate {learning_rate:.7g} at batch {batch_size} is {learning_rate / scaled:.1f}x the TF2 "
            f"Detection Zoo's rate scaled linearly to this batch (0.08 at batch 128 -> {scaled:.3g} at batch "
            f"{batch_size}); the rule: warn above {WARN_FACTOR:g}x. Lower the learning rate or raise batch_size")
