"""`detflow train` and `detflow init` (arguments are declared in pipelines/cli.py).

Exit codes: 0 done; 2 bad config, arguments or inputs (problems printed as
FILE:LINE:COL: message); 1 a checkpoint that does not fit or another training
failure reported as a message, never a stack trace.
"""

from __future__ import annotations

import logging
import os
import pathlib
import sys

from schemas.problems import Problem, ProblemsError

# Demo-sized fine-tuning defaults `detflow init` writes (measured: see base_checkpoint/PROVENANCE.md).
INIT_NUM_STEPS = 600
INIT_BATCH_SIZE = 16
INIT_LEARNING_RATE = 0.004
INIT_WARMUP_STEPS = 50
MODEL_DIR_LOCK = ".detflow-train.lock"


def _print_problems(problems) -> None:
    for p in problems:
        print(f"error: {p}", file=sys.stderr)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment a record is emitted, not of the moment it was made.

    A handler bound to one stream keeps writing to it after a caller (a test, contextlib's
    redirect_stderr) has swapped and closed it, and logging then prints its own traceback.
    """

    def emit(self, record):
        self.stream = sys.stderr
        super().emit(record)


def _setup_logging() -> None:
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
    _setup_logging()
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel
    try:
        config = load_pipeline_config(args.config)
    except ProblemsError as error:
        _print_problems(error.problems)
        return 2
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from components.trainer import train_loop, train_settings  # pylint: disable=import-outside-toplevel
    train_settings.resolve_relative_paths(config.proto, args.config)
    label_map = config.proto.train_input_reader.label_map_path
    if not label_map or not os.path.exists(label_map):
        _print_problems([Problem(args.config, "train_input_reader.label_map_path: "
                                 f"{label_map or '(empty)'} does not exist")])
        return 2

    config_train, config_eval, _ = train_settings.inputs_from_config(config.proto)
    train_files = args.train or config_train
    if not train_files:
        _print_problems([Problem(args.config, "train_input_reader.tf_record_input_reader.input_path: empty; "
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
    with file_lock.exclusive(args.model_dir, MODEL_DIR_LOCK) as holder:
        if holder is not None:
            print(f"error: {args.model_dir}: another detflow train is using this model dir ({holder}); "
                  "wait for it or give another --model-dir", file=sys.stderr)
            return 2
        return _train_locked(args, config, train_files, eval_files, label_map, train_loop)


def _train_locked(args, config, train_files, eval_files, label_map, train_loop) -> int:
    try:
        from components.trainer.train_settings import TrainJob  # pylint: disable=import-outside-toplevel
        result = train_loop.train(config, TrainJob(
            train_files, eval_files, args.model_dir, num_steps=args.num_steps, batch_size=args.batch_size,
            label_map_path=label_map, checkpoint_every=getattr(args, "checkpoint_every", None),
            freeze_backbone=not getattr(args, "train_backbone", False)))
        train_loop.write_result(result, args.model_dir)
    except ProblemsError as error:
        _print_problems(error.problems)
        return 1
    except ValueError as error:  # missing input files, bad regexes, impossible schedule values
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"trained steps {result.start_step}->{result.steps}: loss {result.final_loss:.4f}, "
          f"{result.images_per_sec:.1f} images/s"
          + (f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else ""))
    if result.boxes_dropped:
        print(f"note: {result.boxes_dropped} boxes beyond max_number_of_boxes="
              f"{result.max_number_of_boxes} were left out")
    print(f"model dir: {result.model_dir}\nexport: {result.export_dir}")
    return 0


def export(args) -> int:
    """Handler of `detflow export`: a SavedModel (re-exported from the checkpoint) or a .tflite file."""
    _setup_logging()
    from components.common.outputs import writable_dir, writable_file  # pylint: disable=import-outside-toplevel
    from components.trainer import tflite_export  # pylint: disable=import-outside-toplevel
    try:
        if args.format == "tflite":
            if args.quantize == "int8" and not args.representative_data:
                raise ProblemsError([Problem("--representative-data", "int8 needs images to calibrate on: give "
                                             "TFRecords of the train split")])
            out = writable_file(args.out, "--out")
            result = tflite_export.export_tflite(args.model, out, args.quantize, args.representative_data,
                                                 args.representative_size)
            calibrated = f", calibrated on {result.representative_images} images" if result.quantize == "int8" else ""
            print(f"wrote {result.path} ({result.quantize}{calibrated}; {result.size_bytes / 1e6:.2f} MB; input "
                  f"{result.input_dtype} {result.input_shape})")
            for note in result.notes:
                print(f"note: {note}")
            return 0
        if args.quantize != "none":
            raise ProblemsError([Problem("--quantize", "quantization is for --format tflite")])
        from components.trainer import export as export_lib, restore  # pylint: disable=import-outside-toplevel
        writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")
        bundle, text = tflite_export.load_export(args.model)
        out = export_lib.export_saved_model(bundle, export_lib.find_label_map(args.model), text,
                                            restore.find_checkpoint(args.model), args.out)
        print(f"wrote {out}")
        return 0
    except ProblemsError as error:
        _print_problems(error.problems)
        return 2


def init(args) -> int:
    """Handler of `detflow init DIR --classes a,b,c`: a ready-to-run config from the embedded checkpoint."""
    from components.trainer import base_checkpoint as base  # pylint: disable=import-outside-toplevel
    from schemas.label_map import write_label_map  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if not classes:
        _print_problems([Problem("--classes", "give at least one class name, e.g. --classes cat,dog")])
        return 2
    if len(set(classes)) != len(classes):
        _print_problems([Problem("--classes", f"class names repeat: {args.classes}")])
        return 2
    if not pathlib.Path(base.checkpoint_prefix() + ".index").exists():
        _print_problems([Problem(str(base.CHECKPOINT_DIR), "the embedded checkpoint is missing; make it with "
                                 "python -m tools.make_base_checkpoint")])
        return 1
    out = pathlib.Path(args.dir).resolve()
    config_path, label_map_path = out / "pipeline.config", out / "label_map.pbtxt"
    existing = [str(p) for p in (config_path, label_map_path) if p.exists()]
    if existing:
        _print_problems([Problem(p, "already exists; not overwritten") for p in existing])
        return 1
    out.mkdir(parents=True, exist_ok=True)
    try:
        write_label_map(classes, label_map_path)
    except ProblemsError as error:
        _print_problems(error.problems)
        return 2
    text = base.render_config(base.ConfigOptions(
        num_classes=len(classes), label_map_path=str(label_map_path),
        train_input_path=str(out / "records" / "Split-train" / "*"),
        eval_input_path=str(out / "records" / "Split-eval" / "*"),
        num_steps=INIT_NUM_STEPS, batch_size=INIT_BATCH_SIZE, learning_rate_base=INIT_LEARNING_RATE,
        warmup_steps=INIT_WARMUP_STEPS, fine_tune_checkpoint=base.checkpoint_prefix(),
        fine_tune_checkpoint_type="detection",
        comment=(f"Written by `detflow init` for classes {', '.join(classes)}: fine-tunes the embedded "
                 f"{base.NAME}\ncheckpoint (its provenance: {base.CHECKPOINT_DIR / 'PROVENANCE.md'}).\n"
                 "Type 'detection' restores backbone, FPN and box head; the class head is re-initialised "
                 "when num_classes differs.")))
    parse_pipeline_config_text(text, str(config_path))  # the template must stay valid
    config_path.write_text(text, encoding="utf-8")
    print(f"wrote {config_path}\nwrote {label_map_path}\nnext:\n"
          f"  detflow convert --format coco --annotations ANNOTATIONS.json --images IMAGES_DIR "
          f"--label-map {label_map_path} --out {out / 'records'}\n"
          f"  detflow train --config {config_path} --train '{out / 'records/Split-train/*'}' "
          f"--eval '{out / 'records/Split-eval/*'}' --model-dir {out / 'model'}")
    return 0
