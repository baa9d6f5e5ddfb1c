"""Executor of DetectionTrainer: TFX's GenericExecutor plus the detflow inputs and records."""

from __future__ import annotations

import json
import os
from typing import Any

from tfx import types
from tfx.components.trainer import executor as tfx_trainer_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.trainer import run_fn as run_fn_lib



class Executor(tfx_trainer_executor.GenericExecutor):
    """Adds the config / label map / base model URIs to custom_config, runs run_fn, records stats."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        uris = {key: artifact_utils.get_single_uri(input_dict[key])
                for key in ("pipeline_config", "label_map", "base_model") if input_dict.get(key)}
        custom = json.loads(exec_properties.get("custom_config") or "{}")
        custom[run_fn_lib.INPUT_URIS_KEY] = uris
        super().Do(input_dict, output_dict, {**exec_properties, "custom_config": json.dumps(custom)})
        model = output_dict["model"][0]
        path = os.path.join(model.uri, run_fn_lib.TRAIN_RESULT_FILE)
        if fileio.exists(path):
            with fileio.open(path) as f:
                record_on_artifact(model, json.load(f))


def record_on_artifact(model: types.Artifact, result: dict) -> None:
    """Training stats and the restore report as custom properties of the Model artifact."""
    for key in ("steps", "start_step", "batch_size", "boxes_dropped", "boxes_unknown_class",
                "max_number_of_boxes", "num_trainable_variables"):
        if result.get(key) is not None:
            model.set_int_custom_property(key, int(result[key]))
    for key in ("final_loss", "images_per_sec", "eval_loss", "seconds"):
        if result.get(key) is not None:
            model.set_float_custom_property(key, float(result[key]))
    model.set_int_custom_property("moving_average_exported", int(bool(result.get("moving_average_exported"))))
    report = result.get("restore_report")
    if report:
        model.set_string_custom_property("base_checkpoint", report.get("checkpoint", ""))
        model.set_string_custom_property("fine_tune_checkpoint_type", report.get("checkpoint_type", ""))
        model.set_int_custom_property("restored_variables", int(report.get("num_restored", 0)))
        model.set_int_custom_property("reinitialized_variables", len(report.get("reinitialized", [])))
        model.set_string_custom_property("restored_by_module", json.dumps(report.get("restored", {}),
                                                                          sort_keys=True))
        model.set_string_custom_property("reinitialized_by_module",
                                         json.dumps(report.get("reinitialized_by_module", {}), sort_keys=True))
