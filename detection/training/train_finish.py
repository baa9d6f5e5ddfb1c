"""The end of a training run, before export: the eval loss, the batch-norm statistics and the model's health.

All three run the network in training mode on one pass over a split (`one_pass`), through one traced
forward pass (`training_forward`) while the batch-norm momenta are variables
(`batch_norm_stats.variable_momenta`); `run` is train_loop's run state (model, task, settings, say).
"""

from __future__ import annotations

import tensorflow as tf

from detection.data import inputs
from detection.serving import model_health
from detection.training import batch_norm_stats, health_probe
from detection.training.train_settings import TrainJob


def one_pass(run, options, files: list[str]) -> tf.data.Dataset:
    """One pass over `files` in order, without augmentation, batched as in training."""
    transform = inputs.ExampleTransform(run.bundle.preprocess, targets=run.task.targets(options))
    return inputs.build_dataset(files, options, run.settings.batch_size, transform, training=False)


def training_forward(run):
    """The training-mode forward pass and its total loss, traced once for the eval loss and the batch-norm passes."""
    model, task = run.bundle.model, run.task
    # AutoGraph off, as train_step.
    return tf.function(lambda images, labels: task.losses(model, images, labels)["loss"], autograph=False)


def _eval_loss(model, forward, dataset, max_batches=50) -> float | None:
    """Mean training loss over up to `max_batches` eval batches; the model's variables are left as they were."""
    # The training-mode forward pass moves batch-norm statistics: eval data must not reach the export.
    kept = [(v, v.numpy()) for v in model.non_trainable_variables]
    total, n = 0.0, 0
    try:
        for images, labels in dataset.take(max_batches):
            total += float(forward(images, labels)) * int(images.shape[0])
            n += int(images.shape[0])
    finally:
        for var, value in kept:
            var.assign(value)
    return total / n if n else None


def evaluate(run, options, eval_files: list[str], forward) -> float | None:
    """Evaluate: says what the input pipeline left out, and the loss on the eval files (None without)."""
    dropped = int(run.counters["boxes_dropped"].numpy())
    unknown = int(run.counters["boxes_unknown_class"].numpy())
    if dropped:
        run.say(f"{dropped} boxes beyond train_config.max_number_of_boxes={options.max_number_of_boxes} "
                "were left out of training")
    if unknown:
        run.say(f"{unknown} boxes had label ids outside 1..{run.bundle.spec.num_classes} and were left out "
                "of training")
    return _eval_loss(run.bundle.model, forward, one_pass(run, options, eval_files)) if eval_files else None


def batch_norm(run, options, train_files: list[str], job: TrainJob, steps: int, momenta, forward):
    """Re-estimates the moving batch-norm statistics from training batches when `job.bn_reestimation` says so.

    Returns (batch_norm_stats.Reestimation, the momenta of the layers whose statistics move in training).
    """
    first = next(iter(one_pass(run, options, train_files).take(1)), None)
    moving = batch_norm_stats.moving_layers(momenta, lambda: forward(*first)) if first is not None else []
    decays = [float(m) for layer, m in zip(momenta.layers, momenta.originals) if layer in moving]
    do, why = batch_norm_stats.decide(job.bn_reestimation.mode, steps, moving, decays)
    if not do:
        result = batch_norm_stats.Reestimation(False, why)
    else:
        result = batch_norm_stats.reestimate(momenta, moving, lambda batch: forward(*batch),
                                             one_pass(run, options, train_files),
                                             job.bn_reestimation.batches or batch_norm_stats.DEFAULT_BATCHES,
                                             run.settings.batch_size, why)
    run.say(result.line())
    return result, decays


def health(run, serving_default, files: list[str], loop, bn, decays: list[float], report: dict | None,
           freeze_backbone: bool) -> dict:
    """The exported weights' health (serving.model_health) on the first eval (or train) images, said in one line.

    `serving_default` is the export's traced serving function (export.DetectionModule.signatures).
    """
    causes = health_probe.likely_causes(run.proto, run.settings.batch_size, loop.step, bn.to_dict(), decays,
                                        report, freeze_backbone)
    found = model_health.judge(health_probe.detections_on(serving_default, files), loop.losses, causes)
    run.say(found.line())
    return found.to_dict()
