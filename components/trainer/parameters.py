"""DetectionTrainer's execution parameters, written to exec_properties and read back in one place.

`TrainerParameters.to_exec_properties` (for the component's spec) and
`from_exec_properties` (for the executor's `Do`) sit side by side so that the
encoding (a default left out, a list joined by commas) has one owner.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from components.names import (BATCH_SIZE_KEY, BN_REESTIMATE_BATCHES_KEY, BN_REESTIMATE_KEY, BN_REESTIMATE_MODES,
                              CHECKPOINT_EVERY_KEY, CODE_VERSION_KEY, FREEZE_BACKBONE_KEY, NUM_STEPS_KEY, PRECISION_KEY,
                              STRATEGY_KEY, TFLITE_MODES_KEY, TFLITE_REPRESENTATIVE_SIZE_KEY, TPU_KEY,
                              TRAINING_JOB_KEY)
from components.trainer.training_jobs import JobPlatform
from detection.training import precision as precision_lib
from detection.training import strategy as strategy_lib


@dataclasses.dataclass(frozen=True)
class TrainerParameters:
    """The DetectionTrainer's execution parameters; None leaves the pipeline.config's value.

    num_steps / batch_size override train_config. freeze_backbone (default true)
    trains only the heads. checkpoint_every: steps between checkpoints. strategy:
    the tf.distribute strategy (`strategy.STRATEGIES`: "auto", the default, is
    MirroredStrategy over several GPUs, one GPU, else the CPU; TPUStrategy with a `tpu`). tpu: the TPU to
    train on (its name, a grpc:// address, "local"). precision: the dtype policy
    (`precision.PRECISIONS`; "auto": mixed_bfloat16 on a TPU when the config sets use_bfloat16). training_job:
    train as a multi-worker job on that platform (training_jobs.JobPlatform: local processes, Vertex AI, a
    Kubeflow TFJob) instead of in the pipeline's process; the artifacts are the same. tflite: quantize
    modes (e.g. ("none", "int8")), one .tflite each under `Format-TFLite/`, int8
    calibrated on `tflite_representative_size` train images (100 by default).
    bn_reestimate: re-estimate the moving batch-norm statistics before export ("auto", the default,
    "on", "off"; see detection/training/batch_norm_stats.py), from bn_reestimate_batches training batches (default 50).
    code_version only changes the cache key (and the resume key).
    """

    num_steps: Optional[int] = None
    batch_size: Optional[int] = None
    freeze_backbone: bool = True
    checkpoint_every: Optional[int] = None
    strategy: str = "auto"
    tpu: str = ""
    precision: str = "auto"
    training_job: Optional[JobPlatform] = None
    tflite: Sequence[str] = ()
    tflite_representative_size: Optional[int] = None
    bn_reestimate: str = "auto"
    bn_reestimate_batches: Optional[int] = None
    code_version: Optional[str] = None

    def check(self) -> None:
        """ValueError / ProblemsError naming the parameter for a value no training can run with."""
        strategy_lib.check_strategy(self.strategy)
        precision_lib.check_precision(self.precision)
        if self.strategy == "tpu" and not self.tpu:
            raise ValueError("DetectionTrainer strategy = 'tpu': name the TPU (tpu = its name, a grpc:// address, "
                             "or 'local')")
        if self.strategy == "multi_worker":
            raise ValueError("DetectionTrainer strategy = 'multi_worker': the Trainer trains inside the pipeline's "
                             "process; give it a training_job (a JobPlatform) to train on several workers, "
                             "TF_CONFIG set by the platform (README: Training on several machines)")
        if self.training_job is not None:
            self.training_job.check()
            if self.strategy != "auto" or self.tpu:
                raise ValueError("DetectionTrainer training_job: its workers take their strategy from the "
                                 "platform's TF_CONFIG; leave strategy auto and tpu empty")
        if self.bn_reestimate not in BN_REESTIMATE_MODES:
            raise ValueError(f"DetectionTrainer bn_reestimate = {self.bn_reestimate!r}: one of "
                             f"{', '.join(BN_REESTIMATE_MODES)}")
        for name in ("num_steps", "batch_size", "checkpoint_every", "tflite_representative_size",
                     "bn_reestimate_batches"):
            value = getattr(self, name)
            if value is not None and int(value) <= 0:
                raise ValueError(f"DetectionTrainer {name} = {value}: give a positive number")
        if self.tflite:
            from detection.serving import tflite_export  # pylint: disable=import-outside-toplevel
            tflite_export.check_modes(list(self.tflite), "DetectionTrainer tflite")

    def to_exec_properties(self) -> dict:
        """The spec's parameters that are set: a default is left out, a list joined by commas.

        tflite_representative_size is left out without TFLite variants (it has nothing to calibrate).
        """
        values = {
            NUM_STEPS_KEY: self.num_steps, BATCH_SIZE_KEY: self.batch_size,
            FREEZE_BACKBONE_KEY: None if self.freeze_backbone else False,
            CHECKPOINT_EVERY_KEY: self.checkpoint_every,
            STRATEGY_KEY: None if self.strategy == "auto" else self.strategy,
            TPU_KEY: self.tpu or None,
            PRECISION_KEY: None if self.precision == "auto" else self.precision,
            TRAINING_JOB_KEY: self.training_job.to_json() if self.training_job else None,
            TFLITE_MODES_KEY: ",".join(self.tflite) or None,
            TFLITE_REPRESENTATIVE_SIZE_KEY: self.tflite_representative_size if self.tflite else None,
            BN_REESTIMATE_KEY: None if self.bn_reestimate == "auto" else self.bn_reestimate,
            BN_REESTIMATE_BATCHES_KEY: self.bn_reestimate_batches,
            CODE_VERSION_KEY: self.code_version,
        }
        return {key: value for key, value in values.items() if value is not None}

    @classmethod
    def from_exec_properties(cls, properties: dict) -> "TrainerParameters":
        """The parameters `to_exec_properties` wrote (what an executor's `Do` receives); absent keys are defaults."""
        def number(key: str) -> Optional[int]:
            value = properties.get(key)
            return None if value is None else int(value)

        freeze = properties.get(FREEZE_BACKBONE_KEY)
        tflite = tuple(m for m in (properties.get(TFLITE_MODES_KEY) or "").split(",") if m)
        return cls(num_steps=number(NUM_STEPS_KEY), batch_size=number(BATCH_SIZE_KEY),
                   freeze_backbone=freeze in (None, True, 1), checkpoint_every=number(CHECKPOINT_EVERY_KEY),
                   strategy=properties.get(STRATEGY_KEY) or "auto", tpu=properties.get(TPU_KEY) or "",
                   precision=properties.get(PRECISION_KEY) or "auto", tflite=tflite,
                   training_job=(JobPlatform.from_json(properties[TRAINING_JOB_KEY])
                                 if properties.get(TRAINING_JOB_KEY) else None),
                   tflite_representative_size=number(TFLITE_REPRESENTATIVE_SIZE_KEY),
                   bn_reestimate=properties.get(BN_REESTIMATE_KEY) or "auto",
                   bn_reestimate_batches=number(BN_REESTIMATE_BATCHES_KEY),
                   code_version=properties.get(CODE_VERSION_KEY))
