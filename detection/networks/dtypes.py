"""The dtype every detector's predictions leave the network in, whatever policy it computes in."""

from __future__ import annotations

import tensorflow as tf


def float32_outputs(outputs: dict) -> dict:
    """`outputs` with every 16-bit float tensor cast to float32 (the others as they are): what a network built
    under a mixed-precision policy (training/precision.py) hands to its losses and post-processing."""
    return {k: tf.cast(v, tf.float32) if isinstance(v, tf.Tensor) and v.dtype in (tf.float16, tf.bfloat16) else v
            for k, v in outputs.items()}
