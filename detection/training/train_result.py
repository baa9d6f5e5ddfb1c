"""What a training run did (`TrainResult`) and where it is recorded (`write_result`: train_result.json)."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import tensorflow as tf

from schemas.model_layout import TRAIN_RESULT_FILE


@dataclasses.dataclass(frozen=True)
class TrainPaths:
    """Where a run's outputs are."""

    model_dir: str
    export_dir: str | None
    checkpoint: str                               # the last training checkpoint
    export_checkpoint: str | None = None          # the weights exported (moving averages, re-estimated BN)


@dataclasses.dataclass(frozen=True)
class TrainLosses:
    """The loss at the start and the end (total and each part), and on the eval split."""

    final_loss: float
    final_cls_loss: float
    final_box_loss: float
    first_loss: float | None
    eval_loss: float | None = None
    final_losses: dict[str, float] = dataclasses.field(default_factory=dict)
    first_losses: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Throughput:
    """Steady-state speed and the loop's wall time."""

    images_per_sec: float
    steps_per_sec: float
    seconds: float


@dataclasses.dataclass(frozen=True)
class BoxCounts:
    """Boxes the input pipeline left out: beyond max_number_of_boxes, or of a class the label map lacks."""

    boxes_dropped: int
    boxes_unknown_class: int
    max_number_of_boxes: int


@dataclasses.dataclass(frozen=True)
class VariableCounts:
    """What was trained and what was exported."""

    num_trainable_variables: int
    num_fixed_variables: int
    moving_average_exported: bool


@dataclasses.dataclass(frozen=True)
class Distribution:
    """How the run was spread and computed: the tf.distribute strategy, its replicas, the dtype policy
    (training/precision.py), and this process's part in a cluster."""

    strategy: str = ""
    num_replicas: int = 1
    precision: str = "float32"
    worker: str = ""                     # "worker 1 of 2" in a multi-worker cluster, "" for one process
    chief: bool = True                   # False: a worker whose files were its own, removed at the end


# The groups' fields are train_result.json's keys, one level: the file users read stays flat.
_GROUPS = ("paths", "losses", "throughput", "boxes", "variables", "distribution")


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a training run did; `to_dict()` is what gets recorded (train_result.json), `from_dict` reads it."""

    paths: TrainPaths
    start_step: int
    steps: int
    batch_size: int
    losses: TrainLosses
    throughput: Throughput
    boxes: BoxCounts
    variables: VariableCounts
    restore_report: dict | None
    distribution: Distribution = Distribution()
    meta_architecture: str = "ssd"
    batch_norm: dict | None = None       # batch_norm_stats.Reestimation.to_dict(): re-estimated before export?
    health: dict | None = None           # serving.model_health.Health.to_dict() of the exported weights
    tflite: list | None = None           # tflite_export's variants, when asked for

    @property
    def healthy(self) -> bool:
        """False when the exported model's outputs do not depend on the input or the loss rose."""
        return bool((self.health or {}).get("healthy", True))

    @property
    def resumed(self) -> bool:
        """True when this run continued from a checkpoint of an earlier, interrupted run."""
        return self.start_step > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, the groups' fields at the top level."""
        d = dataclasses.asdict(self)
        for group in _GROUPS:
            d.update(d.pop(group))
        if d["tflite"] is None:
            del d["tflite"]
        d["resumed"] = self.resumed
        d["healthy"] = self.healthy
        return d

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "TrainResult":
        """The TrainResult of a `to_dict()` (keys it does not know are ignored)."""
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        groups = {name: _GROUP_TYPES[name](**{f.name: doc[f.name] for f in dataclasses.fields(_GROUP_TYPES[name])
                                               if f.name in doc})
                  for name in _GROUPS}
        return cls(**groups, **{k: doc[k] for k in types if k not in _GROUPS and k in doc})


_GROUP_TYPES = {"paths": TrainPaths, "losses": TrainLosses, "throughput": Throughput, "boxes": BoxCounts,
                "variables": VariableCounts, "distribution": Distribution}


def write_result(result: TrainResult, folder: str) -> str:
    """Writes `result` as folder/train_result.json (any file system); returns the path."""
    path = os.path.join(folder, TRAIN_RESULT_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(result.to_dict(), f, indent=1)
    return path
