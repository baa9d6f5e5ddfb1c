"""The one place a `tf.distribute` strategy is chosen for training, and what each worker of it writes.

Names (the DetectionTrainer's `strategy` parameter; `detflow train --strategy`; "auto" elsewhere):
- "auto": MultiWorkerMirroredStrategy when TF_CONFIG names a cluster of more
  than one worker (chief included), else MirroredStrategy over all GPUs when
  there are several, the one GPU when there is one, else TF's default strategy
  (the CPU);
- "multi_worker": MultiWorkerMirroredStrategy over the cluster TF_CONFIG names
  (one worker without it);
- "mirrored": MirroredStrategy over all GPUs (the CPU when there are none);
- "one_device": the first GPU, else the CPU;
- "default": TF's default strategy;
- "tpu": TPUStrategy on the TPU `tpu` names (`detflow train --tpu`: a TPU
  name or grpc:// address, "local" for a TPU VM's own chips).

A MultiWorkerMirroredStrategy must exist before TensorFlow runs anything in the
process (its collectives are configured at start-up): `train_loop.train` builds
the strategy first.

Each worker of a cluster trains the same steps; only the chief writes into the
model dir (checkpoints, TensorBoard events, the export, train_result.json). The
others write the same files into a folder of their own (`worker_dir`), as the
TF multi-worker guide prescribes (every worker takes part in a save), which is
removed when training ends.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket

STRATEGIES = ("auto", "multi_worker", "mirrored", "one_device", "default", "tpu")
# MultiWorkerMirroredStrategy's collectives give up after this long without a peer (a lost worker): the job
# then fails naming its last checkpoint, instead of waiting forever.
COLLECTIVE_TIMEOUT_SECONDS = 120


def check_strategy(name: str) -> None:
    """Raises ValueError unless `name` is one of STRATEGIES."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy = {name!r}: expected one of {', '.join(STRATEGIES)}")


def _parsed(tf_config: str | None) -> dict:
    """TF_CONFIG (or `tf_config`) as a dict; {} when unset. ValueError when it is not JSON."""
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not JSON ({error}): {text[:200]!r}") from None


def _size(cluster: dict) -> int:
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def cluster_size(tf_config: str | None = None) -> int:
    """The number of workers (chief included) TF_CONFIG (or `tf_config`) names; 1 without a cluster.

    ValueError when TF_CONFIG is not JSON.
    """
    return _size(_parsed(tf_config).get("cluster") or {})


def localhost_cluster(num_workers: int) -> list[str]:
    """`num_workers` addresses on free 127.0.0.1 ports: a cluster of workers on this machine (tests, benchmarks)."""
    sockets = [socket.socket() for _ in range(num_workers)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(workers: list[str], index: int) -> str:
    """The TF_CONFIG of worker `index` of the cluster `workers` (no separate chief: worker 0 is the chief)."""
    return json.dumps({"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}})


def build_strategy(name: str = "auto", multi_worker: bool = True, tpu: str = ""):
    """The tf.distribute strategy `name` stands for (see the module doc). `multi_worker=False` (a process that
    has already run TensorFlow, such as the pipeline's Trainer) leaves TF_CONFIG out of "auto"; a `tpu` makes
    "auto" the TPUStrategy on it. ValueError naming the TPU when none can be reached."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    check_strategy(name)
    if tpu and name not in ("auto", "tpu"):
        raise ValueError(f"strategy {name} with a TPU ({tpu}): a TPU trains with strategy auto or tpu")
    if name == "tpu" or (name == "auto" and tpu):
        return tpu_strategy(tpu)
    if name == "multi_worker" or (name == "auto" and multi_worker and cluster_size() > 1):
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "one_device" or (name == "auto" and gpus):
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def tpu_strategy(tpu: str):
    """TPUStrategy on the TPU `tpu` names (the TPU system initialised); ValueError naming it when it cannot be
    reached or is not a TPU."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    if not tpu:
        raise ValueError("strategy tpu: name the TPU (--tpu NAME, a grpc:// address, or 'local' on a TPU VM)")
    try:
        # A TPU name is looked up in the Cloud TPU API (from GCE's metadata server).
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        master = resolver.master()
    except (ValueError, RuntimeError, OSError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise ValueError(f"--tpu {tpu}: no TPU of that name could be found ({type(error).__name__}: {first})") \
            from None
    _check_reachable(master, tpu)
    try:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise ValueError(f"--tpu {tpu}: no TPU could be reached ({type(error).__name__}: {first})") from None
    return tf.distribute.TPUStrategy(resolver)


def _check_reachable(master: str, tpu: str, timeout_seconds: float = 10.0) -> None:
    """ValueError unless the TPU's grpc://host:port answers (TF waits for an absent one without end)."""
    address = master.split("://", 1)[-1]
    if not address or ":" not in address:      # "local" on a TPU VM: no address to try
        return
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=timeout_seconds).close()
    except (OSError, ValueError) as error:
        raise ValueError(f"--tpu {tpu}: no TPU answers at {address} ({error})") from None


def is_tpu(strategy) -> bool:
    """Whether `strategy` trains on a TPU."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return isinstance(strategy, tf.distribute.TPUStrategy)


def strategy_name(strategy) -> str:
    """The strategy's public name (TF's MultiWorkerMirroredStrategy is a CollectiveAllReduceStrategy inside)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    return type(strategy).__name__


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """Which worker of a cluster this process is."""

    task_type: str | None
    task_id: int
    num_workers: int
    has_chief: bool = False      # the cluster names a "chief" task (else worker 0 is the chief)

    @property
    def is_chief(self) -> bool:
        """The chief, or worker 0 of a cluster without one, or the only process."""
        return self.task_type in (None, "chief") or (self.task_type == "worker" and self.task_id == 0
                                                     and not self.has_chief)

    def describe(self) -> str:
        """'worker 1 of 2' / 'chief of 3'; '' for a single process."""
        if self.num_workers <= 1:
            return ""
        who = "chief" if self.task_type == "chief" else f"{self.task_type} {self.task_id}"
        return f"{who} of {self.num_workers}" + (" (chief)" if self.is_chief and self.task_type != "chief" else "")


def tf_config_role(tf_config: str | None = None) -> WorkerRole:
    """This process's role in the cluster TF_CONFIG (or `tf_config`) names, read without TensorFlow; a
    single-process role without a cluster."""
    config = _parsed(tf_config)
    task, cluster = config.get("task") or {}, config.get("cluster") or {}
    size = _size(cluster)
    if size <= 1 or not task.get("type"):
        return WorkerRole(None, 0, 1)
    return WorkerRole(task["type"], int(task.get("index", 0)), size, has_chief=bool(cluster.get("chief")))


def worker_role(strategy) -> WorkerRole:
    """This process's role in `strategy`'s cluster (a single-process role for any other strategy)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return tf_config_role()
    return WorkerRole(None, 0, 1)


def worker_dir(model_dir: str, role: WorkerRole) -> str:
    """Where this worker writes: the model dir for the chief, `<model_dir>/.worker-<type>-<id>` for the others."""
    if role.is_chief:
        return model_dir
    return os.path.join(model_dir, f".worker-{role.task_type}-{role.task_id}")
