"""The Pusher: tfx.components.Pusher whose pushed folder also holds metrics.json and the TFLite files.

The spec, channels and blessing check are TFX's; only the executor differs
(`executor.py`: what it stages before the standard push).
"""

from __future__ import annotations

from tfx.components import Pusher as StandardPusher
from tfx.dsl.components.base import executor_spec

from components.pusher import executor


class Pusher(StandardPusher):
    """tfx.components.Pusher whose pushed folder also holds the evaluation's metrics.json and tflite/."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
