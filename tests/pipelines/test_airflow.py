"""The shipped Airflow DAG (infra/airflow/detflow_dag.py) loaded and run by Airflow 2 itself.

Airflow lives in its own environment (`make airflow`: .airflow/venv from infra/airflow/requirements.lock,
SQLite metadata DB in a temporary AIRFLOW_HOME); the DAG's task runs `detflow run` from .venv. Scheduled
intervals are run with `airflow dags test` on the sample data's spans, a new span dropped between them:
1. span 0: the first interval trains from the embedded checkpoint and pushes;
2. span 1: the next interval reads the new span, warm-starts from the first interval's blessed model and
   is judged by the regression gate; `detflow runs` and `detflow lineage` show both runs and the pushed
   model's ancestry;
3. span 2 with broken annotations: that interval fails naming ImageExampleGen and pushes nothing;
4. span 3: the next interval runs normally.
Each task's log names the detflow nodes it ran. Run by `make test-long` (four pipeline runs).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from tests.pipelines import e2e_helpers as h

REPO = pathlib.Path(__file__).resolve().parents[2]
AIRFLOW = REPO / ".airflow" / "venv" / "bin" / "airflow"
DETFLOW = REPO / ".venv" / "bin" / "detflow"
DAG_ID = "detflow_retrain"
pytestmark = [pytest.mark.slow, pytest.mark.long, pytest.mark.e2e]


def _airflow(env: dict, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(AIRFLOW), *args], env=env, cwd=env["AIRFLOW_HOME"], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _listing(env: dict, *args: str, code: int = 0) -> list:
    """An `airflow ... --output json` listing (Airflow's own log lines kept off stdout), its exit code checked."""
    done = _airflow(dict(env, AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR"), *args, "--output", "json")
    assert done.returncode == code, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    assert AIRFLOW.exists(), f"{AIRFLOW}: no Airflow environment; `make airflow` builds it"
    work = tmp_path_factory.mktemp("airflow")
    config, label_map = h.make_config(work / "config")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "PYTHON"))}
    env.update({
        "AIRFLOW_HOME": str(work / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "infra" / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "DETFLOW_BIN": str(DETFLOW), "DETFLOW_CONFIG": config, "DETFLOW_LABEL_MAP": label_map,
        "DETFLOW_ANNOTATIONS": str(work / "drops" / "span-{SPAN}" / "annotations.json"),
        "DETFLOW_IMAGES": str(work / "drops" / "span-{SPAN}" / "images"),
        "DETFLOW_ROOT": str(work / "root"), "DETFLOW_PUSH_TO": str(work / "serving"),
        "DETFLOW_RUNNER": "local", "DETFLOW_MIN_MAP": "0.0", "DETFLOW_MAX_REGRESSION": "0.02",
        "DETFLOW_RETRIES": "0"})
    (work / "home").mkdir()
    migrated = _airflow(env, "db", "migrate", timeout=300)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    return work, env


def test_airflow_loads_the_shipped_dag_without_import_errors(airflow_env):
    _, env = airflow_env
    assert _listing(env, "dags", "list-import-errors") == []
    assert DAG_ID in {d["dag_id"] for d in _listing(env, "dags", "list")}


def test_a_dag_needing_what_the_environment_lacks_is_named(airflow_env, tmp_path):
    """The same check on a DAG that imports a provider the Airflow environment does not hold."""
    work, env = airflow_env
    dags = tmp_path / "dags"
    dags.mkdir()
    text = (REPO / "infra" / "airflow" / "detflow_dag.py").read_text()
    (dags / "detflow_dag.py").write_text(text.replace(
        "from airflow.operators.bash import BashOperator",
        "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator as BashOperator"))
    found = _listing(dict(env, AIRFLOW__CORE__DAGS_FOLDER=str(dags)), "dags", "list-import-errors", code=1)
    assert len(found) == 1 and "No module named 'airflow.providers.cncf'" in found[0]["error"], found


def _audit(env: dict, artifact: str) -> dict:
    """`detflow lineage ARTIFACT --json`'s audit: which data, label map, config and checkpoint made it."""
    done = subprocess.run([str(DETFLOW), "lineage", "--root", env["DETFLOW_ROOT"], artifact, "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["audit"]


def _interval(env: dict, date: str) -> tuple[int, str, str]:
    """`airflow dags test` of one scheduled interval: (exit code, the dag run's final state, all output)."""
    done = _airflow(env, "dags", "test", DAG_ID, date)
    text = done.stdout + done.stderr
    finished = re.findall(r"DagRun Finished: dag_id=" + DAG_ID + r", .*? state=(\w+),", text)
    assert len(finished) == 1, text[-6000:]
    return done.returncode, finished[0], text


def test_two_scheduled_intervals_then_a_bad_span_then_a_good_one(airflow_env):
    work, env = airflow_env
    drops, serving = work / "drops", work / "serving"

    h.make_span(drops, 0)
    code, state, text = _interval(env, "2026-01-01")
    assert code == 0 and state == "success", text[-6000:]
    assert "DetectionTrainer" in text and "ImageExampleGen" in text and "Pusher" in text      # the nodes, named
    assert "blessed: yes" in text, text[-6000:]
    first_push = sorted(os.listdir(serving))
    assert len(first_push) == 1

    h.make_span(drops, 1)
    code, state, text = _interval(env, "2026-01-02")
    assert code == 0 and state == "success", text[-6000:]
    assert "blessed: " in text

    runs = subprocess.run([str(DETFLOW), "runs", "--root", env["DETFLOW_ROOT"], "--json"], capture_output=True,
                          text=True, check=True)
    first, second = json.loads(runs.stdout)
    assert first["status"] == second["status"] == "complete" and first["pushed"], (first, second)
    assert "baseline" in second["blessing_message"], second["blessing_message"]     # the regression gate judged it
    audit = _audit(env, second["model_uri"])
    assert audit["examples"]["span"] == 1
    assert audit["fine_tune_checkpoint"]["earlier_run"] == first["run_id"]          # warm-started from the first
    pushed_audit = _audit(env, second["pushed"] or first["pushed"])
    assert pushed_audit["pipeline_config"]["sha256"] and pushed_audit["label_map"]["sha256"]
    assert pushed_audit["blessing"]["blessed"] is True

    pushed = sorted(os.listdir(serving))
    h.make_span(drops, 2)
    (drops / "span-2" / "annotations.json").write_text("{ not json")
    code, state, text = _interval(env, "2026-01-03")
    assert code == 1 and state == "failed", text[-6000:]
    [line] = [line for line in text.splitlines() if "detflow run: ImageExampleGen failed: " in line][:1]
    assert "span-2/annotations.json" in line and "JSON" in line, line         # the node, the file, in one line
    assert sorted(os.listdir(serving)) == pushed                                   # nothing pushed

    shutil.rmtree(drops / "span-2")
    h.make_span(drops, 3)
    code, state, text = _interval(env, "2026-01-04")
    assert code == 0 and state == "success", text[-6000:]
    runs = subprocess.run([str(DETFLOW), "runs", "--root", env["DETFLOW_ROOT"], "--json"], capture_output=True,
                          text=True, check=True)
    *_, failed, fourth = json.loads(runs.stdout)
    assert failed["status"] == "failed" and failed["failed_node"] == "ImageExampleGen", failed
    assert fourth["status"] == "complete" and _audit(env, fourth["model_uri"])["examples"]["span"] == 3
