"""The inputs of `detflow run` and `detflow demo`, found and checked before anything is written.

`resolve_inputs` fills what the user left to the pipeline.config (the label map,
the fine-tune checkpoint) and the defaults (push destination, the runner's Beam
args), reading the config at most once and only when a value is needed from it,
so a run whose every input was given meets the run lock before any config error.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Optional

from pipelines import configs
from pipelines.cli.errors import UserError
from pipelines.settings import PipelineSettings


class _ConfigFile:
    """The run's pipeline.config, parsed at most once, and only when a value is needed from it."""

    def __init__(self, path: str):
        self.path = path

    @functools.cached_property
    def loaded(self):
        """The parsed config (schemas.pipeline_config.PipelineConfig); ProblemsError names file and line."""
        from schemas.pipeline_config import load_pipeline_config

        return load_pipeline_config(self.path)

    def label_map(self) -> Optional[str]:
        """train_input_reader.label_map_path by `schemas.config_paths`' rule (as given, else beside the config)."""
        from schemas import config_paths

        value = config_paths.resolve(self.loaded.proto.train_input_reader.label_map_path, self.path)
        return os.path.abspath(value) if value and "://" not in value else value or None

    def checkpoint_folder(self) -> Optional[str]:
        """The folder of train_config.fine_tune_checkpoint (a Keras file: the file), by the same rule; or None."""
        from schemas import checkpoint_paths

        path = checkpoint_paths.resolve(self.loaded.proto.train_config.fine_tune_checkpoint, self.path)
        if not path:
            return None
        if "://" not in path:
            path = os.path.abspath(path)
        return path if os.path.isdir(path) or checkpoint_paths.is_keras_file(path) else os.path.dirname(path)


def _check_label_map(path: str, config: Optional[_ConfigFile]) -> None:
    """Parses the label map before anything is copied into the root; names the config line it came from."""
    from schemas.label_map import load_label_map
    from schemas.problems import Problem, ProblemsError

    try:
        load_label_map(path)
    except ProblemsError as error:
        if config is None:
            raise
        line, col = config.loaded.position("train_input_reader.label_map_path")
        raise ProblemsError([Problem(config.path, f"train_input_reader.label_map_path: {path} is not a label map: "
                                                  f"{error.problems[0]}", line, col)]) from None


def job_platform(args):
    """The --job-* flags as a JobPlatform (None without --job-target); UserError for one no job could run with."""
    if not getattr(args, "job_target", None):
        return None
    from components.trainer.training_jobs import JobPlatform  # pylint: disable=import-outside-toplevel
    platform = JobPlatform(args.job_target, args.job_workers, args.job_image, args.job_machine_type,
                           args.job_accelerator, args.job_accelerator_count, args.job_project, args.job_region,
                           args.job_namespace)
    try:
        platform.check()
    except ValueError as error:
        raise UserError(f"--job-*: {error}") from None
    return platform


def check_quantization_gate(settings: PipelineSettings) -> None:
    """UserError unless --max-quantization-drop has an int8 model to judge."""
    if settings.evaluation.max_quantization_drop is not None and "int8" not in settings.training.tflite:
        raise UserError("--max-quantization-drop: needs an int8 model to judge: add --tflite int8 "
                        "(e.g. --tflite none,int8)")


def _check_tflite(config: _ConfigFile, settings: PipelineSettings) -> None:
    """Before anything runs: the TFLite flags make sense, and the model can be a TFLite one."""
    check_quantization_gate(settings)
    if settings.training.tflite:
        from detection.serving.tflite_export import check_config_exportable

        check_config_exportable(config.loaded.proto, f"--tflite: {config.path}")


def resolve_inputs(settings: PipelineSettings, runner: str = "local") -> PipelineSettings:
    """The settings with every input found and checked before anything is written.

    Fills the label map and the fine-tune checkpoint from the pipeline.config when
    the user gave none (the checkpoint defaults to the embedded one), the push
    destination and the runner's Beam args; raises UserError / ProblemsError
    naming the missing or malformed input. The config is parsed at most once.
    """
    from components.trainer import base_checkpoint as embedded
    from detection.outputs import writable_dir

    root = writable_dir(settings.root, "--root")
    data = settings.data
    for path, what in ((settings.config_path, "pipeline.config"), (data.annotations, "annotations"),
                       (data.images, "images")):
        if "{SPAN}" not in path and not os.path.exists(path):
            raise UserError(f"{path}: {what} not found")
    config = _ConfigFile(settings.config_path)
    label_map = settings.label_map_path or config.label_map()
    if not label_map or not os.path.exists(label_map):
        if label_map and not settings.label_map_path:
            from schemas.config_paths import candidates

            value = config.loaded.proto.train_input_reader.label_map_path
            label_map = " or ".join(candidates(value, config.path))
        raise UserError(f"{label_map or config.path}: no label map (pass --label-map or set "
                        "train_input_reader.label_map_path in the config)")
    _check_label_map(label_map, None if settings.label_map_path else config)
    checkpoint = settings.base_checkpoint or config.checkpoint_folder() or str(embedded.CHECKPOINT_DIR)
    if "://" not in checkpoint and not os.path.exists(checkpoint):
        raise UserError(f"{checkpoint}: fine-tune checkpoint not found")
    _check_tflite(config, settings)
    if settings.champion and "://" not in settings.champion and not os.path.exists(settings.champion):
        raise UserError(f"{settings.champion}: --champion model not found")
    push_to = writable_dir(settings.push_to or os.path.join(root, configs.PUSH_DIR), "--push-to")
    return dataclasses.replace(settings, root=root, label_map_path=label_map, base_checkpoint=checkpoint,
                               push_to=push_to,
                               beam_args=tuple(settings.beam_args or configs.default_beam_args(runner)))
