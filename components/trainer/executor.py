"""Executor of DetectionTrainer: resolves the inputs, trains with `train_loop.train` in `Do`, records the result.

Training runs in a working folder a re-run of the same execution finds again
(resume.py), so a killed execution resumes from its last checkpoint. The
SavedModel goes to the Model's `Format-Serving`, the TFLite variants (when
asked) to `Format-TFLite`, the TrainResult to the Model's `train_result.json`
and onto the Model as custom properties; checkpoints and TensorBoard logs end
in the ModelRun.
"""

from __future__ import annotations

import dataclasses
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
from components.names import (BASE_CHECKPOINT_PROPERTY, BASE_MODEL_KEY, BN_REESTIMATED_PROPERTY,
                              BN_REESTIMATION_PROPERTY, EXAMPLES_KEY, FINE_TUNE_CHECKPOINT_TYPE_PROPERTY,
                              HEALTH_PROPERTY, HEALTHY_PROPERTY, LABEL_MAP_FILE, LABEL_MAP_KEY, MODEL_FLOAT_PROPERTIES,
                              MODEL_INT_PROPERTIES, MODEL_KEY, MODEL_RUN_KEY, NETWORK_CHECK_PROPERTY,
                              PIPELINE_CONFIG_FILE, PIPELINE_CONFIG_KEY, REINITIALIZED_BY_MODULE_PROPERTY,
                              REINITIALIZED_VARIABLES_PROPERTY, RESTORED_BY_MODULE_PROPERTY,
                              RESTORED_VARIABLES_PROPERTY, PRECISION_PROPERTY, STRATEGY_PROPERTY, TFLITE_DIR,
                              TFLITE_VARIANTS_PROPERTY, UNUSED_BY_MODULE_PROPERTY, UNUSED_VARIABLES_PROPERTY)
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
            result = dataclasses.replace(result, tflite=tflite_export.export_variants(
                result.paths.export_dir, os.path.join(model.uri, TFLITE_DIR), list(parameters.tflite), train_files,
                parameters.tflite_representative_size or tflite_export.DEFAULT_REPRESENTATIVE_SIZE))
        train_result.write_result(result, model.uri)
        record_on_artifact(model, result)


def split_files(examples: list[types.Artifact], split: str) -> list[str]:
    """The file pattern of `split` in each Examples artifact (`<uri>/Split-<split>/*`)."""
    return [io_utils.all_files_pattern(artifact_utils.get_split_uri([e], split)) for e in examples]


def _train(input_dict: dict[str, list[types.Artifact]], parameters: TrainerParameters, train_files: list[str],
           model_dir: str, export_dir: str):
    """train_loop.train on the inputs' config, label map, start model and splits, as the parameters say; or,
    with a training job, `detflow train` on the job's workers (`_train_as_job`)."""
    if parameters.training_job is not None:
        return _train_as_job(input_dict, parameters, train_files, model_dir, export_dir)
    # pylint: disable-next=import-outside-toplevel
    from detection.training import strategy as strategy_lib
    from detection.training import train_loop, train_settings  # pylint: disable=import-outside-toplevel

    inputs = _inputs(input_dict)
    job = train_settings.TrainJob(
        train_files, split_files(input_dict[EXAMPLES_KEY], EVAL),
        model_dir, num_steps=parameters.num_steps, batch_size=parameters.batch_size,
        base_checkpoint=inputs.base_checkpoint, label_map_path=inputs.label_map, export_dir=export_dir,
        freeze_backbone=parameters.freeze_backbone, checkpoint_every=parameters.checkpoint_every,
        bn_reestimation=train_settings.BnReestimation(parameters.bn_reestimate, parameters.bn_reestimate_batches))
    strategy = strategy_lib.build_strategy(parameters.strategy, multi_worker=False, tpu=parameters.tpu)
    return train_loop.train(inputs.config, job, strategy, precision=parameters.precision)


@dataclasses.dataclass(frozen=True)
class _Inputs:
    config_path: str
    config: Any                  # the PipelineConfig, its relative paths resolved
    label_map: str | None
    base_checkpoint: str | None


def _inputs(input_dict: dict[str, list[types.Artifact]]) -> _Inputs:
    """The config (file and parsed), the label map and the start model the input artifacts hold."""
    # pylint: disable-next=import-outside-toplevel
    from components.artifact_types import resolve_file
    from detection.training import train_settings  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel

    uris = {key: artifact_utils.get_single_uri(input_dict[key])
            for key in (PIPELINE_CONFIG_KEY, LABEL_MAP_KEY, BASE_MODEL_KEY) if input_dict.get(key)}
    config_path = resolve_file(uris[PIPELINE_CONFIG_KEY], PIPELINE_CONFIG_FILE)
    config = load_pipeline_config(config_path)
    train_settings.resolve_relative_paths(config.proto, config_path)
    label_map = (resolve_file(uris[LABEL_MAP_KEY], LABEL_MAP_FILE) if uris.get(LABEL_MAP_KEY)
                 else config.proto.train_input_reader.label_map_path)
    return _Inputs(config_path, config, label_map or None, uris.get(BASE_MODEL_KEY))


