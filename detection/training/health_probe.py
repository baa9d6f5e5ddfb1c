"""The Trainer's look at what it is about to export: detections on a few images, and the likely causes of a collapse.

`detections_on(serving_default, files)` runs the export's serving function (the exported weights) on
the first images of `files`; `likely_causes` names what in the run's settings explains a
flat model (`serving.model_health` decides whether it is one; `schemas.learning_rate_scale` the
learning-rate rule).
"""

from __future__ import annotations

import numpy as np

from detection.data.tf_example import decode_example
from detection.training import batch_norm_stats
from schemas.example_format import records_dataset
from schemas.learning_rate_scale import learning_rate_note, peak_learning_rate

NUM_IMAGES = 16


def detections_on(serving_default, files, num_images: int = NUM_IMAGES) -> list[tuple[np.ndarray, np.ndarray]]:
    """(boxes, scores) of `serving_default` (the export's concrete function) on the first images of `files`."""
    out = []
    for serialized in records_dataset(files).take(num_images):
        image = decode_example(serialized)["image"]
        found = serving_default(input_tensor=image[None])
        n = int(found["num_detections"][0])
        out.append((found["detection_boxes"][0, :n].numpy(), found["detection_scores"][0, :n].numpy()))
    return out


SHORT_RUN = 500    # steps after which a class head initialised fresh is expected to score images apart


def likely_causes(proto, batch_size: int, steps: int, batch_norm: dict | None, decays: list[float],
                  restore_report: dict | None = None, freeze_backbone: bool = True) -> list[str]:
    """What in this run's settings may flatten a model: unconverged batch-norm statistics, a large learning
    rate, a backbone kept frozen at its random initialisation, a class head trained too few steps."""
    causes = []
    restored = (restore_report or {}).get("restored", {})
    if freeze_backbone and not restored.get("backbone"):
        causes.append("the backbone is frozen at its random initialisation (no fine_tune_checkpoint restored it): "
                      "start from pretrained weights, or train it too (--train-backbone)")
    if decays and not (batch_norm or {}).get("done"):
        decay = max(decays)
        weight = decay ** max(steps, 0)
        if weight >= batch_norm_stats.START_WEIGHT:
            causes.append(f"batch-norm statistics not converged: at decay {decay:g} the {steps} steps leave the "
                          f"start's statistics weighing {weight:.0%} (re-estimate them: --bn-reestimate on, or "
                          "lower batch_norm.decay)")
    note = learning_rate_note(peak_learning_rate(proto.train_config.optimizer), batch_size)
    if note:
        causes.append(note)
    fresh_head = not restored.get("head_class") and not restored.get("detection_head_class")
    if not causes and fresh_head and steps < SHORT_RUN:
        causes.append(f"too short a run: the class head started from its initialisation {steps} steps ago (train "
                      "longer, or start from a detection checkpoint of these classes)")
    return causes

