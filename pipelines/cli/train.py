"""`detflow train`: fine-tune the detector a pipeline.config names, without the pipeline.

Exit codes: 0 done; 2 bad config, arguments or inputs (problems printed as
FILE:LINE:COL: message); 1 a checkpoint that does not fit or another training
failure reported as a message, never a stack trace.
"""

from __future__ import annotations

import logging
import os
import sys

from pipelines.cli.errors import print_problems
from schemas.problems import Problem, ProblemsError

MODEL_DIR_LOCK = ".detflow-train.lock"


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment a record is emitted, not of the moment it was made.

    A handler bound to one stream keeps writing to it after a caller (a test, contextlib's
    redirect_stderr) has swapped and closed it, and logging then prints its own traceback.
    """

    def emit(self, record):
        self.stream = sys.stderr
        super().emit(record)


def setup_logging() -> None:
    """Sends the `detflow` logger's progress lines (time, message) to stderr; keeps TF's own C++ logs to warnings."""
    logger = logging.getLogger("detflow")
    if not any(isinstance(h, _CurrentStderrHandler) for h in logger.handlers):
        handler = _CurrentStderrHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train(args) -> int:
    """Handler of `detflow train`: fine-tune the detector a pipeline.config names."""
    setup_logging()
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel
    config = load_pipeline_config(args.config)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from detection.training import train_loop, train_settings  # pylint: disable=import-outside-toplevel
    train_settings.resolve_relative_paths(config.proto, args.config)
    label_map = getattr(args, "label_map", None) or config.proto.train_input_reader.label_map_path
    if getattr(args, "label_map", None) and not os.path.exists(label_map):
        print_problems([Problem(label_map, "--label-map: no such file")])
        return 2
    if not label_map or not os.path.exists(label_map):
        from schemas.config_paths import candidates  # pylint: disable=import-outside-toplevel
        looked = " or ".join(candidates(label_map, args.config)) if label_map else "(empty)"
        print_problems([Problem(args.config, f"train_input_reader.label_map_path: no file at {looked}")])
        return 2

    config_train, config_eval, _ = train_settings.inputs_from_config(config.proto)
    train_files = args.train or config_train
    if not train_files:
        print_problems([Problem(args.config, "train_input_reader.tf_record_input_reader.input_path: empty; "
                                 "give the training TFRecords there or with --train")])
        return 2
    eval_files = getattr(args, "eval", None)
    if eval_files is None and config_eval:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        if all(tf.io.gfile.glob(p) for p in config_eval.split(",")):
            eval_files = config_eval
        else:
            print(f"warning: {args.config}: eval_input_reader input_path {config_eval!r} matches no files: "
                  "no eval loss (give --eval)", file=sys.stderr)
    from components.common import file_lock  # pylint: disable=import-outside-toplevel
    from detection.training import strategy as strategy_lib  # pylint: disable=import-outside-toplevel
    try:
        role = strategy_lib.tf_config_role()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The workers of one cluster share the model dir; each holds a lock of its own in it.
    lock = MODEL_DIR_LOCK if role.is_chief else f".detflow-train-{role.task_type}-{role.task_id}.lock"
    with file_lock.exclusive(args.model_dir, lock) as holder:
        if holder is not None:
            print(f"error: {args.model_dir}: another detflow train is using this model dir ({holder}); "
                  "wait for it or give another --model-dir", file=sys.stderr)
            return 2
        return _train_locked(args, config, train_files, eval_files, label_map, train_loop)


def _train_locked(args, config, train_files, eval_files, label_map, train_loop) -> int:
    try:
        from detection.training import train_result  # pylint: disable=import-outside-toplevel
        from detection.training.train_settings import BnReestimation, TrainJob  # pylint: disable=import-outside-toplevel
        from detection.training import strategy as strategy_lib  # pylint: disable=import-outside-toplevel
        strategy = strategy_lib.build_strategy(getattr(args, "strategy", "auto"), tpu=getattr(args, "tpu", ""))
        result = train_loop.train(config, TrainJob(
            train_files, eval_files, args.model_dir, num_steps=args.num_steps, batch_size=args.batch_size,
            label_map_path=label_map, base_checkpoint=getattr(args, "base_checkpoint", None),
            export_dir=getattr(args, "export_dir", None), checkpoint_every=getattr(args, "checkpoint_every", None),
            freeze_backbone=not getattr(args, "train_backbone", False),
            seed=getattr(args, "seed", 0), log_every=getattr(args, "log_every", 10), bn_reestimation=BnReestimation(
                getattr(args, "bn_reestimate", "auto"), getattr(args, "bn_reestimate_batches", None))), strategy,
            precision=getattr(args, "precision", "auto"))
        if not result.distribution.chief:
            print(f"{result.distribution.worker}: trained steps {result.start_step}->{result.steps}; the chief writes "
                  f"{args.model_dir}")
            return 0
        train_result.write_result(result, args.model_dir)
    except ProblemsError as error:
        print_problems(error.problems)
        return 1
    except ValueError as error:  # missing input files, bad regexes, impossible schedule values
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"trained steps {result.start_step}->{result.steps}: loss {result.losses.final_loss:.4f}, "
          f"{result.throughput.images_per_sec:.1f} images/s"
          + (f", {result.distribution.precision}" if result.distribution.precision != "float32" else "")
          + (f", eval loss {result.losses.eval_loss:.4f}" if result.losses.eval_loss is not None else ""))
    if result.boxes.boxes_dropped:
        print(f"note: {result.boxes.boxes_dropped} boxes beyond max_number_of_boxes="
              f"{result.boxes.max_number_of_boxes} were left out")
    print(f"model dir: {result.paths.model_dir}\nexport: {result.paths.export_dir}")
    if not result.healthy:
        print(f"error: {result.health['line']} (the export is kept for inspection; the Evaluator would not "
              "bless it)", file=sys.stderr)
        return 1
    return 0
