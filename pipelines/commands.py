"""Handlers of the pipeline sub-commands: run, demo, runs, lineage, compile.

Each takes the argparse Namespace and returns the exit code: 0 success, 1 a node
failed (named, with its error; the full trace goes to `<root>/logs/`), 2 a user
error (missing file, bad config, root locked), printed without a stack trace.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import os
import sys
import time
import traceback
from typing import TYPE_CHECKING, Optional

from pipelines import configs

if TYPE_CHECKING:  # importing the settings imports TFX: only once _quiet() has run
    from pipelines.settings import PipelineSettings

DEMO_NUM_IMAGES = 1000
DEMO_IMAGE_SIZE = 128
DEMO_SEED = 0
# Learning rate and warm-up as `detflow init` writes them (components/trainer/commands.py INIT_*);
# more images and steps than init's defaults, measured to reach the demo's mAP target.
DEMO_NUM_STEPS = 1000
DEMO_BATCH_SIZE = 16
# The demo data is small: training the backbone too generalises better than heads alone.
DEMO_TRAIN_BACKBONE = True
# The demo's blessing gate (COCO mAP@[.5:.95] on its eval split; it reaches about 0.38), so a
# run that trained badly is not pushed.
DEMO_MIN_MAP = 0.25


class UserError(Exception):
    """A problem with what the user asked for: printed as is, exit 2."""


def _quiet() -> None:
    """Keeps TensorFlow / TFX / Beam chatter off the terminal; errors stay, node failures are reported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("apache_beam").setLevel(logging.ERROR)


