"""A DetectionTrainer killed with kill -9 resumes from its last checkpoint when the pipeline is run again.

The end-to-end test runs a real pipeline (Importers + DetectionTrainer,
LocalDagRunner, SQLite MLMD) in a subprocess, kills it once the Trainer's
first checkpoint exists, runs the same pipeline again and reads the new
Model artifact in MLMD. The unit tests pin what the resume key covers and
that a working folder is never shared by two live executions.
"""
import glob
import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from pipelines import tfx_api as tfx
from tfx.orchestration import metadata
from tfx.types import standard_artifacts

from components.trainer import resume
from components.trainer.component import TrainerParameters
from tests.detection import records
from tests.trainer.test_trainer_component import _pipeline, _props

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_STEPS = 8
PARAMETERS = TrainerParameters(num_steps=NUM_STEPS, batch_size=2, checkpoint_every=2, code_version="test")


def _inputs(root: pathlib.Path):
    examples = root / "examples"
    records.write_records(str(examples / "Split-train"), num_images=4, size=64, shards=1)
    records.write_records(str(examples / "Split-eval"), num_images=0, shards=1)   # no eval pass to trace
    config = records.tiny_config(str(root), "unused-the-pipeline-feeds-examples", num_steps=NUM_STEPS)
    return str(examples), config.path, str(root / "label_map.pbtxt")


def _run_pipeline(root: pathlib.Path, examples: str, config: str, label_map: str) -> None:
    tfx.LocalDagRunner().run(
        _pipeline(root, examples, config, label_map, parameters=PARAMETERS, with_base=False))


def _start_in_subprocess(root, examples, config, label_map, log_path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, "-m", "tests.trainer.test_trainer_resume", str(root), examples,
                                 config, label_map], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _kill_at_first_checkpoint(proc: subprocess.Popen, resume_root: pathlib.Path, timeout: float = 300) -> list:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not glob.glob(str(resume_root / "*" / "checkpoint")):
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return glob.glob(str(resume_root / "*" / "ckpt-*.index"))


def _trained_models(root: pathlib.Path) -> list:
    connection = tfx.sqlite_metadata_connection_config(str(root / "metadata.sqlite"))
    with metadata.Metadata(connection) as m:
        return [a for a in m.store.get_artifacts_by_type("Model")
                if "DetectionTrainer" in a.uri and a.state == a.LIVE]


@pytest.mark.slow
def test_killed_trainer_resumes_from_its_checkpoint_when_the_pipeline_runs_again(tmp_path, caplog):
    examples, config, label_map = _inputs(tmp_path)
    resume_root = tmp_path / "pipeline" / "DetectionTrainer" / resume.RESUME_DIR
    log_path = tmp_path / "killed_run.log"
    proc = _start_in_subprocess(tmp_path, examples, config, label_map, log_path)
    left = _kill_at_first_checkpoint(proc, resume_root)
    assert proc.returncode == -signal.SIGKILL and left, log_path.read_text()[-5000:]
    assert not _trained_models(tmp_path)

    with caplog.at_level(logging.INFO):
        _run_pipeline(tmp_path, examples, config, label_map)
    [model] = _trained_models(tmp_path)
    props = _props(model)
    assert 0 < props["start_step"] < NUM_STEPS and props["resumed"] == 1, props
    assert props["steps"] == NUM_STEPS
    assert f"resuming TFX Trainer from step {props['start_step']}" in caplog.text
    assert not os.listdir(resume_root)   # the completed run removed its working folder

    result = json.load(open(os.path.join(model.uri, "train_result.json")))
    run_dir = os.path.join(os.path.dirname(os.path.dirname(model.uri)), "model_run",
                           os.path.basename(model.uri))
    assert result["checkpoint"] == os.path.join(run_dir, f"ckpt-{NUM_STEPS}")
    assert os.path.exists(result["checkpoint"] + ".index")
    assert glob.glob(os.path.join(run_dir, "train", "events.out.tfevents.*"))


