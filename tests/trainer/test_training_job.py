"""The DetectionTrainer training as a job off the pipeline's process (components/trainer/job_runner.py).

In `make test`: the job's `detflow train` arguments carry every parameter and are ones `detflow train`
accepts; the platform rides the component's exec properties; a failing local job ends in one line naming
the worker and its log; Kubernetes without a cluster configuration is one line. In `make test-long`: the
pipeline with a 2-worker local job (two `detflow train` processes, TF_CONFIG on 127.0.0.1) records the
same lineage as an in-process run, its model trained by MultiWorkerMirroredStrategy over 2 replicas.
"""
from __future__ import annotations

import os

import pytest

from components.trainer import executor, job_runner
from components.trainer.parameters import TrainerParameters
from components.trainer.training_jobs import JobPlatform
from pipelines.cli.parser import build_parser
from schemas.problems import ProblemsError


def test_the_job_trains_what_the_in_process_trainer_would():
    inputs = executor._Inputs("/p/pipeline.config", None, "/p/label_map.pbtxt", "/m/ckpt-0")  # pylint: disable=protected-access
    parameters = TrainerParameters(num_steps=7, batch_size=4, freeze_backbone=False, checkpoint_every=3,
                                   precision="mixed_float16", bn_reestimate="on", bn_reestimate_batches=5,
                                   training_job=JobPlatform("local"))
    args = executor.job_train_args(inputs, parameters, ["/e/Split-train/*"], ["/e/Split-eval/*"], "/run/model",
                                   "/model/Format-Serving")
    parsed = build_parser().parse_args(["train", *args])
    assert (parsed.config, parsed.train, parsed.eval, parsed.model_dir, parsed.export_dir) == (
        "/p/pipeline.config", "/e/Split-train/*", "/e/Split-eval/*", "/run/model", "/model/Format-Serving")
    assert (parsed.label_map, parsed.base_checkpoint, parsed.num_steps, parsed.batch_size,
            parsed.checkpoint_every) == ("/p/label_map.pbtxt", "/m/ckpt-0", 7, 4, 3)
    assert parsed.train_backbone and parsed.precision == "mixed_float16"
    assert (parsed.bn_reestimate, parsed.bn_reestimate_batches, parsed.strategy) == ("on", 5, "auto")
    defaults = build_parser().parse_args(["train", *executor.job_train_args(
        inputs, TrainerParameters(), ["/e/Split-train/*"], [], "/run/model", "/x")])
    assert not defaults.train_backbone and defaults.num_steps is None and defaults.eval is None


def test_the_platform_rides_the_exec_properties_and_is_checked():
    platform = JobPlatform("vertex", workers=4, image="eu.gcr.io/p/detflow:1", accelerator="NVIDIA_TESLA_T4",
                           accelerator_count=1, project="p", region="europe-west4")
    parameters = TrainerParameters(training_job=platform)
    assert TrainerParameters.from_exec_properties(parameters.to_exec_properties()) == parameters
    assert JobPlatform.from_json(platform.to_json()) == platform
    with pytest.raises(ValueError, match="name the detflow container image"):
        TrainerParameters(training_job=JobPlatform("tfjob")).check()
    with pytest.raises(ValueError, match="leave strategy auto"):
        TrainerParameters(training_job=JobPlatform("local"), strategy="mirrored").check()
    with pytest.raises(ValueError, match="unknown setting.*gpus"):
        JobPlatform.from_json('{"target": "local", "gpus": 2}')


def test_a_failing_local_job_names_the_worker_and_its_last_lines(tmp_path):
    logs = tmp_path / "logs"
    with pytest.raises(ProblemsError) as raised:
        job_runner.run_job(JobPlatform("local", workers=2), ["--config", str(tmp_path / "missing.config"),
                                                             "--model-dir", str(tmp_path / "m")], str(logs))
    message = str(raised.value)
    assert message.startswith("training job detflow-train (local): worker ")
    assert "exited with 2" in message and "missing.config" in message and "Traceback" not in message
    assert sorted(os.listdir(logs)) == ["worker-0.log", "worker-1.log"]


def test_a_tfjob_without_a_cluster_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ProblemsError, match=r"training job detflow-train \(tfjob\): the TFJob could not be run "
                                            r"\(ConfigException"):
        job_runner.run_job(JobPlatform("tfjob", image="detflow:1"), ["--config", "c", "--model-dir", "m"],
                           str(tmp_path))


@pytest.mark.slow
@pytest.mark.long
@pytest.mark.e2e
def test_the_pipeline_trains_as_a_two_worker_job_with_the_same_lineage(tmp_path):
    from pipelines.metadata import lineage, lineage_audit, run_summary  # pylint: disable=import-outside-toplevel
    from tests.pipelines import e2e_helpers as h  # pylint: disable=import-outside-toplevel
    data_root, root = tmp_path / "drops", tmp_path / "root"
    h.make_span(data_root, 0)
    config, label_map = h.make_config(tmp_path / "config")
    code, summary, text = h.run(root, h.span_source(data_root), config, label_map,
                                training_job=JobPlatform("local", workers=2))
    assert code == 0, text
    assert h.states(summary)["DetectionTrainer"] == "ran" and summary.pushed, text
    store = run_summary.open_store(str(root))
    up = lineage.trace(store, lineage.find_artifact(store, summary.pushed), lineage.UPSTREAM)
    audit = lineage_audit.audit(up)
    assert audit["examples"]["span"] == 0 and audit["label_map"]["sha256"] and audit["pipeline_config"]["sha256"]
    assert audit["fine_tune_checkpoint"]["imported"] and audit["blessing"]["blessed"] is True
    model = up.artifacts[audit["model"]["id"]]
    assert model["properties"]["strategy"] == "MultiWorkerMirroredStrategy", model
    assert model["properties"]["num_replicas"] == 2, model
    [job_logs] = [os.path.join(d, "job_logs") for d, _, _ in os.walk(root) if os.path.isdir(os.path.join(d, "job_logs"))]
    assert sorted(os.listdir(job_logs)) == ["worker-0.log", "worker-1.log"]
    assert "worker 1 of 2: trained steps 0->2" in open(os.path.join(job_logs, "worker-1.log")).read()


def test_detflow_train_names_a_label_map_that_is_not_there(tmp_path, capsys):
    """What a job's workers are given (--label-map, from the label map artifact) is checked like the config's."""
    from pipelines import cli  # pylint: disable=import-outside-toplevel
    from tests.detection import records  # pylint: disable=import-outside-toplevel
    config = records.tiny_config(str(tmp_path), str(tmp_path / "*.tfrecord")).path
    assert cli.main(["train", "--config", config, "--model-dir", str(tmp_path / "m"),
                     "--label-map", str(tmp_path / "nope.pbtxt")]) == 2
    assert f"{tmp_path / 'nope.pbtxt'}: --label-map: no such file" in capsys.readouterr().err
