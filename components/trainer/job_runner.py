"""Runs a training job (training_jobs.py) to its end: local worker processes, a Vertex AI CustomJob, a TFJob.

`run_job(platform, train_args, log_dir)` returns when the job has succeeded; a job that fails, or cannot be
submitted, raises ProblemsError in one line naming the job (and, for local workers, the worker and its
last log lines). The platforms are driven through their own clients: Vertex AI through the
`google-cloud-aiplatform` SDK (`CustomJob.run`, which waits), Kubernetes through the `kubernetes` client
(the TFJob created in its namespace, then its status conditions polled until Succeeded or Failed).
Local workers write their output to `log_dir/worker-<i>.log`; each is given its share of the machine's
GPUs (`accelerator_count` each, through CUDA_VISIBLE_DEVICES) when the platform names some.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from typing import Callable, Sequence

from components.trainer.training_jobs import JobPlatform, check_train_args, tfjob, vertex_custom_job
from schemas.problems import Problem, ProblemsError

log = logging.getLogger("detflow.train")
TFJOB_POLL_SECONDS = 30
FAILED_WORKER_GRACE_SECONDS = 30
_LOG_TAIL_LINES = 15


def run_job(platform: JobPlatform, train_args: Sequence[str], log_dir: str,
            say: Callable[[str], None] = log.info) -> None:
    """Runs `detflow train train_args` on every worker of `platform` and waits for the job's end."""
    platform.check()
    check_train_args(train_args)
    runners = {"local": _run_local, "vertex": _run_vertex, "tfjob": _run_tfjob}
    runners[platform.target](platform, list(train_args), log_dir, say)


def _failed(platform: JobPlatform, message: str) -> ProblemsError:
    return ProblemsError([Problem(f"training job {platform.name} ({platform.target})", message)])


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:300]}"


def detflow_command() -> list[str]:
    """The `detflow` entry point of this environment (its console script, else the module)."""
    script = os.path.join(os.path.dirname(sys.executable), "detflow")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "pipelines.cli"]


def _worker_env(platform: JobPlatform, workers: list[str], index: int) -> dict:
    from detection.training import strategy  # pylint: disable=import-outside-toplevel
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if platform.workers > 1:
        env["TF_CONFIG"] = strategy.tf_config(workers, index)
    if platform.accelerator_count:
        first = index * platform.accelerator_count
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(first + k) for k in range(platform.accelerator_count))
    return env


def _run_local(platform: JobPlatform, train_args: list[str], log_dir: str, say) -> None:
    """The workers as processes of this machine, one cluster on 127.0.0.1; a failed worker ends the others."""
    from detection.training import strategy  # pylint: disable=import-outside-toplevel
    os.makedirs(log_dir, exist_ok=True)
    workers = strategy.localhost_cluster(platform.workers)
    logs = [os.path.join(log_dir, f"worker-{i}.log") for i in range(platform.workers)]
    procs = []
    for i, path in enumerate(logs):
        with open(path, "w", encoding="utf-8") as out:       # the child keeps its own handle
            procs.append(subprocess.Popen(detflow_command() + ["train", *train_args], env=_worker_env(
                platform, workers, i), stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    say(f"training job {platform.name} (local): {platform.workers} worker(s) running detflow train; logs in "
        f"{log_dir}")
    while any(p.poll() is None for p in procs) and not any(p.poll() for p in procs):
        time.sleep(1)
    # A worker failed (or the chief ended with 1 on an unhealthy model, its result written): the others get
    # FAILED_WORKER_GRACE_SECONDS to end on their own (a worker removes its own folder as it ends), not the
    # collective timeout they would wait for a lost peer.
    deadline = time.time() + FAILED_WORKER_GRACE_SECONDS
    while any(p.poll() is None for p in procs) and time.time() < deadline:
        time.sleep(1)
    for p in procs:
        if p.poll() is None:
            p.terminate()
    codes = [p.wait() for p in procs]
    bad = [i for i, code in enumerate(codes) if code]
    if bad:
        first = min(bad, key=lambda i: (codes[i] < 0, i))     # a worker that failed, before one terminated
        with open(logs[first], encoding="utf-8", errors="replace") as f:
            tail = "".join(f.readlines()[-_LOG_TAIL_LINES:])
        raise _failed(platform, f"worker {first} exited with {codes[first]} ({logs[first]}); its last lines:\n"
                                f"{tail}")
    say(f"training job {platform.name} (local): every worker ended well")


def _run_vertex(platform: JobPlatform, train_args: list[str], log_dir: str, say) -> None:
    """A Vertex AI CustomJob through the SDK; `run` waits for its end and raises if it failed."""
    spec = vertex_custom_job(platform, train_args)
    try:
        from google.cloud import aiplatform  # pylint: disable=import-outside-toplevel
        job = aiplatform.CustomJob(display_name=spec["displayName"],
                                   worker_pool_specs=spec["jobSpec"]["workerPoolSpecs"], base_output_dir=log_dir,
                                   project=platform.project or None, location=platform.region)
        say(f"training job {platform.name}: submitting a Vertex AI CustomJob ({platform.workers} worker(s), "
            f"{platform.machine_type}) in {platform.region}")
        job.run(sync=True)
    except Exception as error:  # pylint: disable=broad-except  (the SDK's auth, API and job errors alike)
        raise _failed(platform, f"the Vertex AI custom job did not succeed ({_first_line(error)})") from None
    say(f"training job {platform.name}: Vertex AI job {job.resource_name} succeeded")


def _run_tfjob(platform: JobPlatform, train_args: list[str], log_dir: str, say) -> None:
    """A TFJob created through the Kubernetes API, then polled until its Succeeded or Failed condition."""
    del log_dir      # the pods' logs stay with the cluster (kubectl logs)
    body = tfjob(platform, train_args)
    body["metadata"]["name"] = f"{platform.name}-{uuid.uuid4().hex[:8]}"     # unique in its namespace
    name, namespace = body["metadata"]["name"], platform.namespace
    try:
        from kubernetes import client, config  # pylint: disable=import-outside-toplevel
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        api = client.CustomObjectsApi()
        api.create_namespaced_custom_object("kubeflow.org", "v1", namespace, "tfjobs", body)
        say(f"training job {platform.name}: TFJob {namespace}/{name} created ({platform.workers} worker(s))")
        while True:
            status = api.get_namespaced_custom_object("kubeflow.org", "v1", namespace, "tfjobs", name).get(
                "status") or {}
            done = [c for c in status.get("conditions") or [] if c.get("type") in ("Succeeded", "Failed")
                    and c.get("status") == "True"]
            if done:
                break
            time.sleep(TFJOB_POLL_SECONDS)
    except Exception as error:  # pylint: disable=broad-except  (configuration, API and connection errors alike)
        raise _failed(platform, f"the TFJob could not be run ({_first_line(error)})") from None
    if done[0]["type"] == "Failed":
        raise _failed(platform, f"TFJob {namespace}/{name} failed: {done[0].get('message', '')} (kubectl logs -n "
                                f"{namespace} -l training.kubeflow.org/job-name={name})")
    say(f"training job {platform.name}: TFJob {namespace}/{name} succeeded")
