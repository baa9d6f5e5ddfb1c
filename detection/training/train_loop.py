"""The training loop shared by `detflow train` and the DetectionTrainer's executor.

`train(config, TrainJob(...))` builds the detector a pipeline.config names (architectures.registry), under
a `tf.distribute` strategy (training/strategy.py: multi-worker from TF_CONFIG, a TPU, Mirrored over several
GPUs, else one device) and a dtype policy (training/precision.py: float32, or mixed float16 with loss
scaling, or mixed bfloat16);
restores the fine-tune checkpoint (fine_tune) unless it is resuming; trains the
variables `freeze.trainable_variables` leaves trainable (backbone frozen by
default) with the losses of the meta-architecture's `tasks.DetectorTask`
(SSD: RetinaNet focal + Huber; Faster R-CNN: RPN + Fast R-CNN, both as Model
Garden computes them, weighted by the config); writes TensorBoard summaries, checkpoints
every N steps (model + optimizer + step + input counters) and resumes from the
last one; then exports a SavedModel (export) with the moving averages in when
`use_moving_average` is on.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import logging
import math
import os
import re
import time
from typing import Any, Callable, NamedTuple

import numpy as np
import tensorflow as tf
import tf_keras

from detection.architectures import registry
from detection.checkpoints import fine_tune as fine_tune_lib
from detection.data import augmentations, inputs
from detection.networks.spec import config_problem
from detection.training import batch_norm_stats, optimizers, train_finish
from detection.training import precision as precision_lib
from detection.training import strategy as strategy_lib
from detection.training.train_result import (BoxCounts, Distribution, Throughput, TrainLosses, TrainPaths, TrainResult,
                                              VariableCounts)
from detection.training.train_settings import TrainJob, TrainSettings
from schemas.problems import Problem, ProblemsError

log = logging.getLogger("detflow.train")


def _proto(pipeline_config):
    return getattr(pipeline_config, "proto", pipeline_config)


def _config_text(pipeline_config) -> str:
    from google.protobuf import text_format  # pylint: disable=import-outside-toplevel
    return getattr(pipeline_config, "text", None) or text_format.MessageToString(_proto(pipeline_config))


def _trainable(model, train_config, freeze_backbone: bool) -> list[tf.Variable]:
    from detection.checkpoints import freeze  # pylint: disable=import-outside-toplevel
    return freeze.trainable_variables(model, freeze_backbone, list(train_config.freeze_variables),
                                      list(train_config.update_trainable_variables))


def train(pipeline_config, job: TrainJob, strategy: tf.distribute.Strategy | None = None,
          on_log: Callable[[str], None] | None = None, precision: str = "auto") -> TrainResult:
    """Trains the detector `pipeline_config` (a PipelineConfig or TrainEvalPipelineConfig) names, as `job` says.

    If job.model_dir holds a checkpoint of an earlier run, training resumes
    from it and the fine-tune checkpoint is not restored again. `strategy`
    defaults to `strategy.build_strategy("auto")`; `on_log` receives each
    progress line (default: the `detflow.train` logger); `precision` is one of
    `precision.PRECISIONS`. Raises ProblemsError
    for a config or checkpoint that does not fit; ValueError for missing inputs.
    The result is returned, not written: `train_result.write_result` records it.

    The phases: set-up, restore, data, loop, evaluate, export.
    """
    # The strategy first: a MultiWorkerMirroredStrategy must exist before TensorFlow runs anything.
    strategy = strategy or strategy_lib.build_strategy("auto")
    role = strategy_lib.worker_role(strategy)
    say = on_log or log.info
    shared_dir = job.model_dir
    if not role.is_chief:
        job = _worker_job(job, role)
        say(f"{role.describe()}: the chief writes {shared_dir}; this worker writes {job.model_dir}, removed at "
            "the end")
    try:
        result = _train(pipeline_config, job, strategy, precision, role, say, shared_dir)
    except _LOST_PEER_ERRORS as error:
        if role.num_workers <= 1:
            raise
        raise _lost_worker(role, shared_dir, error) from None
    finally:
        if not role.is_chief and tf.io.gfile.exists(job.model_dir):
            tf.io.gfile.rmtree(job.model_dir)
    return dataclasses.replace(result, distribution=dataclasses.replace(
        result.distribution, worker=role.describe(), chief=role.is_chief))


def _worker_job(job: TrainJob, role) -> TrainJob:
    """A non-chief worker's job: everything it writes goes to its own folder (emptied first: a killed run's
    checkpoints there are not the chief's)."""
    folder = strategy_lib.worker_dir(job.model_dir, role)
    if tf.io.gfile.exists(folder):
        tf.io.gfile.rmtree(folder)
    return dataclasses.replace(job, model_dir=folder, export_dir=os.path.join(folder, "export"),
                               tensorboard_dir=os.path.join(folder, "train"))


