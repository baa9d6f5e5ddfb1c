"""The training loop shared by `detflow train` and the TFX Trainer's run_fn.

`train(...)` builds the detector a pipeline.config names (models.factory), under
a `tf.distribute` strategy (Mirrored over several GPUs, else one device);
restores the fine-tune checkpoint (restore) unless it is resuming; trains the
variables `freeze.trainable_variables` leaves trainable (backbone frozen by
default) with the losses of the meta-architecture's `tasks.DetectorTask`
(SSD: RetinaNet focal + Huber; Faster R-CNN: RPN + Fast R-CNN, both as Model
Garden computes them, weighted by the config); writes TensorBoard summaries, checkpoints
every N steps (model + optimizer + step + input counters) and resumes from the
last one; then exports a SavedModel (export) with the moving averages in when
`use_moving_average` is on.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import pathlib
import time
from typing import Any, Callable, Sequence

import tensorflow as tf

from components.trainer import augmentations, inputs, optimizers, tasks
from components.trainer.models import factory
from components.trainer.models.spec import config_problem
from components.trainer import restore as restore_lib
from components.trainer import strategy as strategy_lib
from schemas.problems import Problem, ProblemsError

log = logging.getLogger("detflow.train")
RESTORE_REPORT = "restore_report.json"
TRAIN_RESULT = "train_result.json"


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

    @property
    def resumed(self) -> bool:
        """True when this run continued from a checkpoint of an earlier, interrupted run."""
        return self.start_step > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["resumed"] = self.resumed
        return d


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
    """Config paths that exist beside the config but not as given are made absolute (in place).

    The fine-tune checkpoint, the label map and the input readers' TFRecord globs.
    """
    base = pathlib.Path(config_path).resolve().parent

    def fix(value: str) -> str:
        if not value or os.path.isabs(value) or os.path.exists(value):
            return value
        candidate = base / value
        exists = candidate.exists() or pathlib.Path(str(candidate) + ".index").exists()
        return str(candidate) if exists else value

    def fix_glob(pattern: str) -> str:
        if not pattern or os.path.isabs(pattern) or "://" in pattern or tf.io.gfile.glob(pattern):
            return pattern
        candidate = str(base / pattern)
        return candidate if tf.io.gfile.glob(candidate) else pattern

    tc = proto.train_config
    tc.fine_tune_checkpoint = fix(tc.fine_tune_checkpoint)
    proto.train_input_reader.label_map_path = fix(proto.train_input_reader.label_map_path)
    for reader in [proto.train_input_reader, *proto.eval_input_reader]:
        paths = reader.tf_record_input_reader.input_path
        paths[:] = [fix_glob(p) for p in paths]


def _proto(pipeline_config):
    return getattr(pipeline_config, "proto", pipeline_config)


def _config_text(pipeline_config) -> str:
    from google.protobuf import text_format  # pylint: disable=import-outside-toplevel
    return getattr(pipeline_config, "text", None) or text_format.MessageToString(_proto(pipeline_config))


def _trainable(model, train_config, freeze_backbone: bool) -> list[tf.Variable]:
    from components.trainer import freeze  # pylint: disable=import-outside-toplevel
    return freeze.trainable_variables(model, freeze_backbone, list(train_config.freeze_variables),
                                      list(train_config.update_trainable_variables))


def class_head_note(report: dict, label_map_path: str | None) -> str | None:
    """A warning when the class head was restored from a checkpoint trained on other class names.

    `detection` restores the class head whenever its shape fits, i.e. the same
    number of classes; if the checkpoint's own label map names other classes, each
    of ours starts from the scores of the class that had its id. None otherwise, or
    when either label map is unknown.
    """
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel
    if not label_map_path or not any(m in report.get("restored", {})
                                     for m in ("head_class", "detection_head_class")):
        return None
    from components.trainer import export as export_lib  # pylint: disable=import-outside-toplevel
    # A checkpoint sits in <home>/checkpoint/: the base checkpoint's folder or an export.
    theirs_path = export_lib.find_label_map(os.path.dirname(os.path.dirname(report.get("checkpoint", ""))))
    if not theirs_path:
        return None
    try:
        theirs, ours = load_label_map(theirs_path), load_label_map(label_map_path)
    except (ProblemsError, OSError, ValueError):
        return None
    pairs = [(i, theirs.by_id[i].name, ours.by_id[i].name) for i in sorted(ours.by_id)
             if i in theirs.by_id and theirs.by_id[i].name != ours.by_id[i].name]
    if not pairs:
        return None
    shown = ", ".join(f"{i}: {a} -> {b}" for i, a, b in pairs[:8]) + (", ..." if len(pairs) > 8 else "")
    return (f"the class head was restored from a checkpoint trained on other classes ({shown}; from "
            f"{theirs_path}): each class starts from the scores of the class that had its id, and "
            "fine-tuning re-learns them")


def _fine_tune(model, model_dir: str, checkpoint: str | None, checkpoint_type: str,
               say: Callable[[str], None], label_map_path: str | None = None, proto=None) -> dict | None:
    """Fine-tune restore on a fresh run; its report is kept in model_dir for later resumes."""
    if not checkpoint:
        return None
    restored = restore_lib.restore(model, checkpoint, checkpoint_type or "detection", pipeline_proto=proto)
    say(restored.summary())
    report = restored.to_dict()
    note = class_head_note(report, label_map_path)
    if note:
        report["class_head_note"] = note
        say(f"note: {note}")
    with tf.io.gfile.GFile(os.path.join(model_dir, RESTORE_REPORT), "w") as f:
        json.dump(report, f, indent=1)
    return report


def _resume(ckpt: tf.train.Checkpoint, prefix: str, model_dir: str) -> None:
    """Restores an interrupted run's checkpoint; refuses one whose network is not this config's."""
    status = ckpt.restore(prefix)
    try:
        status.assert_existing_objects_matched()
    except AssertionError:
        raise ProblemsError([Problem(model_dir, f"holds a checkpoint ({os.path.basename(prefix)}) of another "
                                     "network than this pipeline.config builds (another architecture, or an "
                                     "earlier detflow version); resume it with its own config, or train into a "
                                     "new --model-dir")]) from None
    status.expect_partial()


def _previous_restore_report(model_dir: str) -> dict | None:
    path = os.path.join(model_dir, RESTORE_REPORT)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _eval_loss(model, task, files, options, batch_size, normalize, max_batches=50) -> float | None:
    """Mean training loss over up to `max_batches` eval batches; the model's variables are left as they were."""
    if not files:
        return None
    ds = inputs.build_dataset(files, options, batch_size, normalize=normalize, training=False,
                              targets=task.targets(options)).take(max_batches)

    @tf.function(autograph=False)  # as train_step
    def step(images, labels):
        return task.losses(model, images, labels)["loss"]

    # The training-mode forward pass moves batch-norm statistics: eval data must not reach the export.
    kept = [(v, v.numpy()) for v in model.non_trainable_variables]
    total, n = 0.0, 0
    try:
        for images, labels in ds:
            total += float(step(images, labels)) * int(images.shape[0])
            n += int(images.shape[0])
    finally:
        for var, value in kept:
            var.assign(value)
    return total / n if n else None


