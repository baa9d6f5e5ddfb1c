"""Mixed precision in training: which Keras dtype policy a run builds its detector under, and loss scaling.

Names (`detflow train --precision`, the DetectionTrainer's `precision` parameter):
- "auto": "mixed_bfloat16" when the config sets `train_config.use_bfloat16` and
  training runs on a TPU (the OD API's rule: model_lib_v2 sets the policy only
  with use_tpu), else "float32";
- "float32";
- "mixed_float16": float16 compute, float32 variables, dynamic loss scaling
  (Keras' LossScaleOptimizer); fast on NVIDIA GPUs of compute capability 7.0+;
- "mixed_bfloat16": bfloat16 compute, float32 variables, no loss scaling
  (TPUs; NVIDIA GPUs from Ampere on).

The detector is built under the policy (a Keras layer keeps the policy it was
built with) and the global policy is put back afterwards. Each architecture
casts its predictions to float32 before anything decodes them
(`networks.dtypes.float32_outputs`), as the OD API
does under bfloat16 (`ops.bfloat16_to_float32_nested` in model_lib_v2): the
losses, the box decoding, NMS and the export's outputs are float32; the
variables (and so every checkpoint) are float32 whatever the policy. The
loss scale is not checkpointed: a resumed float16 run starts its dynamic scale
again (Keras' 2**15, lowered within a few steps where gradients overflow).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Precision:
    """The policy one run trains with, and why."""

    policy: str          # a Keras dtype policy name: float32, mixed_float16 or mixed_bfloat16
    reason: str

    @property
    def loss_scaling(self) -> bool:
        """float16 gradients underflow without it; bfloat16 has float32's range and needs none."""
        return self.policy == "mixed_float16"

    @property
    def mixed(self) -> bool:
        """Whether the network computes in a 16-bit type."""
        return self.policy != "float32"


def check_precision(name: str) -> None:
    """ValueError unless `name` is one of PRECISIONS."""
    if name not in PRECISIONS:
        raise ValueError(f"precision = {name!r}: expected one of {', '.join(PRECISIONS)}")


def resolve(requested: str, use_bfloat16: bool, on_tpu: bool) -> Precision:
    """The precision `requested` means for a config with `use_bfloat16` on this strategy (see the module doc)."""
    check_precision(requested)
    if requested != "auto":
        return Precision(requested, "asked for" + (" (train_config.use_bfloat16 left aside)"
                                                   if use_bfloat16 and requested != "mixed_bfloat16" else ""))
    if use_bfloat16 and on_tpu:
        return Precision("mixed_bfloat16", "train_config.use_bfloat16 on a TPU")
    if use_bfloat16:
        return Precision("float32", "train_config.use_bfloat16 applies on a TPU only, as in the OD API; "
                                    "--precision mixed_bfloat16 asks for it here")
    return Precision("float32", "the default")


@contextlib.contextmanager
def building_under(policy: str) -> Iterator[None]:
    """Within the block, Keras layers are built under `policy`; the global policy is put back on exit."""
    import tf_keras  # pylint: disable=import-outside-toplevel
    before = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        tf_keras.mixed_precision.set_global_policy(before)


def loss_scale_optimizer(optimizer, precision: Precision):
    """Keras' LossScaleOptimizer (dynamic loss scale) around `optimizer` when the precision needs one, else None."""
    if not precision.loss_scaling:
        return None
    import tf_keras  # pylint: disable=import-outside-toplevel
    return tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
