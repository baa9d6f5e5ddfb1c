"""`detflow runs` and `detflow lineage`: what past runs did and which inputs made an artifact, from ML Metadata."""

from __future__ import annotations

import datetime
import json
import os

from pipelines import configs
from pipelines.cli.errors import exit_on_user_error, quiet


@exit_on_user_error
def runs(args) -> int:
    """`detflow runs`: past runs from ML Metadata with status, metrics, blessing, pushed version.

    A failed run names its failing node and error (the error from `<root>/logs/`,
    where `detflow run` keeps the trace); a run that stopped early names what it never ran.
    """
    quiet()
    from pipelines.metadata import run_summary

    root = os.path.abspath(args.root)
    store = run_summary.open_store(root)
    found = run_summary.list_runs(store, getattr(args, "pipeline_name", configs.PIPELINE_NAME))
    run_summary.settle_runs(found, root)
    if args.json:
        print(json.dumps([r.to_json() for r in found], indent=2, default=str))
        return 0
    if not found:
        print(f"no runs recorded under {args.root}")
        return 0
    print(f"{'run':<28} {'started (UTC)':<20} {'status':<10} {'ran':>3} {'cached':>6} {'mAP@.5':>7} "
          f"{'blessed':<7} pushed version")
    for r in found:
        print(_run_row(r, run_summary.PRIMARY_METRIC))
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


@exit_on_user_error
def lineage(args) -> int:
    """`detflow lineage`: an artifact's upstream or downstream lineage from ML Metadata."""
    quiet()
    from pipelines.metadata import lineage as lineage_lib
    from pipelines.metadata import lineage_format, run_summary

    store = run_summary.open_store(os.path.abspath(args.root))
    artifact = lineage_lib.find_artifact(store, args.artifact)
    graph = lineage_lib.trace(store, artifact, args.direction)
    print(lineage_format.render(graph, "json" if args.json else "dot" if args.dot else None))
    return 0
