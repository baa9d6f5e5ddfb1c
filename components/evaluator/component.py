"""The detflow Evaluator: COCO metrics of the candidate (and baseline) model, and a blessing.

A thin custom TFX component; the work is in `model_eval`, `coco_metrics`,
`blessing` and `components.common.visualize`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifact_types import LabelMapFile
from components.evaluator import executor
from components.evaluator.coco_metrics import HEADLINE_METRIC
from components.names import (BASELINE_MODEL_KEY, BLESSING_KEY, CHAMPION_MODEL_KEY, CODE_VERSION_KEY,
                              EVALUATION_KEY, EXAMPLES_KEY, LABEL_MAP_KEY, MODEL_KEY)

class EvaluatorSpec(types.ComponentSpec):
    """Inputs, parameters and outputs of the detflow Evaluator."""

    PARAMETERS = {
        "min_map": ExecutionParameter(type=float),
        "max_regression": ExecutionParameter(type=float),
        "metric": ExecutionParameter(type=str),
        "eval_split": ExecutionParameter(type=str),
        "num_images_drawn": ExecutionParameter(type=int),
        "batch_size": ExecutionParameter(type=int),
        "max_quantization_drop": ExecutionParameter(type=float, optional=True),
        CODE_VERSION_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
        CHAMPION_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
        LABEL_MAP_KEY: ChannelParameter(type=LabelMapFile, optional=True),
    }
    OUTPUTS = {
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


@dataclasses.dataclass(frozen=True)
class EvaluatorParameters:
    """The Evaluator's execution parameters: what is measured and what a blessing needs.

    min_map: value threshold — the candidate's `metric` must reach it.
    max_regression: change threshold — allowed drop of `metric` below the baseline's.
    metric: the metric judged (an OD API COCO metric name). eval_split: the split
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
        executor.check_metric_name(self.metric)
        if self.max_regression < 0:
            raise ValueError(f"max_regression must be >= 0, got {self.max_regression}")
        if self.max_quantization_drop is not None and not 0 <= self.max_quantization_drop <= 1:
            raise ValueError(f"max_quantization_drop must be in [0, 1], got {self.max_quantization_drop}")

    def exec_properties(self) -> dict:
        """The spec's parameters (max_quantization_drop only when it is set)."""
        values = {"min_map": float(self.min_map), "max_regression": float(self.max_regression),
                  "metric": self.metric, "eval_split": self.eval_split,
                  "num_images_drawn": int(self.num_images_drawn), "batch_size": int(self.batch_size)}
        if self.max_quantization_drop is not None:
            values["max_quantization_drop"] = float(self.max_quantization_drop)
        return values


class Evaluator(base_component.BaseComponent):
    """Evaluates the model on the eval split with COCO metrics and blesses it or not.

    Args:
      examples: Examples with an `eval_split` split of OD API tf.Examples.
      model: the candidate Model (SavedModel under `Format-Serving`).
      baseline_model: optional; the latest blessed Model (a Resolver with
        LatestBlessedModelStrategy), evaluated on the same split in this run.
      label_map: optional LabelMapFile (or ValidatedLabelMap): label_map.pbtxt or a
        folder holding it; default: the label map inside the candidate's export.
      champion_model: optional; an imported Model whose URI is any model `detflow predict`
        reads (a SavedModel or OD API export folder, a .tflite file): evaluated on the same
        split, and the candidate may fall at most `max_regression` below it.
      parameters: EvaluatorParameters (thresholds, metric, split, drawing, batch size).

    Every TFLite variant the Model carries (Format-TFLite/model_<mode>.tflite) is
    evaluated on the same images; its metrics go into metrics.json (`tflite`) and
    onto the evaluation as `tflite_<mode>:<metric>` with `tflite_<mode>_drop`.

    Outputs `evaluation` (ModelEvaluation: metrics.json, pr_curves.png,
    confusion_matrix.png, examples/*.png) and `blessing` (ModelBlessing with int
    `blessed`, `current_model_id`, `baseline_model_id` and a BLESSED or
    NOT_BLESSED file), which the standard Pusher and LatestBlessedModelStrategy read.
    """

    SPEC_CLASS = EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
                 baseline_model: Optional[types.BaseChannel] = None,
                 label_map: Optional[types.BaseChannel] = None,
                 parameters: EvaluatorParameters = EvaluatorParameters(),
                 champion_model: Optional[types.BaseChannel] = None):
        parameters.check()
        spec = EvaluatorSpec(
            examples=examples, model=model, baseline_model=baseline_model, label_map=label_map,
            champion_model=champion_model,
            **parameters.exec_properties(),
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing))
        super().__init__(spec=spec)
