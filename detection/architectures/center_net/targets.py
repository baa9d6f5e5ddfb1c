"""CenterNet's training targets and losses, as the OD API computes them (`center_net_meta_arch.loss`).

On the output grid (input // stride cells), for the padded ground truth of a batch (boxes normalised to
the network input, 1-based classes, weight 0 for padding):
- the center heatmap target: per class, the max over its boxes of a Gaussian at the box center's cell
  (floored), its sigma from the box size so that a box of that size centered within the radius keeps
  `min_box_overlap_iou` IoU with it (`target_assigner.max_distance_for_overlap`, CenterNet's
  `gaussian_radius`): sigma = (2 floor(radius) + 1) / 6;
- the penalty-reduced logistic focal loss of the center logits over the valid cells (row < ceil(true
  height / stride), column likewise), summed and divided by the number of boxes in the batch;
- at each box center's cell, the L1 losses of the predicted height and width (in cells) and of the
  offset of the exact center from the cell's corner, summed and divided by the number of boxes.
Weights: object_center_loss_weight; scale_loss_weight and offset_loss_weight, both times task_loss_weight.
"""

from __future__ import annotations

import tensorflow as tf

from detection.architectures.center_net.network import BOX_OFFSET, BOX_SCALE, OBJECT_CENTER

SIGMOID_CLIP = 1e-4         # the OD API's PenaltyReducedLogisticFocalLoss sigmoid_clip_value


