"""The CenterNet family's settings of targets and losses (`ModelSpec.training` of a CenterNet)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CenterNetTraining:
    """Center heatmap targets and the weights of the center, scale and offset losses (OD API defaults)."""

    stride: int = 4
    min_box_overlap_iou: float = 0.7          # the Gaussian radius of a box's center (object_center_params)
    object_center_loss_weight: float = 1.0
    focal_alpha: float = 2.0                  # penalty_reduced_logistic_focal_loss
    focal_beta: float = 4.0
    task_loss_weight: float = 1.0             # object_detection_task: scales the scale and offset losses
    scale_loss_weight: float = 0.1
    offset_loss_weight: float = 1.0
    keypoint_tasks: tuple = ()                # keypoints.KeypointTask: their targets and loss weights
