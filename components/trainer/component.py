"""DetectionTrainer: fine-tunes the detector a pipeline.config names, with the config, label map and start model as inputs.

TFX's own Trainer has no channel for a pipeline.config or a label map, reads
`base_model` as `<uri>/Format-Serving` (which an imported checkpoint folder
does not have) and hands its settings to a `run_fn` through a JSON
`custom_config`. So that ML Metadata records which data, label map, config and
base checkpoint produced a model, and every setting is a typed parameter of the
execution, this component has its own spec: the inputs as channels, the
training settings as `ExecutionParameter`s (`TrainerParameters`), and an
executor that calls `train_loop.train` in its `Do`, as TFX's Evaluator calls TFMA.
"""

from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifact_types import LabelMapFile, PipelineConfigFile
from components.names import (BASE_MODEL_KEY, BATCH_SIZE_KEY, CHECKPOINT_EVERY_KEY, CODE_VERSION_KEY,
                              EXAMPLES_KEY, FREEZE_BACKBONE_KEY, LABEL_MAP_KEY, MODEL_KEY, MODEL_RUN_KEY,
                              NUM_STEPS_KEY, PIPELINE_CONFIG_KEY, PRECISION_KEY, STRATEGY_KEY, TFLITE_MODES_KEY, TPU_KEY,
                              TRAINING_JOB_KEY,
                              TFLITE_REPRESENTATIVE_SIZE_KEY, BN_REESTIMATE_KEY, BN_REESTIMATE_BATCHES_KEY)
from components.trainer import executor
from components.trainer.parameters import TrainerParameters

__all__ = ["DetectionTrainer", "DetectionTrainerSpec", "TrainerParameters"]


class DetectionTrainerSpec(types.ComponentSpec):
    """Inputs, parameters and outputs of DetectionTrainer."""

    PARAMETERS = {
        NUM_STEPS_KEY: ExecutionParameter(type=int, optional=True),
        BATCH_SIZE_KEY: ExecutionParameter(type=int, optional=True),
        FREEZE_BACKBONE_KEY: ExecutionParameter(type=bool, optional=True),
        CHECKPOINT_EVERY_KEY: ExecutionParameter(type=int, optional=True),
        STRATEGY_KEY: ExecutionParameter(type=str, optional=True),
        TPU_KEY: ExecutionParameter(type=str, optional=True),
        PRECISION_KEY: ExecutionParameter(type=str, optional=True),
        TRAINING_JOB_KEY: ExecutionParameter(type=str, optional=True),
        TFLITE_MODES_KEY: ExecutionParameter(type=str, optional=True),
        TFLITE_REPRESENTATIVE_SIZE_KEY: ExecutionParameter(type=int, optional=True),
        BN_REESTIMATE_KEY: ExecutionParameter(type=str, optional=True),
        BN_REESTIMATE_BATCHES_KEY: ExecutionParameter(type=int, optional=True),
        CODE_VERSION_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        PIPELINE_CONFIG_KEY: ChannelParameter(type=PipelineConfigFile),
        LABEL_MAP_KEY: ChannelParameter(type=LabelMapFile, optional=True),
        BASE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_RUN_KEY: ChannelParameter(type=standard_artifacts.ModelRun),
    }


class DetectionTrainer(base_component.BaseComponent):
    """Fine-tunes the detector a pipeline.config names on ExampleGen output.

    Args:
      examples: Examples with `train` and `eval` splits of OD API tf.Examples.
      pipeline_config: PipelineConfigFile (the file, or a folder holding pipeline.config).
      label_map: optional LabelMapFile / ValidatedLabelMap; default: the config's label_map_path.
      base_model: optional Model to start from (the imported embedded checkpoint, or
        the latest blessed model); restored per the config's fine_tune_checkpoint_type.
      parameters: TrainerParameters (steps, batch, strategy, TPU, precision, a training job off this machine,
        TFLite variants, code version).

    Outputs `model` (Model: SavedModel under Format-Serving, the .tflite files under
    Format-TFLite when asked (`tflite_variants` property), `train_result.json`,
    custom properties with the stats, `start_step` and `resumed`) and `model_run`
    (ModelRun: TensorBoard logs and training checkpoints).

    A killed execution resumes: a later execution with the same input artifacts
    and parameters (the code version included) continues from the last
    checkpoint the killed one left under `<pipeline_root>/<node id>/.resume/<key>/`
    (see resume.py); a completed execution leaves no such folder.
    """

    SPEC_CLASS = DetectionTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, pipeline_config: types.BaseChannel,
                 label_map: Optional[types.BaseChannel] = None, base_model: Optional[types.BaseChannel] = None,
                 parameters: TrainerParameters = TrainerParameters()):
        parameters.check()
        spec = DetectionTrainerSpec(
            **{EXAMPLES_KEY: examples, PIPELINE_CONFIG_KEY: pipeline_config, LABEL_MAP_KEY: label_map,
               BASE_MODEL_KEY: base_model},
            **parameters.to_exec_properties(),
            **{MODEL_KEY: types.Channel(type=standard_artifacts.Model),
               MODEL_RUN_KEY: types.Channel(type=standard_artifacts.ModelRun)})
        super().__init__(spec=spec)