def job_train_args(inputs: _Inputs, parameters: TrainerParameters, train_files: list[str], eval_files: list[str],
                   model_dir: str, export_dir: str) -> list[str]:
    """The `detflow train` arguments that train what the in-process Trainer would, on a job's workers."""
    args = ["--config", inputs.config_path, "--train", ",".join(train_files), "--model-dir", model_dir,
            "--export-dir", export_dir]
    optional = {"--eval": ",".join(eval_files), "--label-map": inputs.label_map,
                "--base-checkpoint": inputs.base_checkpoint, "--num-steps": parameters.num_steps,
                "--batch-size": parameters.batch_size, "--checkpoint-every": parameters.checkpoint_every,
                "--precision": None if parameters.precision == "auto" else parameters.precision,
                "--bn-reestimate": None if parameters.bn_reestimate == "auto" else parameters.bn_reestimate,
                "--bn-reestimate-batches": parameters.bn_reestimate_batches}
    for flag, value in optional.items():
        if value:
            args += [flag, str(value)]
    return args + ([] if parameters.freeze_backbone else ["--train-backbone"])


def _train_as_job(input_dict: dict[str, list[types.Artifact]], parameters: TrainerParameters,
                  train_files: list[str], model_dir: str, export_dir: str):
    """`detflow train` on the workers of the parameters' training job, writing where the in-process Trainer
    writes (the paths must be ones every worker reaches: gs://, a shared volume); its train_result.json read
    back."""
    from components.trainer import job_runner  # pylint: disable=import-outside-toplevel
    from detection.training import train_result  # pylint: disable=import-outside-toplevel
    from schemas.problems import ProblemsError  # pylint: disable=import-outside-toplevel
    args = job_train_args(_inputs(input_dict), parameters, train_files, split_files(input_dict[EXAMPLES_KEY], EVAL),
                          model_dir, export_dir)
    result_file = os.path.join(model_dir, train_result.TRAIN_RESULT_FILE)
    try:
        job_runner.run_job(parameters.training_job, args, os.path.join(model_dir, "job_logs"),
                           logging.getLogger("detflow.train").info)
    except ProblemsError:
        # `detflow train` ends with 1 after writing an unhealthy model's result: the in-process Trainer records
        # such a model (the Evaluator refuses it), and so does a job.
        if not fileio.exists(result_file) or _read_result(result_file).healthy:
            raise
    return _read_result(result_file)


def _read_result(path: str):
    from detection.training import train_result  # pylint: disable=import-outside-toplevel
    with fileio.open(path) as f:
        return train_result.TrainResult.from_dict(json.load(f))


def record_on_artifact(model: types.Artifact, result) -> None:
    """A TrainResult's training stats, re-estimation, health and restore report as the Model's custom properties."""
    flat = result.to_dict()
    for key in MODEL_INT_PROPERTIES:
        if flat.get(key) is not None:
            model.set_int_custom_property(key, int(flat[key]))
    for key in MODEL_FLOAT_PROPERTIES:
        if flat.get(key) is not None:
            model.set_float_custom_property(key, float(flat[key]))
    if result.tflite:
        model.set_string_custom_property(TFLITE_VARIANTS_PROPERTY, json.dumps(result.tflite, sort_keys=True))
    if result.distribution.strategy:
        model.set_string_custom_property(STRATEGY_PROPERTY, result.distribution.strategy)
        model.set_string_custom_property(PRECISION_PROPERTY, result.distribution.precision)
    if result.batch_norm:
        model.set_int_custom_property(BN_REESTIMATED_PROPERTY, int(bool(result.batch_norm.get("done"))))
        model.set_string_custom_property(BN_REESTIMATION_PROPERTY, json.dumps(result.batch_norm, sort_keys=True))
    if result.health:
        model.set_int_custom_property(HEALTHY_PROPERTY, int(result.healthy))
        model.set_string_custom_property(HEALTH_PROPERTY, result.health.get("line", ""))
    if result.restore_report:
        _record_restore(model, result.restore_report)


def _record_restore(model: types.Artifact, report: dict) -> None:
    """The restore report (RestoreReport.to_dict()) as properties: the checkpoint, counts and modules."""
    model.set_string_custom_property(BASE_CHECKPOINT_PROPERTY, report.get("checkpoint", ""))
    model.set_string_custom_property(FINE_TUNE_CHECKPOINT_TYPE_PROPERTY, report.get("checkpoint_type", ""))
    model.set_int_custom_property(RESTORED_VARIABLES_PROPERTY, int(report.get("num_restored", 0)))
    model.set_int_custom_property(REINITIALIZED_VARIABLES_PROPERTY, len(report.get("reinitialized", [])))
    model.set_int_custom_property(UNUSED_VARIABLES_PROPERTY, len(report.get("unused", [])))
    for key, name in ((RESTORED_BY_MODULE_PROPERTY, "restored"), (REINITIALIZED_BY_MODULE_PROPERTY,
                                                                  "reinitialized_by_module"),
                      (UNUSED_BY_MODULE_PROPERTY, "unused_by_module")):
        model.set_string_custom_property(key, json.dumps(report.get(name, {}), sort_keys=True))
    if report.get("network_check"):
        model.set_string_custom_property(NETWORK_CHECK_PROPERTY, report["network_check"])
