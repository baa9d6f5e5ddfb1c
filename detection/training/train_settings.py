"""What a pipeline.config (and the flags that override it) sets for one training run, before anything is built.

`TrainJob` (what a caller asks of one `train_loop.train` call: files, folders,
overrides), `TrainSettings` (steps, batch, fine-tune checkpoint, limits
once the overrides are applied), the input paths a
config names (`inputs_from_config`) and config paths made absolute beside the
config (`resolve_relative_paths`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import tensorflow as tf

from detection.networks.spec import config_problem
from schemas import checkpoint_paths, config_paths


@dataclasses.dataclass(frozen=True)
class BnReestimation:
    """Whether (auto, on, off) and from how many batches the batch-norm statistics are re-estimated before
    export (`batch_norm_stats`: auto decides from the steps and the decay; None batches: its DEFAULT_BATCHES)."""

    mode: str = "auto"
    batches: int | None = None


@dataclasses.dataclass(frozen=True)
class TrainJob:
    """One training run as its caller asks for it; None leaves the pipeline.config's value.

    train_files / eval_files: TFRecord globs (list or comma-separated; eval optional).
    base_checkpoint overrides train_config.fine_tune_checkpoint (its type stays
    fine_tune_checkpoint_type). The SavedModel goes to export_dir (default
    model_dir/export), TensorBoard logs to tensorboard_dir (default model_dir/train).
    bn_reestimation: see BnReestimation.
    """

    train_files: Sequence[str] | str
    eval_files: Sequence[str] | str | None
    model_dir: str
    num_steps: int | None = None
    batch_size: int | None = None
    base_checkpoint: str | None = None
    label_map_path: str | None = None
    export_dir: str | None = None
    tensorboard_dir: str | None = None
    freeze_backbone: bool = True
    checkpoint_every: int | None = None
    log_every: int = 10
    export: bool = True
    seed: int = 0
    bn_reestimation: BnReestimation = BnReestimation()


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """What `train_config` (and the flags that override it) sets for one training run."""

    num_steps: int
    batch_size: int
    checkpoint: str                  # fine-tune checkpoint ("" for none)
    checkpoint_type: str
    max_number_of_boxes: int
    gradient_clipping_by_norm: float

    @classmethod
    def from_config(cls, proto, *, num_steps: int | None = None, batch_size: int | None = None,
                    base_checkpoint: str | None = None) -> "TrainSettings":
        """From a TrainEvalPipelineConfig; a given override replaces the config's value, 0 included.

        Raises ProblemsError naming the field (or the override) for a value no training can run with.
        """
        tc = proto.train_config
        steps = tc.num_steps if num_steps is None else num_steps
        where = "train_config.num_steps" if num_steps is None else "--num-steps"
        if steps <= 0:
            raise config_problem(where, f"{steps}: give a positive step count" +
                        (" (0 means 'forever' in the OD API)" if steps == 0 else ""))
        batch = tc.batch_size if batch_size is None else batch_size
        if batch <= 0:
            raise config_problem("train_config.batch_size" if batch_size is None else "--batch-size",
                        f"{batch}: give a positive batch size")
        return cls(num_steps=int(steps), batch_size=int(batch),
                   checkpoint=base_checkpoint if base_checkpoint is not None else tc.fine_tune_checkpoint,
                   checkpoint_type=tc.fine_tune_checkpoint_type or "detection",
                   max_number_of_boxes=tc.max_number_of_boxes or 100,
                   gradient_clipping_by_norm=float(tc.gradient_clipping_by_norm))


def inputs_from_config(proto) -> tuple[str, str | None, str]:
    """(training globs, evaluation globs or None, label map) the config's input readers name.

    Globs are comma-joined; the first eval_input_reader is the one evaluated.
    """
    train = ",".join(proto.train_input_reader.tf_record_input_reader.input_path)
    evaluate = ",".join(proto.eval_input_reader[0].tf_record_input_reader.input_path) \
        if proto.eval_input_reader else ""
    return train, evaluate or None, proto.train_input_reader.label_map_path


def resolve_relative_paths(proto, config_path: str) -> None:
    """The config's paths resolved in place by `schemas.config_paths`' rule: as given, else beside the config.

    The fine-tune checkpoint, the label maps (a CenterNet's keypoint label map too) and the input readers'
    TFRecord globs.
    """
    def matches(pattern: str) -> bool:
        return bool(tf.io.gfile.glob(pattern))

    tc = proto.train_config
    tc.fine_tune_checkpoint = checkpoint_paths.resolve(tc.fine_tune_checkpoint, config_path)
    proto.train_input_reader.label_map_path = config_paths.resolve(proto.train_input_reader.label_map_path,
                                                                   config_path)
    if proto.model.WhichOneof("model") == "center_net" and proto.model.center_net.keypoint_label_map_path:
        cn = proto.model.center_net
        cn.keypoint_label_map_path = config_paths.resolve(cn.keypoint_label_map_path, config_path)
    for reader in [proto.train_input_reader, *proto.eval_input_reader]:
        paths = reader.tf_record_input_reader.input_path
        paths[:] = [config_paths.resolve(p, config_path, matches) for p in paths]