def _train(pipeline_config, job: TrainJob, strategy, requested: str, role, say, shared_dir: str) -> TrainResult:
    proto = _proto(pipeline_config)
    settings = TrainSettings.from_config(proto, num_steps=job.num_steps, batch_size=job.batch_size,
                                         base_checkpoint=job.base_checkpoint)
    train_list = inputs.expand_globs(job.train_files)
    eval_list = inputs.expand_globs(job.eval_files) if job.eval_files else []
    inputs.check_records(train_list + eval_list)
    tf.io.gfile.makedirs(job.model_dir)
    # Keras' initialisers draw from their own generator, which only this seeds: without it a re-initialised
    # class head (and so the first losses and the trained model) differed from run to run.
    tf_keras.utils.set_random_seed(job.seed)
    precision = precision_lib.resolve(requested, proto.train_config.use_bfloat16, strategy_lib.is_tpu(strategy))
    if precision.mixed or proto.train_config.use_bfloat16:
        say(f"precision {precision.policy}: {precision.reason}"
            + (" (dynamic loss scaling)" if precision.loss_scaling else ""))
    run = _set_up(proto, settings, job, strategy, role, say, precision)
    label_map_path = job.label_map_path or proto.train_input_reader.label_map_path
    report, start_step = _restore(run, label_map_path, shared_dir)
    options, dataset = _data(run, train_list, job.seed)
    loop = _loop(run, dataset, start_step, len(train_list),
                 job.tensorboard_dir or os.path.join(job.model_dir, "train"), job.log_every)
    del dataset   # frees the input pipeline before evaluation and export (see _loop)
    with batch_norm_stats.variable_momenta(batch_norm_stats.batch_norm_layers(run.bundle.model)) as momenta:
        forward = train_finish.training_forward(run)
        eval_loss = train_finish.evaluate(run, options, eval_list, forward)
        exported = (_export(
            run, pipeline_config, label_map_path, job.export_dir or os.path.join(job.model_dir, "export"), loop.step,
            lambda: train_finish.batch_norm(run, options, train_list, job, loop.step, momenta, forward),
            lambda serving, bn, decays: train_finish.health(run, serving, eval_list or train_list, loop, bn, decays,
                                                            report, job.freeze_backbone))
                    if job.export else _Exported(None, False, None, None, None))
    return _result(run, options, loop, report, start_step, eval_loss, exported)


@dataclasses.dataclass
class _Run:
    """What the phases of one `train` call share."""

    proto: Any
    settings: TrainSettings
    model_dir: str
    strategy: tf.distribute.Strategy
    role: strategy_lib.WorkerRole       # this process's part in a multi-worker cluster
    precision: precision_lib.Precision  # the dtype policy the detector was built under
    loss_scale: Any                     # the LossScaleOptimizer around `optimizer` under mixed_float16, else None
    bundle: Any
    task: Any
    optimizer: Any
    train_vars: list
    counters: dict
    manager: tf.train.CheckpointManager
    checkpoint: tf.train.Checkpoint
    say: Callable[[str], None]


class _Exported(NamedTuple):
    export_dir: str | None
    moving_average: bool
    checkpoint: str | None
    batch_norm: dict | None
    health: dict | None


