"""The Evaluator's execution parameters, written to exec_properties and read back in one place."""

from __future__ import annotations

import dataclasses
from typing import Optional

from components.evaluator.coco_metrics import HEADLINE_METRIC, check_metric_name
from components.names import (EVAL_BATCH_SIZE_KEY, EVAL_SPLIT_KEY, MAX_QUANTIZATION_DROP_KEY, MAX_REGRESSION_KEY,
                              METRIC_KEY, MIN_MAP_KEY, NUM_IMAGES_DRAWN_KEY)


@dataclasses.dataclass(frozen=True)
class EvaluatorParameters:
    """The Evaluator's execution parameters: what is measured and what a blessing needs.

    min_map: value threshold — the candidate's `metric` must reach it.
    max_regression: change threshold — allowed drop of `metric` below the baseline's.
    metric: the metric judged (an OD API COCO metric name, or a keypoint metric
    `Keypoints_... ByCategory/<class>` of a model whose pipeline.config asks for it:
    `keypoint_metrics`). eval_split: the split
    evaluated. num_images_drawn: eval images drawn with predicted and true boxes.
    batch_size: images (of equal size) per model call. max_quantization_drop:
    optional; the most the int8 TFLite model's `metric` may fall below the
    SavedModel's for a blessing (the Model must carry an int8 variant under
    Format-TFLite).
    """

    min_map: float = 0.0
    max_regression: float = 0.0
    metric: str = HEADLINE_METRIC
    eval_split: str = "eval"
    num_images_drawn: int = 4
    batch_size: int = 8
    max_quantization_drop: Optional[float] = None

    def check(self) -> None:
        """ValueError naming the parameter for a threshold or metric no evaluation can use."""
        check_metric_name(self.metric)
        if self.max_regression < 0:
            raise ValueError(f"max_regression must be >= 0, got {self.max_regression}")
        if self.max_quantization_drop is not None and not 0 <= self.max_quantization_drop <= 1:
            raise ValueError(f"max_quantization_drop must be in [0, 1], got {self.max_quantization_drop}")

    def to_exec_properties(self) -> dict:
        """The spec's parameters (max_quantization_drop only when it is set)."""
        values = {MIN_MAP_KEY: float(self.min_map), MAX_REGRESSION_KEY: float(self.max_regression),
                  METRIC_KEY: self.metric, EVAL_SPLIT_KEY: self.eval_split,
                  NUM_IMAGES_DRAWN_KEY: int(self.num_images_drawn), EVAL_BATCH_SIZE_KEY: int(self.batch_size)}
        if self.max_quantization_drop is not None:
            values[MAX_QUANTIZATION_DROP_KEY] = float(self.max_quantization_drop)
        return values

    @classmethod
    def from_exec_properties(cls, properties: dict) -> "EvaluatorParameters":
        """The parameters `to_exec_properties` wrote (what the executor's `Do` receives)."""
        drop = properties.get(MAX_QUANTIZATION_DROP_KEY)
        return cls(min_map=float(properties[MIN_MAP_KEY]), max_regression=float(properties[MAX_REGRESSION_KEY]),
                   metric=properties[METRIC_KEY], eval_split=properties[EVAL_SPLIT_KEY],
                   num_images_drawn=int(properties[NUM_IMAGES_DRAWN_KEY]),
                   batch_size=int(properties[EVAL_BATCH_SIZE_KEY]),
                   max_quantization_drop=None if drop is None else float(drop))
