"""The SSD family's settings of targets and losses (`ModelSpec.training` of an SSD)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SsdTraining:
    """The argmax matcher's thresholds and the OD API's SSD loss settings (weighted_sigmoid_focal, weighted_smooth_l1)."""

    matched_threshold: float
    unmatched_threshold: float
    focal_gamma: float
    focal_alpha: float
    huber_delta: float                # weighted_smooth_l1 delta
    classification_weight: float
    localization_weight: float
    normalize_loc_loss_by_codesize: bool = False
    add_background_class: bool = True      # false: class targets and predictions have no background column
