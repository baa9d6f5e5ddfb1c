"""Airflow DAG: nightly detflow retraining as one BashOperator task that calls `detflow run`.

Why a BashOperator and not TFX's AirflowDagRunner: AirflowDagRunner turns every TFX
node into an Airflow task, so each Airflow worker must import TFX, TensorFlow and
this project (a ~3 GB environment) and the DAG file itself imports them at every
scheduler parse. It also bypasses what `detflow run` adds around the pipeline: the
run lock on the root, the per-node ran/cached report, the failed-node message and
the trace under `<root>/logs/`. With a BashOperator, Airflow stays a scheduler (any
Airflow version, no TFX in it), the pipeline runs exactly as from cron or by hand,
and its caching and ML Metadata are the same. Run the task in the detflow image
(infra/container/Dockerfile) with a KubernetesPodOperator/DockerOperator instead if
the workers have no detflow environment: the command line is the same.

Put this file in Airflow's dags/ folder; settings come from the environment
(DETFLOW_* below) so one file serves several deployments.
"""

from __future__ import annotations

import datetime
import os
import shlex

try:
    import airflow
except ImportError:  # read outside Airflow, e.g. by tests/pipelines/test_infra.py
    airflow = None
if airflow is not None:
    # Inside Airflow an operator that will not import is an import error Airflow shows, never a DAG that vanishes.
    from airflow import DAG
    from airflow.operators.bash import BashOperator
else:
    DAG = None

SETTINGS = {
    "detflow": os.environ.get("DETFLOW_BIN", "/opt/detflow/.venv/bin/detflow"),
    "config": os.environ.get("DETFLOW_CONFIG", "/srv/detflow/config/pipeline.config"),
    "label_map": os.environ.get("DETFLOW_LABEL_MAP", "/srv/detflow/config/label_map.pbtxt"),
    "format": os.environ.get("DETFLOW_FORMAT", "coco"),
    "annotations": os.environ.get("DETFLOW_ANNOTATIONS", "/srv/detflow/data/span-{SPAN}/annotations.json"),
    "images": os.environ.get("DETFLOW_IMAGES", "/srv/detflow/data/span-{SPAN}/images"),
    "root": os.environ.get("DETFLOW_ROOT", "/srv/detflow/root"),
    "push_to": os.environ.get("DETFLOW_PUSH_TO", "/srv/detflow/serving"),
    "min_map": os.environ.get("DETFLOW_MIN_MAP", "0.30"),
    "max_regression": os.environ.get("DETFLOW_MAX_REGRESSION", "0.02"),
    "runner": os.environ.get("DETFLOW_RUNNER", "beam"),
    "retries": os.environ.get("DETFLOW_RETRIES", "1"),
}


def detflow_command(settings: dict = SETTINGS) -> str:
    """The `detflow run` command line the task runs (shell-quoted)."""
    args = [settings["detflow"], "run", "--config", settings["config"], "--label-map", settings["label_map"],
            "--format", settings["format"], "--annotations", settings["annotations"],
            "--images", settings["images"], "--root", settings["root"], "--push-to", settings["push_to"],
            "--runner", settings["runner"], "--warm-start",
            "--min-map", str(settings["min_map"]), "--max-regression", str(settings["max_regression"])]
    return " ".join(shlex.quote(a) for a in args)


def build_pipeline(settings: dict = SETTINGS):
    """The TFX pipeline object the task's command runs (for checks; Airflow itself never calls this)."""
    from components.trainer import base_checkpoint
    from pipelines import pipeline, pipeline_inputs
    from pipelines.settings import PipelineSettings, blessing_gate

    data = pipeline_inputs.DataSource(format=settings["format"], annotations=settings["annotations"],
                                      images=settings["images"])
    return pipeline.create_pipeline(PipelineSettings(
        name="detflow", root=settings["root"], data=data, config_path=settings["config"],
        label_map_path=settings["label_map"],
        base_checkpoint=str(settings.get("base_checkpoint") or base_checkpoint.CHECKPOINT_DIR),
        push_to=settings["push_to"],
        evaluation=blessing_gate(float(settings["min_map"]), float(settings["max_regression"])), warm_start=True))


if DAG is not None:
    with DAG(
        dag_id="detflow_retrain",
        description="Retrain the detector on the newest data span; push only if it beats the thresholds",
        schedule="15 2 * * *",
        start_date=datetime.datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # detflow's own run lock backs this up
        default_args={"retries": int(SETTINGS["retries"]), "retry_delay": datetime.timedelta(minutes=30)},
        tags=["detflow", "tfx"],
    ) as dag:
        BashOperator(
            task_id="detflow_run",
            bash_command=detflow_command(),
            env={"TF_CPP_MIN_LOG_LEVEL": "3"},
            append_env=True,
            execution_timeout=datetime.timedelta(hours=6),
        )