def _artifact(type_, id_, uri):
    a = type_()
    a.id, a.uri = id_, uri
    return a


def _material(examples_id=1, num_steps=8):
    examples = _artifact(standard_artifacts.Examples, examples_id, f"/p/ExampleGen/examples/{examples_id}")
    inputs = {"examples": [examples], "base_model": []}
    props = {"num_steps": num_steps, "batch_size": 2, "detflow_code_version": "abc"}
    return resume.resume_material(inputs, props)


def test_resume_key_covers_inputs_and_exec_properties_not_outputs():
    key = resume.resume_key(_material())
    assert key == resume.resume_key(_material())
    assert key != resume.resume_key(_material(examples_id=2))
    assert key != resume.resume_key(_material(num_steps=9))
    first = resume.resume_dir("/p/DetectionTrainer/model_run/7", _material())
    assert first == f"/p/DetectionTrainer/.resume/{key}"
    assert resume.resume_dir("/p/DetectionTrainer/model_run/9/", _material()) == first


def test_a_working_folder_is_claimed_by_one_execution_at_a_time(tmp_path):
    work = str(tmp_path / "key")
    with resume.claimed(work, _material()) as first:
        with resume.claimed(work, _material()) as second:
            assert first and not second
    with resume.claimed(work, _material(examples_id=3)) as other:
        assert not other   # the folder's recorded key material differs
    (tmp_path / "key" / resume.KEY_FILE).write_text('{"inputs": {"exam')   # killed while writing it
    with resume.claimed(work, _material()) as again:
        assert again


@pytest.mark.parametrize("remote", [False, True], ids=["local", "ram"])
def test_checkpoints_move_into_model_run_on_local_and_remote_file_systems(tmp_path, remote):
    from tfx.dsl.io import fileio   # pylint: disable=import-outside-toplevel
    root = f"ram://{tmp_path.name}" if remote else str(tmp_path)
    work, run = f"{root}/.resume/key", f"{root}/model_run/7"
    for name in ("ckpt-3.index", "checkpoint", "train/events.out.tfevents.1", *resume.WORK_DIR_PRIVATE):
        fileio.makedirs(os.path.dirname(f"{work}/{name}"))
        with fileio.open(f"{work}/{name}", "w") as f:
            f.write("x")
    resume.move_contents(work, run)
    assert sorted(n.rstrip("/") for n in fileio.listdir(run)) == ["checkpoint", "ckpt-3.index", "train"]
    assert fileio.exists(f"{run}/train/events.out.tfevents.1")
    assert sorted(fileio.listdir(work)) == sorted(resume.WORK_DIR_PRIVATE)   # resume's own, removed with the folder
    from detection.training.train_result import TrainResult  # pylint: disable=import-outside-toplevel
    result = TrainResult.from_dict({
        "model_dir": work, "checkpoint": f"{work}/ckpt-3", "export_dir": "/m/Format-Serving", "start_step": 0,
        "steps": 3, "batch_size": 2, "final_loss": 1.0, "final_cls_loss": 0.5, "final_box_loss": 0.5,
        "first_loss": 2.0, "images_per_sec": 1.0, "steps_per_sec": 0.5, "seconds": 6.0, "boxes_dropped": 0,
        "boxes_unknown_class": 0, "max_number_of_boxes": 100, "num_trainable_variables": 4, "num_fixed_variables": 8,
        "moving_average_exported": False, "restore_report": {"checkpoint": "/base/ckpt-0"}})
    assert TrainResult.from_dict(result.to_dict()) == result
    assert resume.rebase_paths(result, work, run).to_dict() == {
        **result.to_dict(), "model_dir": run, "checkpoint": f"{run}/ckpt-3"}


if __name__ == "__main__":
    _run_pipeline(pathlib.Path(sys.argv[1]), *sys.argv[2:5])
