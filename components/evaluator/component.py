"""The detflow Evaluator: COCO metrics of the candidate (and baseline) model, and a blessing.

A thin custom TFX component; the work is in `model_eval`, `coco_metrics`,
`blessing` and `detection.visualize`.
"""

from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifact_types import LabelMapFile
from components.evaluator import executor
from components.evaluator.parameters import EvaluatorParameters
from components.names import (BASELINE_MODEL_KEY, BLESSING_KEY, CHAMPION_MODEL_KEY, CODE_VERSION_KEY,
                              EVAL_BATCH_SIZE_KEY, EVAL_SPLIT_KEY, EVALUATION_KEY, EXAMPLES_KEY, LABEL_MAP_KEY,
                              MAX_QUANTIZATION_DROP_KEY, MAX_REGRESSION_KEY, METRIC_KEY, MIN_MAP_KEY, MODEL_KEY,
                              NUM_IMAGES_DRAWN_KEY)

__all__ = ["Evaluator", "EvaluatorParameters", "EvaluatorSpec"]


class EvaluatorSpec(types.ComponentSpec):
    """Inputs, parameters and outputs of the detflow Evaluator."""

    PARAMETERS = {
        MIN_MAP_KEY: ExecutionParameter(type=float),
        MAX_REGRESSION_KEY: ExecutionParameter(type=float),
        METRIC_KEY: ExecutionParameter(type=str),
        EVAL_SPLIT_KEY: ExecutionParameter(type=str),
        NUM_IMAGES_DRAWN_KEY: ExecutionParameter(type=int),
        EVAL_BATCH_SIZE_KEY: ExecutionParameter(type=int),
        MAX_QUANTIZATION_DROP_KEY: ExecutionParameter(type=float, optional=True),
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

    When the candidate's pipeline.config asks for COCO keypoint metrics
    (`eval_config.parameterized_metric { coco_keypoint_metrics { ... } }`) and the model
    gives keypoints, each class's 10 keypoint metrics (`Keypoints_Precision/mAP
    ByCategory/<class>` ..., see `keypoint_metrics`) are recorded beside the box metrics,
    and any of them can be `parameters.metric`.

    Outputs `evaluation` (ModelEvaluation: metrics.json, summary.txt, pr_curves.png,
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
            **parameters.to_exec_properties(),
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing))
        super().__init__(spec=spec)
