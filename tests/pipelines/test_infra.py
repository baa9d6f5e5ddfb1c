"""The scheduling files in infra/: they all run the same `detflow run`, and the Airflow DAG builds the pipeline."""

import importlib.util
import pathlib
import py_compile
import re
import shlex

from pipelines import cli

INFRA = pathlib.Path(__file__).resolve().parents[2] / "infra"


def _load_dag_module():
    spec = importlib.util.spec_from_file_location("detflow_dag", INFRA / "airflow" / "detflow_dag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_airflow_dag_compiles_and_its_command_parses_as_detflow_run(tmp_path):
    py_compile.compile(str(INFRA / "airflow" / "detflow_dag.py"), cfile=str(tmp_path / "dag.pyc"), doraise=True)
    dag = _load_dag_module()
    argv = shlex.split(dag.detflow_command())
    assert argv[0].endswith("detflow")
    args = cli.build_parser().parse_args(argv[1:])
    assert args.command == "run" and args.warm_start and "{SPAN}" in args.annotations


def test_airflow_dag_settings_build_the_detflow_pipeline(tmp_path):
    dag = _load_dag_module()
    (tmp_path / "pipeline.config").write_text("model { ssd { num_classes: 1 } }\n")
    (tmp_path / "label_map.pbtxt").write_text("item { id: 1 name: 'a' }\n")
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "ckpt-0.index").write_bytes(b"x")
    settings = dict(dag.SETTINGS, config=str(tmp_path / "pipeline.config"),
                    label_map=str(tmp_path / "label_map.pbtxt"), root=str(tmp_path / "root"),
                    annotations=str(tmp_path / "span-{SPAN}" / "annotations.json"),
                    images=str(tmp_path / "span-{SPAN}" / "images"), push_to=str(tmp_path / "serving"),
                    base_checkpoint=str(tmp_path / "ckpt"))
    built = dag.build_pipeline(settings)
    ids = {c.id for c in built.components}
    assert {"pipeline_config_importer", "label_map_importer", "checkpoint_importer", "ImageExampleGen",
            "StatisticsGen", "LabelMapValidator", "DetectionTrainer", "Evaluator", "Pusher"} <= ids


def test_cron_and_systemd_run_the_same_command():
    cron = (INFRA / "cron" / "detflow.cron").read_text()
    service = (INFRA / "systemd" / "detflow.service").read_text().replace("\\\n", " ")
    for text in (cron, service):
        line = next(l for l in text.splitlines() if "detflow run" in l and not l.startswith("#"))
        argv = shlex.split(line.split("detflow run", 1)[1].split(">>")[0])
        args = cli.build_parser().parse_args(["run"] + argv)
        assert args.warm_start and args.root == "/srv/detflow/root" and "{SPAN}" in args.images
    assert "OnCalendar=" in (INFRA / "systemd" / "detflow.timer").read_text()


def test_dockerfile_installs_from_the_lock_and_runs_detflow():
    text = (INFRA / "container" / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.10-slim" in text
    assert "uv sync --frozen" in text and 'ENTRYPOINT ["detflow"]' in text


def test_the_image_copies_every_package_the_wheel_holds():
    """A package listed in pyproject.toml but not copied would install nothing for it (the demo needs sample_data)."""
    pyproject = (INFRA.parent / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]$", pyproject, re.MULTILINE).group(1)
    packages = [name.strip().strip('"').rstrip("*") for name in include.split(",")]
    text = (INFRA / "container" / "Dockerfile").read_text()
    assert packages and all(f"COPY {name}/ {name}/" in text for name in packages), packages
