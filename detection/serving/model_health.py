"""Is a trained model still a detector? Outputs that do not depend on the input, and a loss that rose.

A collapsed detector gives every image the same scores (e.g. batch-norm statistics far from those its
weights were trained with flatten the head's input, and the head emits its biases): COCO mAP is then
near zero, but a low `--min-map` would still bless it. `judge` calls a model flat when each image's
best score is the same on every image (spread across images under FLAT_SPREAD) and either its best box
is too, or the scores tie within images (the ten best of an image span less than FLAT_SPREAD: with
every anchor scoring alike, which box comes first is an accident of the order, so the boxes may vary).
Measured on BCCD (16 eval images): collapsed exports 6e-6 across images and 2e-5..4e-5 within; healthy
ones 0.04..0.05 and 0.19. It also compares the mean loss of the first and last tenth of the run's
steps. A flat model or a rising loss is refused by the Evaluator whatever its mAP, with one line
naming the likely cause the Trainer found.

Pure NumPy: the Trainer (on the exported weights) and the Evaluator (on the eval split) share it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Sequence

import numpy as np

MIN_IMAGES = 2              # a spread needs two images
FLAT_SPREAD = 1e-3          # best-score and best-box standard deviations across images below this: flat
MIN_STEPS_FOR_LOSS = 20     # the loss trend is judged on runs of at least this many steps


@dataclasses.dataclass
class Health:
    """What `judge` found; `healthy` is what the Evaluator's blessing needs."""

    images: int
    score_spread: float | None
    box_spread: float | None
    tie_span: float | None
    flat: bool
    first_loss: float | None = None
    last_loss: float | None = None
    loss_rose: bool = False
    causes: list[str] = dataclasses.field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Neither flat nor with a rising loss."""
        return not (self.flat or self.loss_rose)

    def line(self) -> str:
        """One line: what is wrong and the likely cause, or what was measured."""
        spread = ("" if self.score_spread is None else
                  f"best-score spread {self.score_spread:.2g}, best-box spread {self.box_spread:.2g}, top-10 score "
                  f"span {self.tie_span:.2g} over {self.images} images")
        if self.healthy:
            return f"model health: outputs depend on the input ({spread or 'not judged: too few images'})" + (
                f"; loss {self.first_loss:.4g} -> {self.last_loss:.4g}" if self.first_loss is not None else "")
        what = []
        if self.flat:
            what.append(f"its outputs do not depend on the input ({spread}: every image gets the same scores)")
        if self.loss_rose:
            what.append(f"its loss rose ({self.first_loss:.4g} in the first tenth of the steps, {self.last_loss:.4g} "
                        "in the last)")
        cause = "; likely cause: " + "; ".join(self.causes) if self.causes else ""
        return "collapsed model: " + " and ".join(what) + cause

    def to_dict(self) -> dict:
        """JSON-ready, with the line and `healthy`."""
        return {**dataclasses.asdict(self), "healthy": self.healthy, "line": self.line()}


def output_spread(per_image: Iterable[tuple[np.ndarray, np.ndarray]]
                  ) -> tuple[int, float | None, float | None, float | None]:
    """(images, std of each image's best score, mean std of its best box's coordinates, median top-10 span).

    `per_image` yields (boxes [N, 4], scores [N]) of each image's detections; an image without
    detections counts as best score 0 and an empty box. The top-10 span of an image is its best score
    minus its tenth best (or its last).
    """
    best_scores, best_boxes, spans = [], [], []
    for boxes, scores in per_image:
        scores = np.asarray(scores, np.float64).reshape(-1)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        order = np.argsort(-scores, kind="stable")
        if scores.size:
            best_scores.append(scores[order[0]])
            best_boxes.append(boxes[order[0]])
            spans.append(scores[order[0]] - scores[order[min(9, scores.size - 1)]])
        else:
            best_scores.append(0.0)
            best_boxes.append(np.zeros(4))
            spans.append(0.0)
    if len(best_scores) < MIN_IMAGES:
        return len(best_scores), None, None, None
    return (len(best_scores), float(np.std(best_scores)),
            float(np.mean(np.std(np.stack(best_boxes), axis=0))), float(np.median(spans)))


def loss_trend(losses: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean of the first tenth, mean of the last tenth) of a run's per-step losses; Nones for short runs."""
    if len(losses) < MIN_STEPS_FOR_LOSS:
        return None, None
    k = max(1, len(losses) // 10)
    return float(np.mean(losses[:k])), float(np.mean(losses[-k:]))


def judge(per_image: Iterable[tuple[np.ndarray, np.ndarray]], losses: Sequence[float] = (),
          causes: Sequence[str] = ()) -> Health:
    """The health of a model from its detections on a few images and its run's losses (see the module doc)."""
    images, score_spread, box_spread, tie_span = output_spread(per_image)
    flat = (score_spread is not None and score_spread < FLAT_SPREAD
            and (box_spread < FLAT_SPREAD or tie_span < FLAT_SPREAD))
    first, last = loss_trend(losses)
    rose = first is not None and math.isfinite(last) and last > first
    return Health(images, score_spread, box_spread, tie_span, flat, first, last, rose,
                  list(causes) if (flat or rose) else [])

