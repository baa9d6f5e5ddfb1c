"""The TFX boundary of the custom components: every parameter survives exec_properties and comes back the same.

Each `*Parameters` is written by `to_exec_properties` into a real component's spec (TFX type-checks
it there) and read back by `from_exec_properties`, as the executor's `Do` reads it: every field,
its default, and a list.
"""

from __future__ import annotations

import dataclasses

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.artifact_types import PipelineConfigFile
from components.evaluator.component import Evaluator, EvaluatorParameters
from components.trainer.component import DetectionTrainer, TrainerParameters
from components.trainer.training_jobs import JobPlatform

TRAINER_CHANGES = {"num_steps": 7, "batch_size": 3, "freeze_backbone": False, "checkpoint_every": 5,
                   "strategy": "mirrored", "tpu": "grpc://10.0.0.2:8470", "precision": "mixed_float16",
                   "tflite": ("none", "int8"), "tflite_representative_size": 12,
                   "bn_reestimate": "off", "bn_reestimate_batches": 9, "code_version": "abc123",
                   "training_job": JobPlatform("vertex", workers=3, image="eu.gcr.io/p/detflow:1")}
EVALUATOR_CHANGES = {"min_map": 0.25, "max_regression": 0.01, "metric": "DetectionBoxes_Precision/mAP@.50IOU",
                     "eval_split": "test", "num_images_drawn": 0, "batch_size": 2, "max_quantization_drop": 0.05}


def _through_trainer(parameters: TrainerParameters) -> TrainerParameters:
    component = DetectionTrainer(examples=types.Channel(type=standard_artifacts.Examples),
                                 pipeline_config=types.Channel(type=PipelineConfigFile), parameters=parameters)
    return TrainerParameters.from_exec_properties(dict(component.exec_properties))


def _through_evaluator(parameters: EvaluatorParameters) -> EvaluatorParameters:
    component = Evaluator(examples=types.Channel(type=standard_artifacts.Examples),
                          model=types.Channel(type=standard_artifacts.Model), parameters=parameters)
    return EvaluatorParameters.from_exec_properties(dict(component.exec_properties))


def test_the_changes_cover_every_field():
    assert set(TRAINER_CHANGES) == {f.name for f in dataclasses.fields(TrainerParameters)}
    assert set(EVALUATOR_CHANGES) == {f.name for f in dataclasses.fields(EvaluatorParameters)}


@pytest.mark.parametrize("field", [None, *TRAINER_CHANGES])
def test_trainer_parameters_come_back_the_same(field):
    changes = {} if field is None else {field: TRAINER_CHANGES[field]}
    if field == "tflite_representative_size":      # it calibrates the int8 variant: only written with one
        changes["tflite"] = ("int8",)
    parameters = TrainerParameters(**changes)
    assert _through_trainer(parameters) == parameters
    if field is not None:
        assert parameters.to_exec_properties() != TrainerParameters().to_exec_properties()


def test_all_trainer_parameters_at_once_and_the_size_without_variants():
    # A training job's workers take their strategy from TF_CONFIG: it goes without strategy and tpu.
    every = TrainerParameters(**{k: v for k, v in TRAINER_CHANGES.items() if k != "training_job"})
    assert _through_trainer(every) == every
    assert _through_trainer(TrainerParameters(tflite_representative_size=12)) == TrainerParameters()


@pytest.mark.parametrize("field", [None, *EVALUATOR_CHANGES])
def test_evaluator_parameters_come_back_the_same(field):
    parameters = EvaluatorParameters(**({} if field is None else {field: EVALUATOR_CHANGES[field]}))
    assert _through_evaluator(parameters) == parameters
    assert _through_evaluator(EvaluatorParameters(**EVALUATOR_CHANGES)) == EvaluatorParameters(**EVALUATOR_CHANGES)