def train(pipeline_config, train_files: Sequence[str] | str, eval_files: Sequence[str] | str | None,
          model_dir: str, num_steps: int | None = None, batch_size: int | None = None,
          strategy: tf.distribute.Strategy | None = None, base_checkpoint: str | None = None,
          label_map_path: str | None = None, *, export_dir: str | None = None,
          tensorboard_dir: str | None = None, freeze_backbone: bool = True,
          checkpoint_every: int | None = None, log_every: int = 10, export: bool = True,
          seed: int = 0, on_log: Callable[[str], None] | None = None) -> TrainResult:
    """Trains the detector `pipeline_config` (a PipelineConfig or TrainEvalPipelineConfig) names.

    train_files / eval_files: TFRecord globs (list or comma-separated).
    num_steps / batch_size override train_config. base_checkpoint overrides
    train_config.fine_tune_checkpoint (type from fine_tune_checkpoint_type).
    If model_dir holds a checkpoint of an earlier run, training resumes from
    it and the fine-tune checkpoint is not restored again. The SavedModel goes
    to export_dir (default model_dir/export). Raises ProblemsError for a
    config or checkpoint that does not fit; ValueError for missing inputs.
    """
    say = on_log or log.info
    proto = _proto(pipeline_config)
    tc = proto.train_config
    settings = TrainSettings.from_config(proto, num_steps=num_steps, batch_size=batch_size,
                                         base_checkpoint=base_checkpoint)
    num_steps, batch_size = settings.num_steps, settings.batch_size
    train_files = inputs.expand_globs(train_files)
    eval_list = inputs.expand_globs(eval_files) if eval_files else []
    inputs.check_records(train_files + eval_list)
    label_map_path = label_map_path or proto.train_input_reader.label_map_path
    export_dir = export_dir or os.path.join(model_dir, "export")
    tensorboard_dir = tensorboard_dir or os.path.join(model_dir, "train")
    checkpoint_every = int(checkpoint_every or min(1000, max(1, num_steps // 5)))
    tf.io.gfile.makedirs(model_dir)
    tf.random.set_seed(seed)
    strategy = strategy or strategy_lib.build_strategy("auto")
    if batch_size % strategy.num_replicas_in_sync:
        raise config_problem("train_config.batch_size", f"{batch_size} is the global batch; it must divide evenly over "
                    f"the {strategy.num_replicas_in_sync} replicas of {strategy.__class__.__name__}")

    with strategy.scope():
        bundle = factory.build_detector(proto)
        model, spec = bundle.model, bundle.spec
        task = tasks.task_for(bundle)
        optimizer = optimizers.build_optimizer(tc.optimizer)
        train_vars = _trainable(model, tc, freeze_backbone)
        if not train_vars:
            raise config_problem("train_config.freeze_variables", "every variable is frozen: nothing to train")
        optimizer.build(train_vars)
        counters = {k: tf.Variable(0, dtype=tf.int64, trainable=False, name=k,
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                    for k in ("boxes_dropped", "boxes_unknown_class")}
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, **counters)
    manager = tf.train.CheckpointManager(ckpt, model_dir, max_to_keep=3, step_counter=optimizer.iterations,
                                         checkpoint_interval=checkpoint_every)
    if manager.latest_checkpoint:
        _resume(ckpt, manager.latest_checkpoint, model_dir)
        report = _previous_restore_report(model_dir)
        say(f"resuming from {manager.latest_checkpoint} at step {int(optimizer.iterations.numpy())}")
    else:
        report = _fine_tune(model, model_dir, settings.checkpoint, settings.checkpoint_type, say,
                            label_map_path, proto)
    start_step = int(optimizer.iterations.numpy())  # .numpy(): int() refuses a MirroredVariable
    if start_step > num_steps:
        raise ProblemsError([Problem(model_dir, f"is already at step {start_step}, past num_steps {num_steps}: "
                                     f"give --num-steps above {start_step} to train on, or a new --model-dir")])

    options = inputs.InputOptions.from_spec(spec, max_number_of_boxes=settings.max_number_of_boxes)
    normalize = bundle.preprocess
    augment = augmentations.build_augmentations(tc.data_augmentation_options)
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx: inputs.build_dataset(train_files, options, batch_size, normalize=normalize,
                                         augment=augment, training=True, seed=seed, input_context=ctx,
                                         targets=task.targets(options)))
    clip = settings.gradient_clipping_by_norm
    replicas = strategy.num_replicas_in_sync

    def step_fn(images, labels):
        with tf.GradientTape() as tape:
            losses = task.losses(model, images, labels, model.losses)
            scaled = losses["loss"] / replicas
        grads = tape.gradient(scaled, train_vars)
        # Backbone outputs no level uses (e.g. MobileNetV2's last 1x1 conv) get no gradient.
        pairs = [(g, v) for g, v in zip(grads, train_vars) if g is not None]
        clipped = optimizers.clip_gradients([g for g, _ in pairs], clip)
        optimizer.apply_gradients(zip(clipped, [v for _, v in pairs]))
        return {**losses,
                "boxes_dropped": tf.cast(tf.reduce_sum(labels["boxes_dropped"]), tf.int64),
                "boxes_unknown_class": tf.cast(tf.reduce_sum(labels["boxes_unknown_class"]), tf.int64)}

    # AutoGraph off: the step has no data-dependent Python control flow, and converting every
    # layer's call made tracing the first step ~10x slower.
    @tf.function(autograph=False)
    def train_step(iterator):
        per_replica = strategy.run(step_fn, args=next(iterator))
        out = {k: strategy.reduce("SUM" if k.startswith("boxes") else "MEAN", v, axis=None)
               for k, v in per_replica.items()}
        for k, var in counters.items():
            var.assign_add(out[k])
        return out

    writer = tf.summary.create_file_writer(tensorboard_dir)
    iterator = iter(dataset)
    say(f"training {spec.feature_extractor} {spec.input_height}x{spec.input_width} on {len(train_files)} "
        f"files: steps {start_step}->{num_steps}, batch {batch_size}, {len(train_vars)} trainable variables "
        f"of {len(model.trainable_variables)}, {strategy.__class__.__name__} x{replicas}")
    first_loss, first_losses, out = None, {}, None
    timed_start, timed_steps = None, 0
    window_start, window_steps = time.perf_counter(), 0
    started = time.perf_counter()
    step = start_step
    while step < num_steps:
        out = train_step(iterator)
        step += 1
        window_steps += 1
        if first_loss is None:
            first_loss = float(out["loss"])
            first_losses = {k: float(out[k]) for k in ("loss", *task.loss_names)}
            timed_start, window_start, window_steps = time.perf_counter(), time.perf_counter(), 0
        else:
            timed_steps += 1
        if step % log_every == 0 or step == num_steps:
            loss = float(out["loss"])
            elapsed = time.perf_counter() - window_start
            sps = window_steps / elapsed if elapsed > 0 and window_steps else 0.0
            lr = float(optimizers.current_learning_rate(optimizer))
            eta = datetime.timedelta(seconds=int((num_steps - step) / sps)) if sps else "?"
            parts = " ".join(f"{k[:-len('_loss')]} {float(out[k]):.4f}" for k in task.loss_names)
            say(f"step {step}/{num_steps} loss {loss:.4f} ({parts}) lr {lr:.5g} {sps:.2f} steps/s "
                f"{sps * batch_size:.1f} images/s ETA {eta}")
            with writer.as_default(step=step):
                tf.summary.scalar("loss/total", loss)
                tf.summary.scalar("loss/classification", float(out["cls_loss"]))
                tf.summary.scalar("loss/localization", float(out["box_loss"]))
                for k in task.loss_names[2:]:
                    tf.summary.scalar(f"loss/{k}", float(out[k]))
                tf.summary.scalar("learning_rate", lr)
                tf.summary.scalar("images_per_sec", sps * batch_size)
                tf.summary.scalar("steps_per_sec", sps)
            window_start, window_steps = time.perf_counter(), 0
        manager.save(checkpoint_number=step, check_interval=True)
    train_seconds = time.perf_counter() - started
    # Stops the input threads and frees the shuffle buffers before eval and export (left to the
    # function's return, their teardown took 10-60 s on 2 busy cores).
    del iterator, dataset
    checkpoint = manager.latest_checkpoint
    if checkpoint is None or not checkpoint.endswith(f"-{step}"):
        checkpoint = manager.save(checkpoint_number=step, check_interval=False)
    writer.flush()
    timed = time.perf_counter() - timed_start if timed_start and timed_steps else 0.0
    steps_per_sec = timed_steps / timed if timed else 0.0

    dropped = int(counters["boxes_dropped"].numpy())
    unknown = int(counters["boxes_unknown_class"].numpy())
    if dropped:
        say(f"{dropped} boxes beyond train_config.max_number_of_boxes={options.max_number_of_boxes} "
            "were left out of training")
    if unknown:
        say(f"{unknown} boxes had label ids outside 1..{spec.num_classes} and were left out of training")
    eval_loss = _eval_loss(model, task, eval_list, options, batch_size, normalize)

    exported, ema, export_ckpt = None, False, None
    if export:
        with optimizers.moving_averages_swapped_in(optimizer, train_vars) as ema:
            export_ckpt = tf.train.Checkpoint(model=model).write(
                os.path.join(model_dir, "export_checkpoint", f"ckpt-{step}"))
            from components.trainer import export as export_lib  # pylint: disable=import-outside-toplevel
            export_lib.export_saved_model(bundle, label_map_path, _config_text(pipeline_config),
                                          export_ckpt, export_dir)
        exported = export_dir
        say(f"exported SavedModel to {export_dir}" + (" (moving averages)" if ema else ""))

    result = TrainResult(
        model_dir=model_dir, export_dir=exported, checkpoint=checkpoint, start_step=start_step, steps=step,
        batch_size=batch_size, final_loss=float(out["loss"]) if out else float("nan"),
        final_cls_loss=float(out["cls_loss"]) if out else float("nan"),
        final_box_loss=float(out["box_loss"]) if out else float("nan"), first_loss=first_loss,
        images_per_sec=steps_per_sec * batch_size, steps_per_sec=steps_per_sec, seconds=train_seconds,
        boxes_dropped=dropped, boxes_unknown_class=unknown, max_number_of_boxes=options.max_number_of_boxes,
        num_trainable_variables=len(train_vars),
        num_fixed_variables=len(model.variables) - len(train_vars), moving_average_exported=bool(ema),
        restore_report=report, export_checkpoint=export_ckpt, eval_loss=eval_loss, strategy=strategy.__class__.__name__,
        num_replicas=replicas, meta_architecture=spec.meta_architecture,
        final_losses={k: float(out[k]) for k in ("loss", *task.loss_names)} if out else {},
        first_losses=first_losses)
    with tf.io.gfile.GFile(os.path.join(model_dir, TRAIN_RESULT), "w") as f:
        json.dump(result.to_dict(), f, indent=1)
    return result
