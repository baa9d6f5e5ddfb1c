"""The Faster R-CNN family's settings of targets and losses (`ModelSpec.training` of a Faster R-CNN)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class FasterRcnnTraining:
    """First stage (RPN) anchor sampling and loss weights; second stage proposal sampling and loss weights."""

    rpn_localization_weight: float = 1.0
    rpn_objectness_weight: float = 1.0
    rpn_minibatch_size: int = 256
    rpn_positive_fraction: float = 0.5
    second_stage_batch_size: int = 64             # proposals sampled per image for the second stage's losses
    second_stage_positive_fraction: float = 0.25
    classification_weight: float = 1.0            # second stage
    localization_weight: float = 1.0
    class_agnostic_box: bool = False
