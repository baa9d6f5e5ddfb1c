"""A keypoint task's training targets and losses, as the OD API computes them (`CenterNetKeypointTargetAssigner`,
`center_net_meta_arch._compute_kp_*_loss`).

From the padded ground truth of a batch (boxes normalised to the network input, 1-based classes, padding -1;
keypoints [B, M, total K, 2] normalised y, x, NaN where not labelled), for the task's keypoints of the objects of
its class (a NaN keypoint, an object of another class or a padding row weighs 0), on the output grid:
- heatmap: per keypoint type the max over objects of a Gaussian at the keypoint's cell (floored), its sigma the
  keypoint's std (keypoint_label_to_std) times the object's box sigma (the center heatmap's, at IoU 0.7). The
  penalty-reduced focal loss over the valid cells, but where a box of any object whose keypoint of that type
  weighs 0 covers a cell, that cell counts for nothing in that type's channel; summed and divided by the number
  of labelled keypoints in the batch;
- offset: at the keypoint's cell and every cell within `offset_peak_radius` of it (a disk), the L1 loss of the
  offset from that cell's corner to the keypoint (each keypoint type its own 2 channels with
  `per_keypoint_offset`); summed over y and x and divided by the number of such (cell, keypoint) pairs;
- regression: likewise from the box center's cell and the cells within `offset_peak_radius` of it, the L1 loss
  of the offset from that cell to each keypoint.
Weights: keypoint_heatmap_loss_weight, keypoint_offset_loss_weight, keypoint_regression_loss_weight, each times
task_loss_weight.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from detection.architectures.center_net import keypoints as kp_lib
from detection.architectures.center_net.targets import gaussian_sigma, penalty_reduced_focal_loss

# The box Gaussian's IoU the OD API scales keypoint sigmas by (fixed in its target assigner).
KEYPOINT_BOX_MIN_IOU = 0.7


def task_keypoints(keypoints, classes, task: kp_lib.KeypointTask, out_height: int, out_width: int):
    """The task's keypoints of each object in output cells [B, M, K, 2] (NaN → 0) and their weights [B, M, K]:
    1 where the object is of the task's class and the keypoint is labelled (its y not NaN), else 0."""
    keypoints = tf.gather(keypoints, task.keypoint_indices, axis=2)
    labelled = tf.logical_not(tf.math.is_nan(keypoints))
    of_class = tf.cast(tf.equal(classes, task.class_id + 1), tf.float32)
    weights = of_class[..., None] * tf.cast(labelled[..., 0], tf.float32)
    absolute = tf.where(labelled, keypoints, tf.zeros_like(keypoints)) * tf.constant(
        [out_height, out_width], tf.float32)
    return absolute, weights


def _absolute_boxes(boxes, out_height: int, out_width: int):
    return boxes * tf.constant([out_height, out_width, out_height, out_width], tf.float32)


def heatmap_targets(boxes, absolute_keypoints, weights, task: kp_lib.KeypointTask, out_height: int,
                    out_width: int):
    """[B, H, W, K] keypoint heatmaps and [B, H, W, K] valid masks (the blacked-out boxes 0)."""
    absolute = _absolute_boxes(boxes, out_height, out_width)
    heights, widths = absolute[..., 2] - absolute[..., 0], absolute[..., 3] - absolute[..., 1]
    box_sigma = gaussian_sigma(heights, widths, KEYPOINT_BOX_MIN_IOU)                      # [B, M]
    ys = tf.range(out_height, dtype=tf.float32)[None, None, :, None]
    xs = tf.range(out_width, dtype=tf.float32)[None, None, None, :]
    # The blackout boxes as the OD API has them: about their centers, scaled by 1.0 (which can round).
    yc, xc = absolute[..., 0] + heights / 2.0, absolute[..., 1] + widths / 2.0
    ymin, ymax = (yc - 0.5 * heights)[..., None, None], (yc + 0.5 * heights)[..., None, None]
    xmin, xmax = (xc - 0.5 * widths)[..., None, None], (xc + 0.5 * widths)[..., None, None]
    in_box = (ys >= ymin) & (ys < ymax) & (xs >= xmin) & (xs < xmax)                           # [B, M, H, W]
    heatmaps, masks = [], []
    for k, std in enumerate(task.keypoint_std_dev):
        sigma = (std * box_sigma)[:, :, None, None]
        squared = ((ys - tf.floor(absolute_keypoints[:, :, k, 0])[:, :, None, None]) ** 2
                   + (xs - tf.floor(absolute_keypoints[:, :, k, 1])[:, :, None, None]) ** 2)
        gaussians = tf.exp(-squared / (2 * sigma * sigma)) * weights[:, :, k, None, None]
        heatmaps.append(tf.maximum(tf.reduce_max(gaussians, axis=1), 0.0))
        blackout = (weights[:, :, k] < 1e-3)[:, :, None, None]
        masks.append(1.0 - tf.cast(tf.reduce_any(in_box & blackout, axis=1), tf.float32))
    return tf.stop_gradient(tf.stack(heatmaps, axis=-1)), tf.stack(masks, axis=-1)


