"""Multi-worker training jobs off the pipeline's machine: a Vertex AI CustomJob, a Kubeflow TFJob, local workers.

Every worker runs the same entry point, `detflow train` with the same arguments, in the detflow container
image; the platform sets TF_CONFIG (a `chief` task and `worker` tasks), from which `detflow train` builds
MultiWorkerMirroredStrategy and decides who writes the model dir (detection/training/strategy.py).

`JobPlatform` says where and on what (the DetectionTrainer's `training_job` parameter, `detflow run` /
`detflow compile --job-*`, `detflow training-job`); `vertex_custom_job` and `tfjob` are the specs as plain
JSON-ready dicts (`gcloud ai custom-jobs create --config` takes the Vertex one's `jobSpec`, `kubectl apply -f`
the TFJob, the Kubeflow training operator's `kubeflow.org/v1`); `job_runner.py` submits them and waits.
The `local` target runs the workers as processes on this machine, each with its TF_CONFIG on 127.0.0.1:
the same job, for a machine with several GPUs and for tests.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Sequence

TARGETS = ("local", "vertex", "tfjob")


@dataclasses.dataclass(frozen=True)
class JobPlatform:
    """Where a training job runs and on what.

    `workers`: processes in all, chief included. `image`: the detflow container image (vertex, tfjob).
    `accelerator`: Vertex's accelerator type (e.g. NVIDIA_TESLA_T4) or, for a TFJob, the Kubernetes resource
    (e.g. nvidia.com/gpu); `accelerator_count` of them per worker. `project`, `region`: Vertex's (project
    empty: the environment's default). `namespace`: the TFJob's.
    """

    target: str
    workers: int = 2
    image: str = ""
    machine_type: str = "n1-standard-8"
    accelerator: str = ""
    accelerator_count: int = 0
    project: str = ""
    region: str = "us-central1"
    namespace: str = "default"
    name: str = "detflow-train"

    def check(self) -> None:
        """ValueError naming the setting no job could run with."""
        if self.target not in TARGETS:
            raise ValueError(f"training job target {self.target!r}: one of {', '.join(TARGETS)}")
        if self.workers < 1:
            raise ValueError(f"training job workers = {self.workers}: at least 1 (the chief)")
        if self.target != "local" and not self.image:
            raise ValueError(f"training job on {self.target}: name the detflow container image every worker runs")
        if bool(self.accelerator) != (self.accelerator_count > 0):
            raise ValueError("training job: accelerator and accelerator_count go together")

    def to_json(self) -> str:
        """The platform as JSON, defaults left out (the DetectionTrainer's `training_job` execution parameter)."""
        defaults = JobPlatform(self.target)
        return json.dumps({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                           if f.name == "target" or getattr(self, f.name) != getattr(defaults, f.name)},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "JobPlatform":
        """The platform `to_json` wrote; ValueError naming an unknown key."""
        doc = json.loads(text)
        unknown = sorted(set(doc) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"training job: unknown setting(s) {', '.join(unknown)}")
        return cls(**doc)


def check_train_args(train_args: Sequence[str]) -> None:
    """ValueError unless the `detflow train` arguments name a config and a model dir."""
    for flag in ("--config", "--model-dir"):
        if flag not in train_args:
            raise ValueError(f"the training arguments need {flag} (a path every worker can read)")


def command(train_args: Sequence[str]) -> list[str]:
    """What every worker runs."""
    return ["detflow", "train", *train_args]


def vertex_custom_job(platform: JobPlatform, train_args: Sequence[str]) -> dict:
    """The Vertex AI CustomJob: pool 0 the chief, pool 1 the other workers (Vertex sets TF_CONFIG)."""
    platform.check()
    check_train_args(train_args)
    machine = {"machineType": platform.machine_type}
    if platform.accelerator:
        machine.update(acceleratorType=platform.accelerator, acceleratorCount=platform.accelerator_count)
    run = command(train_args)
    container = {"imageUri": platform.image, "command": run[:1], "args": run[1:]}
    pools = [{"machineSpec": machine, "replicaCount": 1, "containerSpec": container}]
    if platform.workers > 1:
        pools.append({"machineSpec": dict(machine), "replicaCount": platform.workers - 1,
                      "containerSpec": dict(container)})
    return {"displayName": platform.name, "jobSpec": {"workerPoolSpecs": pools}}


def tfjob(platform: JobPlatform, train_args: Sequence[str]) -> dict:
    """The Kubeflow training operator's TFJob: a Chief and workers - 1 Workers (the operator sets TF_CONFIG)."""
    platform.check()
    check_train_args(train_args)

    def replica(count: int) -> dict:
        container = {"name": "tensorflow", "image": platform.image, "command": command(train_args)}
        if platform.accelerator:
            container["resources"] = {"limits": {platform.accelerator: platform.accelerator_count}}
        return {"replicas": count, "restartPolicy": "OnFailure",
                "template": {"spec": {"containers": [container]}}}

    specs = {"Chief": replica(1)}
    if platform.workers > 1:
        specs["Worker"] = replica(platform.workers - 1)
    return {"apiVersion": "kubeflow.org/v1", "kind": "TFJob",
            "metadata": {"name": platform.name, "namespace": platform.namespace},
            "spec": {"runPolicy": {"cleanPodPolicy": "None"}, "tfReplicaSpecs": specs}}
