"""`detflow config check` and `detflow label-map check` (no TensorFlow imported)."""

from __future__ import annotations

from pipelines.cli.errors import print_problems
from schemas.problems import ProblemsError


def _print_warnings(warnings) -> None:
    if warnings:
        print(f"{len(warnings)} warning(s):")
        for warning in warnings:
            print(f"  warning: {warning}")


def config_check(args) -> int:
    """Validates `args.config`: prints a summary and warnings (exit 0) or every problem (exit 2)."""
    from schemas.pipeline_config import load_pipeline_config

    try:
        config = load_pipeline_config(args.config)
    except ProblemsError as error:
        return print_problems(error.problems, prefix="")
    from schemas.config_summary import format_summary
    summary = config.summary()
    summary["training here"] = _distribution_here()
    summary["precision"] = _precision(config.proto.train_config.use_bfloat16)
    print(f"{config.path}: OK")
    print(format_summary(summary))
    _print_warnings(config.warnings)
    return 0


def _distribution_here() -> str:
    """How `detflow train --strategy auto` would spread training in this environment (TF_CONFIG; no TF import)."""
    from detection.training import strategy as strategy_lib
    try:
        role = strategy_lib.tf_config_role()
    except ValueError as error:
        return f"TF_CONFIG unusable: {error}"
    if role.num_workers > 1:
        return f"MultiWorkerMirroredStrategy, {role.describe()} (TF_CONFIG)"
    return "one process (no cluster in TF_CONFIG): Mirrored over the GPUs when there are several, else one device"


def _precision(use_bfloat16: bool) -> str:
    """The dtype policy `detflow train --precision auto` would train with (training/precision.py)."""
    if use_bfloat16:
        return ("mixed_bfloat16 on a TPU (--tpu; train_config.use_bfloat16), else float32 "
                "(--precision / --mixed-precision to choose)")
    return "float32 (--precision / --mixed-precision to choose)"


def label_map_check(args) -> int:
    """Validates `args.label_map` (against `args.config` if given): exit 0 with warnings, or 2 with every problem."""
    from schemas.label_map import check_against_config, load_label_map
    from schemas.label_map_validation import keypoint_task_errors
    from schemas.pipeline_config import load_pipeline_config

    problems, warnings = [], []
    label_map = config = None
    try:
        label_map = load_label_map(args.label_map)
        warnings += label_map.warnings
    except ProblemsError as error:
        problems += error.problems
    if getattr(args, "config", None):
        try:
            config = load_pipeline_config(args.config)
        except ProblemsError as error:
            problems += error.problems
    if label_map is not None and config is not None:
        problems += check_against_config(label_map, config) + keypoint_task_errors(label_map, config)
    if problems:
        return print_problems(problems, prefix="")
    ids = "" if label_map.contiguous else f" (ids {', '.join(str(i.id) for i in label_map.items)})"
    print(f"{label_map.num_classes} classes{ids}: {', '.join(label_map.names)}")
    _print_warnings(warnings)
    return 0
