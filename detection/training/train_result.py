"""What a training run did (`TrainResult`) and where it is recorded (`write_result`: train_result.json)."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import tensorflow as tf

from schemas.model_layout import TRAIN_RESULT_FILE


@dataclasses.dataclass
class TrainResult:
    """What a training run did; `to_dict()` is what gets recorded."""

    model_dir: str
    export_dir: str | None
    checkpoint: str
    start_step: int
    steps: int
    batch_size: int
    final_loss: float
    final_cls_loss: float
    final_box_loss: float
    first_loss: float | None
    images_per_sec: float
    steps_per_sec: float
    seconds: float
    boxes_dropped: int
    boxes_unknown_class: int
    max_number_of_boxes: int
    num_trainable_variables: int
    num_fixed_variables: int
    moving_average_exported: bool
    restore_report: dict | None
    export_checkpoint: str | None = None
    eval_loss: float | None = None
    strategy: str = ""
    num_replicas: int = 1
    meta_architecture: str = "ssd"
    final_losses: dict[str, float] = dataclasses.field(default_factory=dict)   # total and each part
    first_losses: dict[str, float] = dataclasses.field(default_factory=dict)
    batch_norm: dict | None = None       # batch_norm_stats.Reestimation.to_dict(): re-estimated before export?
    health: dict | None = None           # common.model_health.Health.to_dict() of the exported weights

    @property
    def healthy(self) -> bool:
        """False when the exported model's outputs do not depend on the input or the loss rose."""
        return bool((self.health or {}).get("healthy", True))

    @property
    def resumed(self) -> bool:
        """True when this run continued from a checkpoint of an earlier, interrupted run."""
        return self.start_step > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["resumed"] = self.resumed
        d["healthy"] = self.healthy
        return d



def write_result(result: TrainResult | dict, folder: str) -> str:
    """Writes `result` as folder/train_result.json (any file system); returns the path."""
    path = os.path.join(folder, TRAIN_RESULT_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(result if isinstance(result, dict) else result.to_dict(), f, indent=1)
    return path
