"""Executor of DetectionTrainer: resolves the inputs, trains with `train_loop.train` in `Do`, records the result.

Training runs in a working folder a re-run of the same execution finds again
(resume.py), so a killed execution resumes from its last checkpoint. The
SavedModel goes to the Model's `Format-Serving`, the TFLite variants (when
asked) to `Format-TFLite`, the TrainResult to the Model's `train_result.json`
and onto the Model as custom properties; checkpoints and TensorBoard logs end
in the ModelRun.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.example_gen.split import EVAL, TRAIN
from components.names import (BASE_MODEL_KEY, EXAMPLES_KEY, LABEL_MAP_FILE, LABEL_MAP_KEY, MODEL_KEY, MODEL_RUN_KEY,
                              PIPELINE_CONFIG_FILE, PIPELINE_CONFIG_KEY, TFLITE_DIR)
from components.trainer import resume
from components.trainer.parameters import TrainerParameters


class Executor(base_executor.BaseExecutor):
    """Trains, exports and records one DetectionTrainer execution."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        from detection.training import train_result  # pylint: disable=import-outside-toplevel
        logging.getLogger("detflow").setLevel(logging.INFO)
        parameters = TrainerParameters.from_exec_properties(exec_properties)
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        model_run_uri = artifact_utils.get_single_uri(output_dict[MODEL_RUN_KEY])
        train_files = split_files(input_dict[EXAMPLES_KEY], TRAIN)
        material = resume.resume_material(input_dict, exec_properties)
        work_dir = resume.resume_dir(model_run_uri, material)
        with resume.claimed(work_dir, material) as claimed:
            model_dir = work_dir if claimed else model_run_uri
            if claimed:
                resume.say_if_resuming(work_dir)
            result = _train(input_dict, parameters, train_files, model_dir,
                            path_utils.serving_model_dir(model.uri))
            if claimed:   # still locked: no other execution can pick the folder up meanwhile
                resume.move_contents(work_dir, model_run_uri)
                result = resume.rebase_paths(result, work_dir, model_run_uri)
                fileio.rmtree(work_dir)
        if parameters.tflite:
            from detection.serving import tflite_export  # pylint: disable=import-outside-toplevel
            result["tflite"] = tflite_export.export_variants(
                result["export_dir"], os.path.join(model.uri, TFLITE_DIR), list(parameters.tflite), train_files,
                parameters.tflite_representative_size or tflite_export.DEFAULT_REPRESENTATIVE_SIZE)
        train_result.write_result(result, model.uri)
        record_on_artifact(model, result)


def split_files(examples: list[types.Artifact], split: str) -> list[str]:
    """The file pattern of `split` in each Examples artifact (`<uri>/Split-<split>/*`)."""
    return [io_utils.all_files_pattern(artifact_utils.get_split_uri([e], split)) for e in examples]


def _train(input_dict: dict[str, list[types.Artifact]], parameters: TrainerParameters, train_files: list[str],
           model_dir: str, export_dir: str) -> dict:
    """train_loop.train on the inputs' config, label map, start model and splits, as the parameters say."""
    # pylint: disable-next=import-outside-toplevel
    from components.artifact_types import resolve_file

    # pylint: disable-next=import-outside-toplevel
    from detection.training import strategy as strategy_lib
    from detection.training import train_loop, train_settings
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel

    uris = {key: artifact_utils.get_single_uri(input_dict[key])
            for key in (PIPELINE_CONFIG_KEY, LABEL_MAP_KEY, BASE_MODEL_KEY) if input_dict.get(key)}
    config_path = resolve_file(uris[PIPELINE_CONFIG_KEY], PIPELINE_CONFIG_FILE)
    config = load_pipeline_config(config_path)
    train_settings.resolve_relative_paths(config.proto, config_path)
    job = train_settings.TrainJob(
        train_files, split_files(input_dict[EXAMPLES_KEY], EVAL),
        model_dir, num_steps=parameters.num_steps, batch_size=parameters.batch_size,
        base_checkpoint=uris.get(BASE_MODEL_KEY),
        label_map_path=(resolve_file(uris[LABEL_MAP_KEY], LABEL_MAP_FILE) if uris.get(LABEL_MAP_KEY)
                        else config.proto.train_input_reader.label_map_path),
        export_dir=export_dir,
        freeze_backbone=parameters.freeze_backbone, checkpoint_every=parameters.checkpoint_every,
        bn_reestimate=parameters.bn_reestimate, bn_reestimate_batches=parameters.bn_reestimate_batches)
    strategy = strategy_lib.build_strategy(parameters.strategy)
    return train_loop.train(config, job, strategy).to_dict()


def record_on_artifact(model: types.Artifact, result: dict) -> None:
    """Training stats and the restore report as custom properties of the Model artifact."""
    for key in ("steps", "start_step", "batch_size", "boxes_dropped", "boxes_unknown_class",
                "max_number_of_boxes", "num_trainable_variables", "num_replicas"):
        if result.get(key) is not None:
            model.set_int_custom_property(key, int(result[key]))
    model.set_int_custom_property("resumed", int(bool(result.get("resumed", result.get("start_step", 0)))))
    for key in ("final_loss", "images_per_sec", "eval_loss", "seconds"):
        if result.get(key) is not None:
            model.set_float_custom_property(key, float(result[key]))
    if result.get("tflite"):
        model.set_string_custom_property("tflite_variants", json.dumps(result["tflite"], sort_keys=True))
    if result.get("strategy"):
        model.set_string_custom_property("strategy", str(result["strategy"]))
    model.set_int_custom_property("moving_average_exported", int(bool(result.get("moving_average_exported"))))
    batch_norm = result.get("batch_norm")
    if batch_norm:
        model.set_int_custom_property("batch_norm_reestimated", int(bool(batch_norm.get("done"))))
        model.set_string_custom_property("batch_norm_reestimation", json.dumps(batch_norm, sort_keys=True))
    health = result.get("health")
    if health:
        model.set_int_custom_property("healthy", int(bool(health.get("healthy"))))
        model.set_string_custom_property("health", health.get("line", ""))
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
        model.set_int_custom_property("unused_checkpoint_variables", len(report.get("unused", [])))
        model.set_string_custom_property("unused_by_module", json.dumps(report.get("unused_by_module", {}),
                                                                        sort_keys=True))
        if report.get("network_check"):
            model.set_string_custom_property("network_check", report["network_check"])
        if report.get("class_head_note"):
            model.set_string_custom_property("class_head_note", report["class_head_note"])