def _exit_on_user_error(func):
    def wrapper(args) -> int:
        _quiet()
        try:
            return func(args)
        except UserError as exc:
            print(f"detflow {args.command}: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # ProblemsError, missing files, a held lock
            from pipelines.lineage import LineageError
            from pipelines.lock import RunLockedError
            from schemas.problems import ProblemsError

            if isinstance(exc, (ProblemsError, FileNotFoundError, RunLockedError, LineageError)):
                print(f"detflow {args.command}: {exc}", file=sys.stderr)
                return 2
            raise
    wrapper.__doc__ = func.__doc__
    wrapper.__name__ = func.__name__
    return wrapper


class _ConfigFile:
    """The run's pipeline.config, parsed at most once, and only when a value is needed from it."""

    def __init__(self, path: str):
        self.path = path

    @functools.cached_property
    def loaded(self):
        """The parsed config (schemas.pipeline_config.PipelineConfig); ProblemsError names file and line."""
        from schemas.pipeline_config import load_pipeline_config

        return load_pipeline_config(self.path)

    def path_field(self, value: str) -> Optional[str]:
        """A path the config names, relative to the config's folder unless absolute; None when empty."""
        if value and not os.path.isabs(value):
            value = os.path.join(os.path.dirname(os.path.abspath(self.path)), value)
        return value or None


def _checkpoint_folder(config: _ConfigFile) -> Optional[str]:
    """The folder of the config's train_config.fine_tune_checkpoint, if it names one."""
    path = config.path_field(config.loaded.proto.train_config.fine_tune_checkpoint)
    if path is None:
        return None
    return path if os.path.isdir(path) else os.path.dirname(path)


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


def _check_quantization_gate(settings: PipelineSettings) -> None:
    """--max-quantization-drop has an int8 model to judge."""
    if settings.evaluation.max_quantization_drop is not None and "int8" not in settings.training.tflite:
        raise UserError("--max-quantization-drop: needs an int8 model to judge: add --tflite int8 "
                        "(e.g. --tflite none,int8)")


def _check_tflite(config: _ConfigFile, settings: PipelineSettings) -> None:
    """Before anything runs: the TFLite flags make sense, and the model can be a TFLite one."""
    _check_quantization_gate(settings)
    if settings.training.tflite:
        from components.trainer.tflite_export import check_config_exportable

        check_config_exportable(config.loaded.proto, f"--tflite: {config.path}")


def resolve_inputs(settings: PipelineSettings, runner: str = "local") -> PipelineSettings:
    """The settings with every input found and checked before anything is written.

    Fills the label map and the fine-tune checkpoint from the pipeline.config when
    the user gave none (the checkpoint defaults to the embedded one), the push
    destination and the runner's Beam args; raises UserError / ProblemsError
    naming the missing or malformed input. The config is parsed at most once.
    """
    from components.common.outputs import writable_dir
    from components.trainer import base_checkpoint as embedded

    root = writable_dir(settings.root, "--root")
    data = settings.data
    for path, what in ((settings.config_path, "pipeline.config"), (data.annotations, "annotations"),
                       (data.images, "images")):
        if "{SPAN}" not in path and not os.path.exists(path):
            raise UserError(f"{path}: {what} not found")
    config = _ConfigFile(settings.config_path)
    label_map = settings.label_map_path or config.path_field(config.loaded.proto.train_input_reader.label_map_path)
    if not label_map or not os.path.exists(label_map):
        raise UserError(f"{label_map or config.path}: no label map (pass --label-map or set "
                        "train_input_reader.label_map_path in the config)")
    _check_label_map(label_map, None if settings.label_map_path else config)
    checkpoint = settings.base_checkpoint or _checkpoint_folder(config) or str(embedded.CHECKPOINT_DIR)
    if "://" not in checkpoint and not os.path.exists(checkpoint):
        raise UserError(f"{checkpoint}: fine-tune checkpoint not found")
    _check_tflite(config, settings)
    push_to = writable_dir(settings.push_to or os.path.join(root, configs.PUSH_DIR), "--push-to")
    return dataclasses.replace(settings, root=root, label_map_path=label_map, base_checkpoint=checkpoint,
                               push_to=push_to,
                               beam_args=tuple(settings.beam_args or configs.default_beam_args(runner)))


def execute(settings: PipelineSettings, runner: str = "local", out=None):
    """Runs the pipeline `settings` describe under the run lock; returns (exit code, RunSummary or None).

    The inputs are resolved and checked first (`resolve_inputs`). Progress and the
    run's report go to `out` (default: the current sys.stdout).
    """
    out = out or sys.stdout
    _quiet()
    from pipelines import lock, pipeline, run_report, runners

    settings = resolve_inputs(settings, runner)
    root, name = settings.root, settings.name
    with lock.run_lock(root):
        dsl = pipeline.create_pipeline(settings)
        print(f"running pipeline {name} on {root} ({runner} runner)", file=out, flush=True)
        started = time.time()
        failure = None
        try:
            runners.run(dsl, runner)
        except Exception as exc:  # a node failed: report it from MLMD, keep the trace in logs/
            failure = exc
            log = _write_trace(root)
        store = run_report.open_store(root)
        summary = run_report.latest_run(store, name)
    if summary is not None and failure is not None:  # TFX left the node that raised RUNNING; the run is over
        lines = str(failure).strip().splitlines()
        run_report.settle_run(summary, log, error=lines[-1] if lines else type(failure).__name__)
    if summary is not None:
        print(run_report.format_run(summary), file=out)
    print(f"wall time {time.time() - started:.1f}s", file=out)
    failed = [n for n in (summary.nodes if summary else []) if n.state == "failed"]
    if failure is not None or failed:
        node = failed[0].node_id if failed else "the pipeline"
        message = (str(failure) if failure is not None else failed[0].error).strip().splitlines()
        where = f"\n  full trace: {log}" if failure is not None else ""
        # A multi-line error (the label map validation's list of problems) is printed whole.
        first = message[0] if len(message) > 1 else (message[-1] if message else type(failure).__name__)
        rest = "".join(f"\n  {line.strip()}" for line in message[1:20]) if len(message) > 1 else ""
        print(f"detflow run: {node} failed: {first}{rest}{where}", file=sys.stderr)
        return 1, summary
    return 0, summary


def _write_trace(root: str) -> str:
    logs = os.path.join(root, configs.LOGS_DIR)
    os.makedirs(logs, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(logs, f"run-{stamp}.log")
    with open(path, "w") as fh:
        fh.write(traceback.format_exc())
    return path


@_exit_on_user_error
def run(args) -> int:
    """`detflow run`: the pipeline on the user's data; prints per node ran/cached, metrics, blessing, push."""
    code, _ = execute(run_settings(args), runner=args.runner)
    return code


def run_settings(args) -> PipelineSettings:
    """The settings of `detflow run` from its command line (label map and checkpoint left to the config if unset)."""
    from components.trainer.component import TrainerParameters
    from pipelines.pipeline_inputs import DataSource
    from pipelines.settings import PipelineSettings, blessing_gate

    share = args.max_dropped_boxes
    data = DataSource(format=args.format, annotations=args.annotations, images=args.images,
                      eval_percent=args.eval_percent, strict=args.strict,
                      max_dropped_box_share=configs.MAX_DROPPED_BOX_SHARE if share is None else share,
                      allow_empty_classes=args.allow_empty_classes)
    training = TrainerParameters(num_steps=args.num_steps, batch_size=args.batch_size,
                                 freeze_backbone=not args.train_backbone, tflite=tuple(args.tflite or ()),
                                 tflite_representative_size=args.representative_size)
    return PipelineSettings(
        root=args.root, data=data, config_path=args.config, label_map_path=args.label_map,
        base_checkpoint=args.base_checkpoint, push_to=args.push_to,
        evaluation=blessing_gate(args.min_map, args.max_regression, args.max_quantization_drop),
        training=training, warm_start=args.warm_start, enable_cache=not args.no_cache,
        beam_args=tuple(args.beam_arg or ()))


def prepare_demo(workdir: str, num_images: int = DEMO_NUM_IMAGES, image_size: int = DEMO_IMAGE_SIZE,
                 num_steps: int = DEMO_NUM_STEPS, batch_size: int = DEMO_BATCH_SIZE):
    """Generates the demo data (once: same seed, same bytes) and its config; returns (data dir, config path)."""
    import sample_data

    data_dir = os.path.join(workdir, "data")
    stamp = os.path.join(data_dir, "generated.json")
    recipe = {"num_images": num_images, "image_size": image_size, "seed": DEMO_SEED,
              "classes": list(sample_data.DEMO_CLASSES)}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == recipe):
        sample_data.generate(data_dir, num_images=num_images, image_size=(image_size, image_size),
                                       seed=DEMO_SEED)
        with open(stamp, "w") as fh:
            json.dump(recipe, fh)
    config_dir = os.path.join(workdir, "config")
    config = write_config(config_dir, sample_data.DEMO_CLASSES, num_steps=num_steps, batch_size=batch_size)
    return data_dir, config


def write_config(config_dir: str, classes, num_steps: int, batch_size: int) -> str:
    """Writes `pipeline.config` + `label_map.pbtxt` in `config_dir` fine-tuning the embedded checkpoint.

    Written only when the content changes, so an unchanged demo re-run keeps the file
    (and the pipeline's cache). Returns the config path.
    """
    from components.trainer import base_checkpoint
    from components.trainer.commands import INIT_LEARNING_RATE, INIT_WARMUP_STEPS
    import sample_data

    os.makedirs(config_dir, exist_ok=True)
    label_map = os.path.join(config_dir, "label_map.pbtxt")
    text = base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=len(classes), label_map_path=label_map,
        train_input_path="(the pipeline feeds the ExampleGen's train split)",
        eval_input_path="(the pipeline feeds the ExampleGen's eval split)",
        num_steps=num_steps, batch_size=batch_size, learning_rate_base=INIT_LEARNING_RATE,
        warmup_steps=max(1, min(INIT_WARMUP_STEPS, num_steps // 10)), fine_tune_checkpoint=base_checkpoint.checkpoint_prefix(),
        comment="detflow demo: fine-tune the embedded checkpoint to the sample classes"))
    for path, content in ((label_map, sample_data.label_map_text(classes)),
                          (os.path.join(config_dir, "pipeline.config"), text)):
        if not (os.path.exists(path) and open(path).read() == content):
            with open(path, "w") as fh:
                fh.write(content)
    return os.path.join(config_dir, "pipeline.config")


@_exit_on_user_error
def demo(args) -> int:
    """`detflow demo`: sample data + embedded checkpoint → the whole pipeline, in `--workdir`."""
    from components.trainer.component import TrainerParameters
    from pipelines.pipeline_inputs import DataSource
    from pipelines.settings import PipelineSettings, blessing_gate

    from components.common.outputs import writable_dir

    workdir = writable_dir(args.workdir, "--workdir")
    def given(name, default):
        value = getattr(args, name, None)
        return default if value is None else value

    data_dir, config = prepare_demo(workdir, given("num_images", DEMO_NUM_IMAGES), given("image_size", DEMO_IMAGE_SIZE),
                                    given("num_steps", DEMO_NUM_STEPS))
    data = DataSource(format="coco", annotations=os.path.join(data_dir, "annotations.json"),
                      images=os.path.join(data_dir, "images"))
    label_map = os.path.join(os.path.dirname(config), "label_map.pbtxt")
    settings = PipelineSettings(
        root=workdir, data=data, config_path=config,
        label_map_path=label_map if os.path.exists(label_map) else None,
        push_to=os.path.join(workdir, configs.PUSH_DIR),
        evaluation=blessing_gate(DEMO_MIN_MAP if args.min_map is None else args.min_map,
                                 max_quantization_drop=args.max_quantization_drop),
        training=TrainerParameters(freeze_backbone=args.frozen_backbone or not DEMO_TRAIN_BACKBONE,
                                   tflite=tuple(args.tflite or ()),
                                   tflite_representative_size=args.representative_size))
    code, summary = execute(settings, runner=args.runner)
    if code == 0 and summary is not None and summary.pushed:
        print(f"\nthe fine-tuned detector: {summary.pushed}\n"
              f"  try: detflow predict --model {summary.pushed} {data_dir}/images/000000.png --out predictions")
    return code


@_exit_on_user_error
def runs(args) -> int:
    """`detflow runs`: past runs from ML Metadata with status, metrics, blessing, pushed version.

    A failed run names its failing node and error (the error from `<root>/logs/`,
    where `detflow run` keeps the trace); a run that stopped early names what it never ran.
    """
    _quiet()
    from pipelines import run_report

    root = os.path.abspath(args.root)
    store = run_report.open_store(root)
    found = run_report.list_runs(store, getattr(args, "pipeline_name", configs.PIPELINE_NAME))
    run_report.settle_runs(found, root)
    if args.json:
        print(json.dumps([r.to_json() for r in found], indent=2, default=str))
        return 0
    if not found:
        print(f"no runs recorded under {args.root}")
        return 0
    print(f"{'run':<28} {'started (UTC)':<20} {'status':<10} {'ran':>3} {'cached':>6} {'mAP@.5':>7} "
          f"{'blessed':<7} pushed version")
    for r in found:
        print(_run_row(r, run_report.PRIMARY_METRIC))
        for line in _run_notes(r):
            print(f"  {line}")
    return 0


def _run_row(r, metric: str) -> str:
    """One `detflow runs` table row."""
    started = datetime.datetime.fromtimestamp(r.started_ms / 1000, datetime.timezone.utc)
    ran = sum(n.state == "ran" for n in r.nodes)
    cached = sum(n.state == "cached" for n in r.nodes)
    m = r.metrics.get(metric)
    blessed = "-" if r.blessed is None else ("yes" if r.blessed else "no")
    pushed = r.pushed_version or (f"({os.path.basename(r.already_pushed)}, already)" if r.already_pushed else "-")
    return (f"{r.run_id[:28]:<28} {started:%Y-%m-%d %H:%M:%S}  {r.status:<10} {ran:>3} {cached:>6} "
            f"{'-' if m is None else f'{m:.4f}':>7} {blessed:<7} {pushed}")


def _run_notes(r) -> list:
    """The lines under a failed or stopped run's row: the failing node and its error, or what never ran."""
    notes = []
    failed = r.failed_node
    if failed is not None:
        error = failed.error.strip().splitlines()
        notes.append(f"failed at {failed.node_id}: {error[0][:200] if error else '(no error recorded)'}")
        notes += [f"  {line.strip()[:200]}" for line in error[1:4]]
        if r.failure_log:
            notes.append(f"full trace: {r.failure_log}")
    elif r.status == "incomplete":
        notes.append(f"stopped early: {r.stopped_at}")
    return notes


@_exit_on_user_error
def lineage(args) -> int:
    """`detflow lineage`: an artifact's upstream or downstream lineage from ML Metadata."""
    _quiet()
    from pipelines import lineage as lineage_lib
    from pipelines import run_report

    store = run_report.open_store(os.path.abspath(args.root))
    artifact = lineage_lib.find_artifact(store, args.artifact)
    graph = lineage_lib.trace(store, artifact, args.direction)
    print(lineage_lib.render(graph, "json" if args.json else "dot" if args.dot else None))
    return 0


@_exit_on_user_error
def compile_pipeline(args) -> int:
    """`detflow compile --target kubeflow-v2`: the pipeline-spec JSON through TFX's KubeflowV2DagRunner."""
    _quiet()
    from components.common.outputs import writable_file
    from components.trainer.component import TrainerParameters
    from pipelines import pipeline, pipeline_inputs, runners
    from pipelines.settings import PipelineSettings, blessing_gate

    writable_file(args.out, "--out")
    data = pipeline_inputs.DataSource(format=args.format, annotations=args.annotations, images=args.images)
    settings = PipelineSettings(
        root=args.root, data=data, config_path=args.config, label_map_path=args.label_map,
        base_checkpoint=args.base_checkpoint, push_to=args.push_to or os.path.join(args.root, configs.PUSH_DIR),
        evaluation=blessing_gate(args.min_map, args.max_regression, args.max_quantization_drop),
        training=TrainerParameters(tflite=tuple(args.tflite or ()),
                                   tflite_representative_size=args.representative_size),
        warm_start=args.warm_start, beam_args=tuple(args.beam_arg or ()), stage_inputs=False, portable=True)
    _check_quantization_gate(settings)
    dsl = pipeline.create_pipeline(settings)
    out = runners.compile_kubeflow_v2(dsl, args.out, image=args.image)
    print(f"wrote {out} ({len(dsl.components)} nodes: {', '.join(c.id for c in dsl.components)})")
    return 0
