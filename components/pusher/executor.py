"""Executor of the Pusher: the standard push, of the export plus metrics.json and the TFLite files.

The standard TFX Pusher copies only `<model>/Format-Serving`. The Trainer's
export already carries the SavedModel, label_map.pbtxt and the effective
pipeline.config; the .tflite variants sit beside it in `<model>/Format-TFLite`;
the metrics are known only after the Evaluator, which cannot write into the
(immutable) Model artifact. So `GetModelPath` stages the export, the blessing's
metrics.json and the .tflite files (as `tflite/model_<mode>.tflite`) in a
temporary folder and lets the standard executor push that: same blessing check
(`blessed` == 1), same versioned `<base_directory>/<unix time>/` with
saved_model.pb copied last, so no half-written model is ever visible there, and
same PushedModel properties, plus `tflite_files` naming what was pushed.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from components.names import (METRICS_FILE, MODEL_BLESSING_KEY, MODEL_KEY, PUSHED_MODEL_KEY, PUSHED_TFLITE_DIR,
                              TFLITE_DIR)


class Executor(pusher_executor.Executor):
    """The standard Pusher executor, pushing the export plus metrics.json and the .tflite files."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """The standard push; a pushed model records its .tflite files (`tflite_files`, comma-separated)."""
        self._tflite_files = []
        super().Do(input_dict, output_dict, exec_properties)
        pushed = output_dict[PUSHED_MODEL_KEY][0]
        if pushed.get_int_custom_property("pushed") == 1 and self._tflite_files:
            pushed.set_string_custom_property("tflite_files", ",".join(
                f"{PUSHED_TFLITE_DIR}/{name}" for name in self._tflite_files))

    def GetModelPath(self, input_dict: Dict[str, List[types.Artifact]]) -> str:
        """The folder to push: the export, with metrics.json and tflite/ added when there are any."""
        model_path = super().GetModelPath(input_dict)
        blessings = input_dict.get(MODEL_BLESSING_KEY) or []
        metrics = os.path.join(blessings[0].uri, METRICS_FILE) if blessings else ""
        metrics = metrics if metrics and fileio.exists(metrics) else ""
        tflite_dir = os.path.join(input_dict[MODEL_KEY][0].uri, TFLITE_DIR)
        self._tflite_files = sorted(fileio.listdir(tflite_dir)) if fileio.exists(tflite_dir) else []
        if not metrics and not self._tflite_files:
            return model_path
        staged = os.path.join(self._get_tmp_dir(), "push")
        if fileio.exists(staged):
            fileio.rmtree(staged)
        io_utils.copy_dir(model_path, staged)
        if metrics:
            io_utils.copy_file(metrics, os.path.join(staged, METRICS_FILE), overwrite=True)
        for name in self._tflite_files:
            io_utils.copy_file(os.path.join(tflite_dir, name), os.path.join(staged, PUSHED_TFLITE_DIR, name),
                               overwrite=True)
        return staged
