"""DetectionTrainer: TFX's Trainer with the config, label map and start checkpoint as inputs.

TFX's own Trainer has no channel for a pipeline.config or a label map, and
reads `base_model` as `<uri>/Format-Serving`. So that ML Metadata records
which data, label map, config and base checkpoint produced a model, this
component's spec is TrainerSpec plus `pipeline_config` (PipelineConfigFile)
and `label_map` (LabelMapFile, which accepts a ValidatedLabelMap); the
executor passes their URIs (and the base model's own URI) to `run_fn`, which
trains with `train_loop.train`, and records the training stats and restore
report on the output Model.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import channel_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter

from components.artifact_types import LabelMapFile, PipelineConfigFile
from components.names import LABEL_MAP_KEY, PIPELINE_CONFIG_KEY
from components.trainer import executor
from components.trainer import strategy as strategy_lib

RUN_FN = "components.trainer.run_fn.run_fn"


class DetectionTrainerSpec(standard_component_specs.TrainerSpec):
    """TrainerSpec + the pipeline.config and label map the model was trained with."""

    INPUTS = {
        **standard_component_specs.TrainerSpec.INPUTS,
        PIPELINE_CONFIG_KEY: ChannelParameter(type=PipelineConfigFile),
        LABEL_MAP_KEY: ChannelParameter(type=LabelMapFile, optional=True),
    }


class DetectionTrainer(base_component.BaseComponent):
    """Fine-tunes the detector a pipeline.config names on ExampleGen output.

    Args:
      examples: Examples with `train` and `eval` splits of OD API tf.Examples.
      pipeline_config: PipelineConfigFile (the file, or a folder holding pipeline.config).
      label_map: optional LabelMapFile / ValidatedLabelMap; default: the config's label_map_path.
      base_model: optional Model to start from (the imported embedded checkpoint, or
        the latest blessed model); restored per the config's fine_tune_checkpoint_type.
      num_steps: optional override of train_config.num_steps (also `custom_config['num_steps']`).
      custom_config: optional dict: `num_steps`, `batch_size`, `freeze_backbone` (default
        true), `checkpoint_every`, `strategy` (the tf.distribute strategy: "auto", the
        default, is MirroredStrategy over several GPUs, one GPU, else the CPU; "mirrored":
        MirroredStrategy over all GPUs; "one_device": the first GPU, else the CPU;
        "default": TF's default strategy), `tflite` (quantize modes, e.g. ["none", "int8"]:
        one .tflite each under `Format-TFLite/`, int8 calibrated on
        `tflite_representative_size` train images, 100 by default); any other key (e.g. a code version) only
        changes the cache key (and the resume key).
      run_fn: the training entry point (module path).

    Outputs `model` (Model: SavedModel under Format-Serving, the .tflite files under
    Format-TFLite when asked (`tflite_variants` property), `train_result.json`,
    custom properties with the stats, `start_step` and `resumed`) and `model_run`
    (ModelRun: TensorBoard logs and training checkpoints).

    A killed execution resumes: a later execution with the same input artifacts
    and exec properties (custom_config included, so the same code version)
    continues from the last checkpoint the killed one left under
    `<pipeline_root>/<node id>/.resume/<key>/` (see executor.py); a completed
    execution leaves no such folder.
    """

    SPEC_CLASS = DetectionTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, pipeline_config: types.BaseChannel,
                 label_map: Optional[types.BaseChannel] = None,
                 base_model: Optional[types.BaseChannel] = None, num_steps: Optional[int] = None,
                 custom_config: Optional[dict[str, Any]] = None, run_fn: str = RUN_FN):
        custom_config = dict(custom_config or {})
        strategy_lib.check_strategy(custom_config.get("strategy", "auto"))
        if custom_config.get("tflite"):
            from components.trainer import tflite_export  # pylint: disable=import-outside-toplevel
            tflite_export.check_modes(list(custom_config["tflite"]), "custom_config['tflite']")
        if num_steps is not None:
            custom_config["num_steps"] = int(num_steps)
        spec = DetectionTrainerSpec(
            examples=examples, pipeline_config=pipeline_config, label_map=label_map, base_model=base_model,
            train_args=trainer_pb2.TrainArgs(num_steps=int(custom_config.get("num_steps", 0))),
            eval_args=trainer_pb2.EvalArgs(),
            run_fn=run_fn, custom_config=json.dumps(custom_config, sort_keys=True),
            model=channel_utils.as_channel([standard_artifacts.Model()]),
            model_run=channel_utils.as_channel([standard_artifacts.ModelRun()]))
        super().__init__(spec=spec)
