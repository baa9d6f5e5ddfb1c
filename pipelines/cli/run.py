"""`detflow run`: the pipeline on the user's data, under the run lock, with a report of what each node did.

Exit codes: 0 success, 1 a node failed (named, with its error; the full trace
goes to `<root>/logs/`), 2 a user error (missing file, bad config, root
locked), printed without a stack trace.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
import traceback
from typing import TYPE_CHECKING

from pipelines import configs
from pipelines.cli.errors import exit_on_user_error, quiet

if TYPE_CHECKING:  # importing the settings imports TFX: only once quiet() has run
    from pipelines.settings import PipelineSettings


def execute(settings: PipelineSettings, runner: str = "local", out=None):
    """Runs the pipeline `settings` describe under the run lock; returns (exit code, RunSummary or None).

    The inputs are resolved and checked first (`resolve_inputs`). Progress and the
    run's report go to `out` (default: the current sys.stdout).
    """
    out = out or sys.stdout
    quiet()
    from pipelines import lock, pipeline, runners
    from pipelines.metadata import run_format, run_summary
    from pipelines.cli.run_inputs import resolve_inputs

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
        store = run_summary.open_store(root)
        summary = run_summary.latest_run(store, name)
    if summary is not None and failure is not None:  # TFX left the node that raised RUNNING; the run is over
        lines = str(failure).strip().splitlines()
        run_summary.settle_run(summary, log, error=lines[-1] if lines else type(failure).__name__)
    if summary is not None:
        print(run_format.format_run(summary), file=out)
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


@exit_on_user_error
def run(args) -> int:
    """`detflow run`: the pipeline on the user's data; prints per node ran/cached, metrics, blessing, push."""
    code, _ = execute(run_settings(args), runner=args.runner)
    return code


def run_settings(args) -> PipelineSettings:
    """The settings of `detflow run` from its command line (label map and checkpoint left to the config if unset)."""
    from components.trainer.component import TrainerParameters
    from pipelines.cli.run_inputs import job_platform
    from pipelines.pipeline_inputs import DataSource
    from pipelines.settings import PipelineSettings, blessing_gate

    share = args.max_dropped_boxes
    data = DataSource(format=args.format, annotations=args.annotations, images=args.images,
                      eval_percent=args.eval_percent, strict=args.strict,
                      max_dropped_box_share=configs.MAX_DROPPED_BOX_SHARE if share is None else share,
                      allow_empty_classes=args.allow_empty_classes, compression=args.compression)
    training = TrainerParameters(num_steps=args.num_steps, batch_size=args.batch_size,
                                 freeze_backbone=not args.train_backbone, tflite=tuple(args.tflite or ()),
                                 tflite_representative_size=args.representative_size,
                                 bn_reestimate=args.bn_reestimate, bn_reestimate_batches=args.bn_reestimate_batches,
                                 training_job=job_platform(args))
    return PipelineSettings(
        root=args.root, data=data, config_path=args.config, label_map_path=args.label_map,
        base_checkpoint=args.base_checkpoint, push_to=args.push_to,
        evaluation=blessing_gate(args.min_map, args.max_regression, args.max_quantization_drop, args.metric),
        training=training, warm_start=args.warm_start, enable_cache=not args.no_cache,
        beam_args=tuple(args.beam_arg or ()), champion=args.champion)