def disk_offsets(radius: int) -> np.ndarray:
    """The (dy, dx) of the cells within `radius` of a cell, in the OD API's order ([R, 2])."""
    return np.array([(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
                     if dy * dy + dx * dx <= radius * radius], np.float32)


def _surrounding_cells(y, x, radius: int, out_height: int, out_width: int):
    """The cells around (floor y, floor x) [..., R] and whether each is on the grid (the OD API's
    `get_surrounding_grids`: off-grid cells become (0, 0))."""
    disk = disk_offsets(radius)
    cy, cx = tf.floor(y)[..., None] + disk[:, 0], tf.floor(x)[..., None] + disk[:, 1]
    valid = (cx >= 0) & (cx < out_width) & (cy >= 0) & (cy < out_height)
    return tf.where(valid, cy, 0.0), tf.where(valid, cx, 0.0), valid


def _l1_at_cells(predictions: list, cy, cx, targets, weights, channels=None) -> tf.Tensor:
    """Σ over the heads' outputs and pairs of weight x |prediction at (b, cy, cx[, channel]) - target|, over
    (number of outputs x max(Σ weights, 1))."""
    batch = tf.broadcast_to(tf.range(tf.shape(cy)[0])[:, None, None, None], tf.shape(cy))
    at = [batch, tf.cast(cy, tf.int32), tf.cast(cx, tf.int32)]
    if channels is not None:
        at.append(tf.broadcast_to(channels, tf.shape(cy)))
    index = tf.stack(at, axis=-1)
    loss = 0.0
    for prediction in predictions:
        prediction = tf.cast(prediction, tf.float32)
        if channels is not None:
            prediction = tf.reshape(prediction, [tf.shape(prediction)[0], prediction.shape[1], prediction.shape[2],
                                                 -1, 2])
        got = tf.gather_nd(prediction, index)
        loss += tf.reduce_sum(weights * tf.reduce_sum(tf.abs(got - targets), axis=-1))
    return loss / (float(len(predictions)) * tf.maximum(tf.reduce_sum(weights), 1.0))


def task_losses(predictions: dict, labels: dict, task: kp_lib.KeypointTask, cell_weights) -> dict[str, tf.Tensor]:
    """One task's weighted heatmap, offset and regression losses (see the module doc)."""
    heat_outputs = predictions[kp_lib.head_name(task.task_name, kp_lib.KEYPOINT_HEATMAP)]
    out_height, out_width = heat_outputs[-1].shape[1], heat_outputs[-1].shape[2]
    boxes = tf.cast(labels["groundtruth_boxes"], tf.float32)
    absolute, weights = task_keypoints(tf.cast(labels["groundtruth_keypoints"], tf.float32),
                                       labels["groundtruth_classes"], task, out_height, out_width)
    heat, valid = heatmap_targets(boxes, absolute, weights, task, out_height, out_width)
    num_instances = tf.maximum(tf.reduce_sum(tf.cast(tf.cast(tf.reduce_sum(weights, axis=1), tf.int32),
                                                     tf.float32)), 1.0)
    heatmap_loss = tf.add_n([tf.reduce_sum(penalty_reduced_focal_loss(
        tf.cast(h, tf.float32), heat, cell_weights * valid, task.losses.focal_alpha, task.losses.focal_beta))
        for h in heat_outputs]) / (float(len(heat_outputs)) * num_instances)

    radius = task.losses.offset_peak_radius
    ky, kx = absolute[..., 0], absolute[..., 1]                                          # [B, M, K]
    cy, cx, on_grid = _surrounding_cells(ky, kx, radius, out_height, out_width)          # [B, M, K, R]
    pair_weights = tf.cast(on_grid, tf.float32) * weights[..., None]
    offset_targets = tf.stack([ky[..., None] - tf.floor(cy), kx[..., None] - tf.floor(cx)], axis=-1)
    keypoint_types = tf.range(task.num_keypoints)[None, None, :, None]
    offset_loss = _l1_at_cells(predictions[kp_lib.head_name(task.task_name, kp_lib.KEYPOINT_OFFSET)], cy, cx,
                               offset_targets, pair_weights, keypoint_types if task.heads.per_keypoint_offset else None)

    box = _absolute_boxes(boxes, out_height, out_width)
    heights, widths = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    center_y = tf.tile((box[..., 0] + heights / 2.0)[..., None], [1, 1, task.num_keypoints])
    center_x = tf.tile((box[..., 1] + widths / 2.0)[..., None], [1, 1, task.num_keypoints])
    ry, rx, on_grid = _surrounding_cells(center_y, center_x, radius, out_height, out_width)
    regression_targets = tf.stack([ky[..., None] - tf.floor(ry), kx[..., None] - tf.floor(rx)], axis=-1)
    regression_loss = _l1_at_cells(predictions[kp_lib.head_name(task.task_name, kp_lib.KEYPOINT_REGRESSION)], ry,
                                   rx, regression_targets, tf.cast(on_grid, tf.float32) * weights[..., None],
                                   keypoint_types)
    weights = task.losses
    return {"keypoint_heatmap_loss": weights.task_loss_weight * weights.heatmap_loss_weight * heatmap_loss,
            "keypoint_offset_loss": weights.task_loss_weight * weights.offset_loss_weight * offset_loss,
            "keypoint_regression_loss": weights.task_loss_weight * weights.regression_loss_weight * regression_loss}


def losses(predictions: dict, labels: dict, tasks, cell_weights) -> dict[str, tf.Tensor]:
    """Every task's losses, summed by kind (one task: its own)."""
    out = {"keypoint_heatmap_loss": 0.0, "keypoint_offset_loss": 0.0, "keypoint_regression_loss": 0.0}
    for task in tasks:
        for key, value in task_losses(predictions, labels, task, cell_weights).items():
            out[key] += value
    return out
