"""`detflow training-job`: the Vertex AI CustomJob and the Kubeflow TFJob of a multi-worker `detflow train`.

Compile-level: the specs hold what the user asked for (worker pools or replicas, image, the command,
accelerators), and the TF_CONFIG the platform derives from them gives `detflow train` one chief.
"""
import json

from detection.training import strategy as strategy_lib
from pipelines import cli

TRAIN = ["--config", "gs://b/pipeline.config", "--train", "gs://b/records/train-*", "--model-dir", "gs://b/model"]


def _write(tmp_path, target: str, *flags: str) -> tuple[int, dict]:
    out = tmp_path / f"{target}.json"
    code = cli.main(["training-job", "--target", target, "--out", str(out), "--image", "eu.gcr.io/p/detflow:1",
                     *flags, "--", *TRAIN])
    return code, (json.loads(out.read_text()) if code == 0 else {})


def test_the_vertex_job_has_a_chief_pool_and_a_worker_pool_running_detflow_train(tmp_path):
    code, spec = _write(tmp_path, "vertex", "--workers", "3", "--accelerator", "NVIDIA_TESLA_T4",
                        "--accelerator-count", "2", "--machine-type", "n1-standard-16")
    assert code == 0
    chief, workers = spec["jobSpec"]["workerPoolSpecs"]
    assert chief["replicaCount"] == 1 and workers["replicaCount"] == 2
    for pool in (chief, workers):
        assert pool["machineSpec"] == {"machineType": "n1-standard-16", "acceleratorType": "NVIDIA_TESLA_T4",
                                       "acceleratorCount": 2}
        assert pool["containerSpec"] == {"imageUri": "eu.gcr.io/p/detflow:1", "command": ["detflow"],
                                         "args": ["train", *TRAIN]}
    code, spec = _write(tmp_path, "vertex", "--workers", "1")
    [pool] = spec["jobSpec"]["workerPoolSpecs"]
    assert pool["machineSpec"] == {"machineType": "n1-standard-8"}


def test_the_tfjob_has_a_chief_and_workers_named_as_the_training_operator_wants(tmp_path):
    code, spec = _write(tmp_path, "tfjob", "--workers", "3", "--accelerator", "nvidia.com/gpu",
                        "--accelerator-count", "1")
    assert code == 0 and spec["apiVersion"] == "kubeflow.org/v1" and spec["kind"] == "TFJob"
    replicas = spec["spec"]["tfReplicaSpecs"]
    assert {k: v["replicas"] for k, v in replicas.items()} == {"Chief": 1, "Worker": 2}
    for replica in replicas.values():
        [container] = replica["template"]["spec"]["containers"]
        assert container == {"name": "tensorflow", "image": "eu.gcr.io/p/detflow:1",
                             "command": ["detflow", "train", *TRAIN], "resources": {"limits": {"nvidia.com/gpu": 1}}}


def test_the_platforms_tf_config_gives_one_chief_that_writes(tmp_path):
    """Both platforms name a `chief` task and `worker` tasks: detflow train's roles for a 3-worker job."""
    cluster = {"chief": ["c:2222"], "worker": ["w0:2222", "w1:2222"]}
    roles = [strategy_lib.tf_config_role(json.dumps({"cluster": cluster, "task": {"type": t, "index": i}}))
             for t, i in (("chief", 0), ("worker", 0), ("worker", 1))]
    assert [r.describe() for r in roles] == ["chief of 3", "worker 0 of 3", "worker 1 of 3"]
    assert [r.is_chief for r in roles] == [True, False, False]


def test_a_job_that_cannot_run_is_one_line(tmp_path, capsys):
    out = tmp_path / "job.json"
    assert cli.main(["training-job", "--target", "tfjob", "--out", str(out), "--",
                     "--config", "gs://b/pipeline.config"]) == 2
    assert "the training arguments need --model-dir" in capsys.readouterr().err and not out.exists()
    assert cli.main(["training-job", "--target", "vertex", "--out", str(out), "--accelerator", "NVIDIA_TESLA_T4",
                     "--", *TRAIN]) == 2
    assert "accelerator and accelerator_count go together" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert cli.main(["training-job", "--target", "vertex", "--out", str(tmp_path / "file" / "job.json"), "--",
                     *TRAIN]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err
