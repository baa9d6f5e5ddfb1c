"""Pusher that also delivers the evaluation's metrics.json with the model.

The standard TFX Pusher copies only `<model>/Format-Serving`. The Trainer's
export already carries the SavedModel, label_map.pbtxt and the effective
pipeline.config; the metrics are known only after the Evaluator, which cannot
write into the (immutable) Model artifact. So this Pusher stages the export
plus the blessing's metrics.json in a temporary folder and lets the standard
executor push that: same blessing check (`blessed` == 1), same versioned
`<base_directory>/<unix time>/` with saved_model.pb copied last, so no
half-written model is ever visible there, and same PushedModel properties.
"""

from __future__ import annotations

import os
from typing import Dict, List

from tfx import types
from tfx.components import Pusher as StandardPusher
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from components.evaluator.executor import METRICS_FILE


class Executor(pusher_executor.Executor):
    """The standard Pusher executor, pushing the export plus metrics.json."""

    def GetModelPath(self, input_dict: Dict[str, List[types.Artifact]]) -> str:
        """The folder to push: the export, with the blessing's metrics.json added when there is one."""
        model_path = super().GetModelPath(input_dict)
        blessings = input_dict.get("model_blessing") or []
        metrics = os.path.join(blessings[0].uri, METRICS_FILE) if blessings else ""
        if not metrics or not fileio.exists(metrics):
            return model_path
        staged = os.path.join(self._get_tmp_dir(), "push")
        if fileio.exists(staged):
            fileio.rmtree(staged)
        io_utils.copy_dir(model_path, staged)
        io_utils.copy_file(metrics, os.path.join(staged, METRICS_FILE), overwrite=True)
        return staged


class Pusher(StandardPusher):
    """tfx.components.Pusher whose pushed folder also holds the evaluation's metrics.json."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
