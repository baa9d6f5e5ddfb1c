"""`detflow runs` and the run report on ML Metadata recorded like detflow runs (no TFX run)."""

import datetime
import json
import os

from pipelines import cli

from pipelines.metadata import run_format, run_summary
from tests.pipelines import mlmd_runs

TRACE = """Traceback (most recent call last):
  File "/work/main/pipelines/commands.py", line 130, in execute
    runners.run(dsl, runner)
components.label_map_validator.executor.LabelMapValidationError: label map validation failed (1 problem(s)):
  /data/pipeline.config:4:5: model.ssd.num_classes: num_classes is 5 but the label map has 1 classes
"""


def _store(tmp_path):
    return mlmd_runs.open_store(str(tmp_path / "metadata.sqlite"))


def _write_log(root, when: datetime.datetime) -> str:
    os.makedirs(os.path.join(root, "logs"), exist_ok=True)
    path = os.path.join(root, "logs", f"run-{when:%Y%m%dT%H%M%SZ}.log")
    with open(path, "w") as fh:
        fh.write(TRACE)
    return path


def test_runs_show_status_metrics_blessing_and_pushed_version(tmp_path, capsys):
    store, root = _store(tmp_path), str(tmp_path)
    first = mlmd_runs.record_run(store, root, "run-1")
    mlmd_runs.record_run(store, root, "run-2", span=1, start_from=first["model"], baseline=first["model"])
    assert cli.main(["runs", "--root", root]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:3] == ["run", "started", "(UTC)"]
    assert rows[1].startswith("run-1") and "complete" in rows[1] and "0.6619" in rows[1]
    assert rows[1].split()[-2:] == ["yes", "1795494686"] and rows[2].split()[-1] == "1795494687"
    assert cli.main(["runs", "--root", root, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in listed] == ["complete", "complete"]
    assert listed[0]["metrics"]["DetectionBoxes_Precision/mAP"] == mlmd_runs.METRICS["DetectionBoxes_Precision/mAP"]
    assert listed[1]["blessed"] is True and listed[1]["pushed_version"] == "1795494687"
    assert listed[1]["failed_node"] is None


def test_a_failed_run_names_its_node_and_the_error_from_its_log(tmp_path, capsys):
    store, root = _store(tmp_path), str(tmp_path)
    mlmd_runs.record_run(store, root, "run-1")
    mlmd_runs.record_run(store, root, "run-2", stop_at_validator="failed")
    log = _write_log(root, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1))
    assert cli.main(["runs", "--root", root]) == 0
    out = capsys.readouterr().out
    failed_row = [line for line in out.splitlines() if line.startswith("run-2")][0]
    assert "failed" in failed_row
    assert "failed at LabelMapValidator: components.label_map_validator.executor.LabelMapValidationError" in out
    assert "num_classes is 5" in out and f"full trace: {log}" in out
    assert cli.main(["runs", "--root", root, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[1]["status"] == "failed" and listed[1]["failed_node"] == "LabelMapValidator"
    assert "LabelMapValidationError" in listed[1]["error"] and listed[1]["failure_log"] == log
    assert listed[0]["failure_log"] is None  # the earlier, complete run keeps no log


def test_a_failed_run_without_a_log_still_names_its_node(tmp_path):
    store = _store(tmp_path)
    mlmd_runs.record_run(store, str(tmp_path), "run-1", stop_at_validator="failed")
    [run] = run_summary.list_runs(store)
    run_summary.settle_runs([run], str(tmp_path))
    assert run.status == "failed" and run.failed_node.node_id == "LabelMapValidator"
    assert [line.split()[:2] for line in run_format.format_run(run).splitlines()][-1] == ["LabelMapValidator", "failed"]


def test_a_killed_run_is_incomplete_not_complete(tmp_path, capsys):
    store, root = _store(tmp_path), str(tmp_path)
    mlmd_runs.record_run(store, root, "run-1")
    mlmd_runs.record_run(store, root, "run-2", stop_at_validator="killed")
    runs = run_summary.list_runs(store)
    assert [r.status for r in runs] == ["complete", "incomplete"]
    assert runs[1].missing_nodes == ["DetectionTrainer", "Evaluator", "LabelMapValidator", "Pusher"]
    assert "stopped early: no execution of DetectionTrainer" in run_format.format_run(runs[1])
    assert cli.main(["runs", "--root", root]) == 0
    assert "stopped early: no execution of DetectionTrainer" in capsys.readouterr().out


def test_a_running_node_of_a_dead_run_is_failed_with_its_log_or_stopped(tmp_path):
    store, root = _store(tmp_path), str(tmp_path)
    mlmd_runs.record_run(store, root, "run-1", stop_at_validator="running")   # killed: no log
    mlmd_runs.record_run(store, root, "run-2", stop_at_validator="running")   # a driver raised: a log
    log = _write_log(root, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1))
    runs = run_summary.list_runs(store)
    assert [r.status for r in runs] == ["running", "running"]  # what ML Metadata alone says
    run_summary.settle_runs(runs, root)
    assert [r.status for r in runs] == ["incomplete", "failed"]
    assert runs[0].stopped_at == "killed during LabelMapValidator; no execution of Pusher"
    assert runs[1].failed_node.node_id == "LabelMapValidator" and runs[1].failure_log == log
    assert "LabelMapValidationError" in runs[1].failed_node.error


def test_the_latest_run_is_running_while_its_detflow_run_holds_the_lock(tmp_path):
    store, root = _store(tmp_path), str(tmp_path)
    mlmd_runs.record_run(store, root, "run-1", stop_at_validator="running")
    with open(os.path.join(root, ".detflow.lock"), "w") as fh:
        fh.write(f"pid {os.getpid()}, started 2026-11-24T05:00:00Z\n")
    runs = run_summary.list_runs(store)
    run_summary.settle_runs(runs, root)
    assert runs[0].status == "running"