@dataclasses.dataclass
class _LoopStats:
    step: int
    checkpoint: str
    out: dict | None
    first_loss: float | None
    first_losses: dict
    steps_per_sec: float
    seconds: float
    losses: list        # the losses of the first and last tenth of this run's steps (model_health.loss_trend)


def _set_up(proto, settings: TrainSettings, job: TrainJob, strategy, role, say,
            precision: precision_lib.Precision) -> _Run:
    """Set-up: under the strategy, the detector, its task, optimizer, trainable variables and counters."""
    if settings.batch_size % strategy.num_replicas_in_sync:
        raise config_problem("train_config.batch_size", f"{settings.batch_size} is the global batch; it must "
                             f"divide evenly over the {strategy.num_replicas_in_sync} replicas of "
                             f"{strategy_lib.strategy_name(strategy)}")
    tc = proto.train_config
    with strategy.scope():
        with precision_lib.building_under(precision.policy):
            bundle = registry.build_detector(proto)
        task = registry.task_for(bundle)
        optimizer = optimizers.build_optimizer(tc.optimizer)
        loss_scale = precision_lib.loss_scale_optimizer(optimizer, precision)
        train_vars = _trainable(bundle.model, tc, job.freeze_backbone)
        if not train_vars:
            raise config_problem("train_config.freeze_variables", "every variable is frozen: nothing to train")
        optimizer.build(train_vars)
        counters = {k: tf.Variable(0, dtype=tf.int64, trainable=False, name=k,
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                    for k in ("boxes_dropped", "boxes_unknown_class")}
    ckpt = tf.train.Checkpoint(model=bundle.model, optimizer=optimizer, **counters)
    every = int(job.checkpoint_every or min(1000, max(1, settings.num_steps // 5)))
    manager = tf.train.CheckpointManager(ckpt, job.model_dir, max_to_keep=3, step_counter=optimizer.iterations,
                                         checkpoint_interval=every)
    return _Run(proto, settings, job.model_dir, strategy, role, precision, loss_scale, bundle, task, optimizer,
                train_vars, counters, manager, ckpt, say)


def _restore(run: _Run, label_map_path: str | None, shared_dir: str) -> tuple[dict | None, int]:
    """Restore: resume from the model dir's last checkpoint (the chief's, `shared_dir`, for every worker), else
    the fine-tune checkpoint; (report, start step)."""
    latest = tf.train.latest_checkpoint(shared_dir)
    if latest:
        fine_tune_lib.resume(run.checkpoint, latest, shared_dir, run.proto)
        report = fine_tune_lib.previous_restore_report(shared_dir)
        run.say(f"resuming from {latest} at step {int(run.optimizer.iterations.numpy())}")
    else:
        fine_tune_lib.keep_config(run.model_dir, _config_text(run.proto))
        report = fine_tune_lib.fine_tune(run.bundle.model, run.model_dir, run.settings.checkpoint,
                                         run.settings.checkpoint_type, run.say, label_map_path, run.proto)
    start_step = int(run.optimizer.iterations.numpy())  # .numpy(): int() refuses a MirroredVariable
    if start_step > run.settings.num_steps:
        raise ProblemsError([Problem(run.model_dir, f"is already at step {start_step}, past num_steps "
                                     f"{run.settings.num_steps}: give --num-steps above {start_step} to train "
                                     "on, or a new --model-dir")])
    return report, start_step


def _data(run: _Run, train_files: list[str], seed: int):
    """Data: the input options and the distributed, augmented training dataset."""
    spec = run.bundle.spec
    options = inputs.InputOptions.from_spec(spec, max_number_of_boxes=run.settings.max_number_of_boxes,
                                            num_keypoints=run.proto.train_input_reader.num_keypoints)
    augment = augmentations.build_augmentations(run.proto.train_config.data_augmentation_options)
    dataset = run.strategy.distribute_datasets_from_function(
        lambda ctx: inputs.build_dataset(
            train_files, options, run.settings.batch_size,
            inputs.ExampleTransform(run.bundle.preprocess, augment, run.task.targets(options)),
            training=True, seed=seed, input_context=ctx))
    return options, dataset


def _train_step_fn(run: _Run):
    """The tf.function running one distributed step: losses, clipped gradients, counters."""
    model, task, optimizer, train_vars = run.bundle.model, run.task, run.optimizer, run.train_vars
    strategy, counters = run.strategy, run.counters
    clip, replicas = run.settings.gradient_clipping_by_norm, strategy.num_replicas_in_sync
    loss_scale = run.loss_scale

    def step_fn(images, labels):
        with tf.GradientTape() as tape:
            losses = task.losses(model, images, labels, model.losses)
            scaled = losses["loss"] / replicas
            if loss_scale is not None:
                scaled = loss_scale.get_scaled_loss(scaled)
        grads = tape.gradient(scaled, train_vars)
        # Backbone outputs no level uses (e.g. MobileNetV2's last 1x1 conv) get no gradient.
        pairs = [(g, v) for g, v in zip(grads, train_vars) if g is not None]
        grads = [g for g, _ in pairs]
        if loss_scale is not None:
            grads = loss_scale.get_unscaled_gradients(grads)
        clipped = optimizers.clip_gradients(grads, clip)
        # The LossScaleOptimizer skips a step whose gradients overflowed and lowers its scale.
        (loss_scale or optimizer).apply_gradients(zip(clipped, [v for _, v in pairs]))
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

    return train_step


def _log_step(run: _Run, writer, step: int, out: dict, steps_per_sec: float) -> None:
    """One progress line and the TensorBoard scalars of a logged step."""
    num_steps, batch_size, task = run.settings.num_steps, run.settings.batch_size, run.task
    loss = float(out["loss"])
    lr = float(optimizers.current_learning_rate(run.optimizer))
    eta = datetime.timedelta(seconds=int((num_steps - step) / steps_per_sec)) if steps_per_sec else "?"
    parts = " ".join(f"{k[:-len('_loss')]} {float(out[k]):.4f}" for k in task.loss_names)
    run.say(f"step {step}/{num_steps} loss {loss:.4f} ({parts}) lr {lr:.5g} {steps_per_sec:.2f} steps/s "
            f"{steps_per_sec * batch_size:.1f} images/s ETA {eta}")
    if run.role.num_workers > 1:
        # The same on every worker after every step, or the replicas have drifted apart.
        run.say(f"{run.role.describe()}: step {step} weights fingerprint {weights_fingerprint(run.train_vars):.15g}")
    with writer.as_default(step=step):
        tf.summary.scalar("loss/total", loss)
        tf.summary.scalar("loss/classification", float(out["cls_loss"]))
        tf.summary.scalar("loss/localization", float(out["box_loss"]))
        for k in task.loss_names[2:]:
            tf.summary.scalar(f"loss/{k}", float(out[k]))
        tf.summary.scalar("learning_rate", lr)
        tf.summary.scalar("images_per_sec", steps_per_sec * batch_size)
        tf.summary.scalar("steps_per_sec", steps_per_sec)


def weights_fingerprint(variables) -> float:
    """One number of the variables' values (float64 sums, weighted by position): equal on every worker of a
    multi-worker run after every step."""
    return float(sum((i + 1) * np.sum(v.numpy(), dtype=np.float64) for i, v in enumerate(variables)))


def _loop(run: _Run, dataset, start_step: int, num_files: int, tensorboard_dir: str, log_every: int) -> _LoopStats:
    """Loop: start_step → num_steps, logging, TensorBoard and periodic checkpoints; ends with a checkpoint."""
    spec, num_steps = run.bundle.spec, run.settings.num_steps
    train_step = _train_step_fn(run)
    writer = tf.summary.create_file_writer(tensorboard_dir)
    iterator = iter(dataset)
    run.say(f"training {spec.feature_extractor} {spec.input.height}x{spec.input.width} on {num_files} "
            f"files: steps {start_step}->{num_steps}, batch {run.settings.batch_size}, {len(run.train_vars)} "
            f"trainable variables of {len(run.bundle.model.trainable_variables)}, "
            f"{strategy_lib.strategy_name(run.strategy)} x{run.strategy.num_replicas_in_sync}"
            + (f", {run.precision.policy}" if run.precision.mixed else "")
            + (f", {run.role.describe()}" if run.role.num_workers > 1 else ""))
    first_loss, first_losses, out = None, {}, None
    tenth = max(1, (num_steps - start_step) // 10)
    head, tail = [], collections.deque(maxlen=tenth)
    timed_start, timed_steps = None, 0
    window_start, window_steps = time.perf_counter(), 0
    started = time.perf_counter()
    step = start_step
    while step < num_steps:
        out = train_step(iterator)
        step += 1
        window_steps += 1
        loss = float(out["loss"])
        if not math.isfinite(loss):
            writer.flush()
            raise _diverged(run, step, out)
        (head if len(head) < tenth else tail).append(loss)
        if first_loss is None:
            first_loss = float(out["loss"])
            first_losses = {k: float(out[k]) for k in ("loss", *run.task.loss_names)}
            timed_start, window_start, window_steps = time.perf_counter(), time.perf_counter(), 0
        else:
            timed_steps += 1
        if step % log_every == 0 or step == num_steps:
            elapsed = time.perf_counter() - window_start
            _log_step(run, writer, step, out, window_steps / elapsed if elapsed > 0 and window_steps else 0.0)
            window_start, window_steps = time.perf_counter(), 0
        run.manager.save(checkpoint_number=step, check_interval=True)
    seconds = time.perf_counter() - started
    # Stops the input threads and frees the shuffle buffers before eval and export (left to the
    # function's return, their teardown took 10-60 s on 2 busy cores).
    del iterator
    checkpoint = run.manager.latest_checkpoint
    if checkpoint is None or not checkpoint.endswith(f"-{step}"):
        checkpoint = run.manager.save(checkpoint_number=step, check_interval=False)
    writer.flush()
    timed = time.perf_counter() - timed_start if timed_start and timed_steps else 0.0
    # Fewer than two tenths of steps: the head and the tail overlap, and the trend is not judged (model_health).
    losses = head + list(tail) if len(head) + len(tail) >= 2 * tenth else head
    return _LoopStats(step, checkpoint, out, first_loss, first_losses, timed_steps / timed if timed else 0.0,
                      seconds, losses)


# What a collective op raises when a peer of a multi-worker run is gone (its heartbeat stopped, or its
# connection dropped) or did not answer within strategy.COLLECTIVE_TIMEOUT_SECONDS.
_LOST_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
                     tf.errors.InternalError)


def _lost_worker(role, shared_dir: str, error) -> ProblemsError:
    """The end of a multi-worker run whose collectives failed (a worker died or cannot be reached)."""
    last = tf.train.latest_checkpoint(shared_dir)
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    first = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", first)[:240]
    return ProblemsError([Problem(shared_dir, (
        f"{role.describe()}: the cluster lost a worker ({type(error).__name__}: {first}); "
        + (f"the last checkpoint is {os.path.basename(last)}: start every worker again to resume from it"
           if last else "no checkpoint was written yet: start every worker again")))])


def _diverged(run: _Run, step: int, out: dict) -> ProblemsError:
    """The refusal of a run whose loss stopped being a number: nothing of that step is kept or exported."""
    parts = ", ".join(f"{k[:-len('_loss')]} {float(out[k]):.4g}" for k in run.task.loss_names)
    last = run.manager.latest_checkpoint
    return ProblemsError([Problem(run.model_dir, (
        f"training diverged: the loss is {float(out['loss'])} at step {step} ({parts}) with learning rate "
        f"{float(optimizers.current_learning_rate(run.optimizer)):.4g}; nothing was exported"
        + (f", and the last checkpoint ({os.path.basename(last)}) may already hold diverged weights (train again "
           "into a new model dir)" if last else "")
        + ". Lower train_config.optimizer's learning rate, set train_config.gradient_clipping_by_norm, or "
        "start from a checkpoint whose features fit the data"))])


def _export(run: _Run, pipeline_config, label_map_path: str | None, export_dir: str, step: int,
            batch_norm: Callable[[], Any], health: Callable[[Any, Any, list], dict]):
    """Export: the SavedModel (moving averages swapped in when the config keeps them, batch-norm statistics
    re-estimated for those weights when `batch_norm` decides to), and their health; see _Exported."""
    from detection.serving import export as export_lib  # pylint: disable=import-outside-toplevel
    with optimizers.moving_averages_swapped_in(run.optimizer, run.train_vars) as ema:
        bn, decays = batch_norm()
        bundle = _single_process_copy(run) if run.role.num_workers > 1 else run.bundle
        module = export_lib.DetectionModule(bundle)
        checked = health(module.signatures()["serving_default"], bn, decays)    # traced once, for both
        # Saved as the OD API's exporter saves (with `save_counter`): its fine-tune restore asserts every
        # object of its tf.train.Checkpoint matched, so a `write` checkpoint would not start an OD API run.
        export_ckpt = tf.train.CheckpointManager(
            tf.train.Checkpoint(model=bundle.model), os.path.join(run.model_dir, "export_checkpoint"),
            max_to_keep=1).save(checkpoint_number=step)
        export_lib.export_saved_model(bundle, label_map_path, _config_text(pipeline_config), export_ckpt,
                                      export_dir, module=module)
    run.say(f"exported SavedModel to {export_dir}" + (" (moving averages)" if ema else ""))
    return _Exported(export_dir, bool(ema), export_ckpt, bn.to_dict(), checked)


def _single_process_copy(run: _Run):
    """The detector built again outside the strategy, holding the trained values: a SavedModel cannot hold a
    MultiWorkerMirroredStrategy's variables (TF refuses to save functions that use them)."""
    with precision_lib.building_under(run.precision.policy):
        bundle = registry.build_detector(run.proto)
    trained, plain = run.bundle.model.variables, bundle.model.variables
    assert [v.shape for v in plain] == [v.shape for v in trained], "the detector built twice differs"
    for target, source in zip(plain, trained):
        target.assign(source.read_value())
    return bundle


def _result(run: _Run, options, loop: _LoopStats, report, start_step: int, eval_loss,
            exported: _Exported) -> TrainResult:
    out, names = loop.out, ("loss", *run.task.loss_names)
    model, batch_size = run.bundle.model, run.settings.batch_size
    nan = float("nan")
    return TrainResult(
        paths=TrainPaths(model_dir=run.model_dir, export_dir=exported.export_dir, checkpoint=loop.checkpoint,
                         export_checkpoint=exported.checkpoint),
        start_step=start_step, steps=loop.step, batch_size=batch_size,
        losses=TrainLosses(final_loss=float(out["loss"]) if out else nan,
                           final_cls_loss=float(out["cls_loss"]) if out else nan,
                           final_box_loss=float(out["box_loss"]) if out else nan, first_loss=loop.first_loss,
                           eval_loss=eval_loss, final_losses={k: float(out[k]) for k in names} if out else {},
                           first_losses=loop.first_losses),
        throughput=Throughput(images_per_sec=loop.steps_per_sec * batch_size, steps_per_sec=loop.steps_per_sec,
                              seconds=loop.seconds),
        boxes=BoxCounts(boxes_dropped=int(run.counters["boxes_dropped"].numpy()),
                        boxes_unknown_class=int(run.counters["boxes_unknown_class"].numpy()),
                        max_number_of_boxes=options.max_number_of_boxes),
        variables=VariableCounts(num_trainable_variables=len(run.train_vars),
                                 num_fixed_variables=len(model.variables) - len(run.train_vars),
                                 moving_average_exported=exported.moving_average),
        restore_report=report, distribution=Distribution(strategy_lib.strategy_name(run.strategy),
                                                          run.strategy.num_replicas_in_sync, run.precision.policy),
        meta_architecture=run.bundle.spec.meta_architecture,
        batch_norm=exported.batch_norm, health=exported.health)