def output_size(input_size: int, stride: int) -> int:
    """The output grid's extent for an input extent (the OD API's max(size // stride, 1))."""
    return max(input_size // stride, 1)


def _smallest_positive_root(a, b, c):
    return (-b + tf.sqrt(b ** 2 - 4 * a * c)) / 2.0     # the OD API's, its missing /a included


def gaussian_sigma(heights: tf.Tensor, widths: tf.Tensor, min_iou: float) -> tf.Tensor:
    """The center Gaussian's sigma of boxes of these sizes (in cells): the OD API's `_compute_std_dev_from_box_size`."""
    radius = tf.reduce_min(tf.stack([
        _smallest_positive_root(1.0, -(heights + widths), widths * heights * ((1 - min_iou) / (1 + min_iou))),
        _smallest_positive_root(4 * min_iou, (2 * min_iou) * (widths + heights), (min_iou - 1) * widths * heights),
        _smallest_positive_root(4.0, -2 * (heights + widths), (1 - min_iou) * widths * heights)]), axis=0)
    return (2 * tf.maximum(tf.floor(radius), 0.0) + 1) / 6.0


def box_centers_and_sizes(boxes: tf.Tensor, out_height: int, out_width: int):
    """Normalised boxes [..., 4] → center y, x and height, width in output cells."""
    absolute = boxes * tf.constant([out_height, out_width, out_height, out_width], boxes.dtype)
    heights, widths = absolute[..., 2] - absolute[..., 0], absolute[..., 3] - absolute[..., 1]
    return absolute[..., 0] + heights / 2.0, absolute[..., 1] + widths / 2.0, heights, widths


def center_heatmap_targets(boxes, classes, weights, out_height: int, out_width: int, num_classes: int,
                           min_iou: float) -> tf.Tensor:
    """[B, out_height, out_width, num_classes] center targets of boxes [B, M, 4], classes [B, M], weights [B, M].

    Each box's Gaussian goes to its class's channel (the max where boxes of a class overlap); a box of
    weight 0 adds nothing. Computed per (image, class) segment, never as [B, H, W, M, C].
    """
    batch, num = tf.shape(boxes)[0], tf.shape(boxes)[1]
    y, x, heights, widths = box_centers_and_sizes(boxes, out_height, out_width)
    sigma = gaussian_sigma(heights, widths, min_iou)
    ys = tf.range(out_height, dtype=tf.float32)[None, None, :, None]
    xs = tf.range(out_width, dtype=tf.float32)[None, None, None, :]
    squared = (ys - tf.floor(y)[:, :, None, None]) ** 2 + (xs - tf.floor(x)[:, :, None, None]) ** 2
    gaussians = tf.exp(-squared / (2 * sigma * sigma)[:, :, None, None]) * weights[:, :, None, None]
    channel = tf.clip_by_value(tf.cast(classes, tf.int32) - 1, 0, num_classes - 1)
    segments = tf.reshape(tf.range(batch)[:, None] * num_classes + channel, [-1])
    flat = tf.reshape(gaussians, [batch * num, out_height * out_width])
    heat = tf.math.unsorted_segment_max(flat, segments, batch * num_classes)
    heat = tf.maximum(heat, 0.0)               # classes without a box: the segment max is the lowest float
    heat = tf.reshape(heat, [batch, num_classes, out_height, out_width])
    return tf.stop_gradient(tf.transpose(heat, [0, 2, 3, 1]))


def valid_cell_weights(true_image_hw: tf.Tensor, out_height: int, out_width: int, stride: int) -> tf.Tensor:
    """[B, out_height, out_width, 1]: 1 on cells inside the true image (ceil(true size / stride)), else 0."""
    limit = tf.math.ceil(tf.cast(true_image_hw, tf.float32) / float(stride))
    rows = tf.cast(tf.range(out_height, dtype=tf.float32)[None, :] < limit[:, 0:1], tf.float32)
    cols = tf.cast(tf.range(out_width, dtype=tf.float32)[None, :] < limit[:, 1:2], tf.float32)
    return (rows[:, :, None] * cols[:, None, :])[..., None]


def penalty_reduced_focal_loss(logits, targets, weights, alpha: float, beta: float) -> tf.Tensor:
    """The OD API's PenaltyReducedLogisticFocalLoss, elementwise (times `weights`)."""
    p = tf.clip_by_value(tf.sigmoid(logits), SIGMOID_CLIP, 1 - SIGMOID_CLIP)
    positive = tf.pow(1 - p, alpha) * tf.math.log(p)
    negative = tf.pow(1 - targets, beta) * tf.pow(p, alpha) * tf.math.log(1 - p)
    return -tf.where(tf.equal(targets, 1.0), positive, negative) * weights


def size_and_offset_targets(boxes, out_height: int, out_width: int):
    """Each box's center cell [B, M, 2] (int), height and width [B, M, 2] and center offset [B, M, 2] in cells."""
    y, x, heights, widths = box_centers_and_sizes(boxes, out_height, out_width)
    cells = tf.stack([tf.clip_by_value(tf.cast(tf.floor(y), tf.int32), 0, out_height - 1),
                      tf.clip_by_value(tf.cast(tf.floor(x), tf.int32), 0, out_width - 1)], axis=-1)
    return cells, tf.stack([heights, widths], -1), tf.stack([y - tf.floor(y), x - tf.floor(x)], -1)


def losses(predictions: dict, labels: dict, training, num_classes: int, stride: int) -> dict[str, tf.Tensor]:
    """The weighted center, scale and offset losses of `predictions` (lists per feature map) on `labels`."""
    centers = predictions[OBJECT_CENTER]
    out_height, out_width = centers[-1].shape[1], centers[-1].shape[2]
    boxes = tf.cast(labels["groundtruth_boxes"], tf.float32)
    classes = labels["groundtruth_classes"]
    weights = tf.cast(classes >= 1, tf.float32)
    num_boxes = tf.maximum(tf.reduce_sum(weights), 1.0)
    num_outputs = float(len(centers))
    heat = center_heatmap_targets(boxes, classes, weights, out_height, out_width, num_classes,
                                  training.min_box_overlap_iou)
    cell_weights = valid_cell_weights(labels["image_shape"], out_height, out_width, stride)
    center_loss = tf.add_n([tf.reduce_sum(penalty_reduced_focal_loss(
        tf.cast(c, tf.float32), heat, cell_weights, training.focal_alpha, training.focal_beta))
        for c in centers]) / (num_outputs * num_boxes)
    cells, sizes, offsets = size_and_offset_targets(boxes, out_height, out_width)

    def l1(outputs, target):
        return tf.add_n([tf.reduce_sum(tf.abs(tf.gather_nd(tf.cast(o, tf.float32), cells, batch_dims=1) - target)
                                       * weights[..., None]) for o in outputs]) / (num_outputs * num_boxes)
    scale_loss = training.scale_loss_weight * training.task_loss_weight * l1(predictions[BOX_SCALE], sizes)
    offset_loss = training.offset_loss_weight * training.task_loss_weight * l1(predictions[BOX_OFFSET], offsets)
    center_loss = training.object_center_loss_weight * center_loss
    return {"center_loss": center_loss, "scale_loss": scale_loss, "offset_loss": offset_loss}
