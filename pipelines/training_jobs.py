"""Multi-worker training jobs off the pipeline's machine: a Vertex AI CustomJob and a Kubeflow TFJob.

Both run the same entry point on every worker, `detflow train` with the user's arguments, in the detflow
container image; the platform sets TF_CONFIG (a `chief` task and `worker` tasks), from which `detflow train`
builds MultiWorkerMirroredStrategy and decides who writes the model dir (detection/training/strategy.py).
The specs are plain JSON/YAML-ready dicts: `gcloud ai custom-jobs create --config` takes the Vertex one
(its `jobSpec`), `kubectl apply -f` the TFJob (the Kubeflow training operator's `kubeflow.org/v1`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

TARGETS = ("vertex", "tfjob")


@dataclasses.dataclass(frozen=True)
class TrainingJob:
    """What a multi-worker training job runs and on what.

    `train_args`: the arguments after `detflow train` (--config, --train, --model-dir, ...), paths the
    workers can all read and the chief can write (gs://, a shared volume). `workers`: processes in all,
    chief included. `accelerator`: Vertex's accelerator type (e.g. NVIDIA_TESLA_T4) or, for a TFJob,
    the Kubernetes resource (e.g. nvidia.com/gpu); `accelerator_count` of them per worker.
    """

    name: str
    image: str
    train_args: Sequence[str]
    workers: int = 2
    machine_type: str = "n1-standard-8"
    accelerator: str = ""
    accelerator_count: int = 0

    def check(self) -> None:
        """ValueError naming the setting that no job could run with."""
        if self.workers < 1:
            raise ValueError(f"--workers {self.workers}: at least 1 (the chief)")
        if not self.image:
            raise ValueError("--image: the detflow container image every worker runs")
        if bool(self.accelerator) != (self.accelerator_count > 0):
            raise ValueError("--accelerator and --accelerator-count go together")
        args = list(self.train_args)
        for flag in ("--config", "--model-dir"):
            if flag not in args:
                raise ValueError(f"the training arguments need {flag} (a path every worker can read)")

    @property
    def command(self) -> list[str]:
        """What every worker runs."""
        return ["detflow", "train", *self.train_args]


def vertex_custom_job(job: TrainingJob) -> dict:
    """The Vertex AI CustomJob: pool 0 the chief, pool 1 the other workers (Vertex sets TF_CONFIG)."""
    job.check()
    machine = {"machineType": job.machine_type}
    if job.accelerator:
        machine.update(acceleratorType=job.accelerator, acceleratorCount=job.accelerator_count)
    container = {"imageUri": job.image, "command": job.command[:1], "args": job.command[1:]}
    pools = [{"machineSpec": machine, "replicaCount": 1, "containerSpec": container}]
    if job.workers > 1:
        pools.append({"machineSpec": dict(machine), "replicaCount": job.workers - 1, "containerSpec": dict(container)})
    return {"displayName": job.name, "jobSpec": {"workerPoolSpecs": pools}}


def tfjob(job: TrainingJob, namespace: str = "default") -> dict:
    """The Kubeflow training operator's TFJob: a Chief and workers - 1 Workers (the operator sets TF_CONFIG)."""
    job.check()

    def replica(count: int) -> dict:
        container = {"name": "tensorflow", "image": job.image, "command": job.command}   # the operator's name
        if job.accelerator:
            container["resources"] = {"limits": {job.accelerator: job.accelerator_count}}
        return {"replicas": count, "restartPolicy": "OnFailure",
                "template": {"spec": {"containers": [container]}}}

    specs = {"Chief": replica(1)}
    if job.workers > 1:
        specs["Worker"] = replica(job.workers - 1)
    return {"apiVersion": "kubeflow.org/v1", "kind": "TFJob",
            "metadata": {"name": job.name, "namespace": namespace},
            "spec": {"runPolicy": {"cleanPodPolicy": "None"}, "tfReplicaSpecs": specs}}
