"""LabelMapValidator: a TFX component that checks the label map against the config and the data.

Thin: `executor.Executor` reads the artifacts and calls
`schemas.label_map_validation`; hard problems fail the run with a readable list.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifact_types import LabelMapFile, PipelineConfigFile, ValidatedLabelMap
from components.label_map_validator import executor
from components.names import (CODE_VERSION_KEY, EXAMPLES_KEY, LABEL_MAP_KEY, PIPELINE_CONFIG_KEY,
                              VALIDATED_LABEL_MAP_KEY)

# Optional parameter the pipeline sets so a code change re-runs the node.
MAX_DROPPED_BOX_SHARE_KEY = executor.MAX_DROPPED_BOX_SHARE_KEY
ALLOW_EMPTY_CLASSES_KEY = executor.ALLOW_EMPTY_CLASSES_KEY


class LabelMapValidatorSpec(types.ComponentSpec):
    """Inputs, parameters and outputs of the LabelMapValidator."""

    PARAMETERS = {CODE_VERSION_KEY: ExecutionParameter(type=str, optional=True),
                  MAX_DROPPED_BOX_SHARE_KEY: ExecutionParameter(type=float, optional=True),
                  ALLOW_EMPTY_CLASSES_KEY: ExecutionParameter(type=int, optional=True)}
    INPUTS = {
        LABEL_MAP_KEY: ChannelParameter(type=LabelMapFile),
        PIPELINE_CONFIG_KEY: ChannelParameter(type=PipelineConfigFile),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {VALIDATED_LABEL_MAP_KEY: ChannelParameter(type=ValidatedLabelMap)}


class LabelMapValidator(base_component.BaseComponent):
    """Validates a label map against a pipeline.config and the class names in Examples.

    A CenterNet config's keypoint tasks are checked too: against the keypoint label map
    it names (as given, else beside the config), this label map and the data's keypoint
    names (`schemas.label_map_validation.keypoint_task_errors`).

    Args:
      label_map: a LabelMapFile channel (file or folder with label_map.pbtxt).
      pipeline_config: a PipelineConfigFile channel (file or folder with pipeline.config).
      examples: Examples whose splits hold gzipped TFRecords of OD API tf.Examples.
      max_dropped_box_share: fail when the ExampleGen dropped more than this share of
        the boxes (None: no limit).
      allow_empty_classes: train even when a class of the map has no training box.

    Output `validated_label_map`: a ValidatedLabelMap folder with label_map.pbtxt and
    validation.json, and custom properties content_hash, num_classes, class_counts, valid.
    """

    SPEC_CLASS = LabelMapValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, label_map: types.BaseChannel, pipeline_config: types.BaseChannel,
                 examples: types.BaseChannel, max_dropped_box_share: float | None = None,
                 allow_empty_classes: bool = False):
        spec = LabelMapValidatorSpec(
            label_map=label_map, pipeline_config=pipeline_config, examples=examples,
            validated_label_map=types.Channel(type=ValidatedLabelMap),
            **({MAX_DROPPED_BOX_SHARE_KEY: float(max_dropped_box_share)} if max_dropped_box_share is not None else {}),
            **{ALLOW_EMPTY_CLASSES_KEY: int(bool(allow_empty_classes))})
        super().__init__(spec=spec)
