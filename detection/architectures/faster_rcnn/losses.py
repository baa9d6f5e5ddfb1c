"""Training of the OD API's Faster R-CNN (`network.py`): its sampling and losses (`faster_rcnn_meta_arch.loss`).

- RPN: anchor targets come with each example (`rpn_targets`: Model Garden's
  `RpnAnchorLabeler`, IoU >= 0.7 positive (and each ground-truth box's best
  anchor), < 0.3 negative, first_stage_minibatch_size anchors sampled with
  first_stage_positive_balance_fraction positives, boxes encoded with the
  Faster R-CNN box coder (10, 10, 5, 5)). Objectness: 2-class softmax cross
  entropy over the sampled anchors; localisation: smooth L1 (delta 1, summed
  over the 4 coordinates) over the sampled positives; both divided by the
  number of sampled anchors of the image, averaged over the batch.
- Second stage: the RPN's proposals (first_stage_max_proposals after NMS, no
  gradient) are matched to the ground truth (IoU >= 0.5 positive, else
  background) and second_stage_batch_size of them sampled with
  second_stage_balance_fraction positives (`sample_proposals`); only those go
  through the crops and conv5. Classification: softmax cross entropy over
  num_classes + 1 (background first); localisation: smooth L1 of the
  ground-truth class's (or the shared) refined box on positives; both divided by
  the number of sampled proposals of the image, averaged over the batch.
- Weights: first_stage_objectness/localization_loss_weight,
  second_stage_classification/localization_loss_weight.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from detection.architectures.faster_rcnn.network import BOX_CODER_SCALES, FasterRcnnDetector
from detection.architectures.faster_rcnn.spec import FasterRcnnTraining
from detection.networks.box_predictors import CLASS_PREDICTIONS
from official.vision.ops import anchor as anchor_ops


def encode_boxes(boxes: tf.Tensor, anchors: tf.Tensor) -> tf.Tensor:
    """The Faster R-CNN box coder's encode (scales 10, 10, 5, 5): inverse of `postprocess.decode_boxes`."""
    ha, wa = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    h, w = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    eps = 1e-8
    ha, wa, h, w = ha + eps, wa + eps, h + eps, w + eps
    ty = (boxes[..., 0] + h / 2 - anchors[..., 0] - ha / 2) / ha
    tx = (boxes[..., 1] + w / 2 - anchors[..., 1] - wa / 2) / wa
    codes = tf.stack([ty, tx, tf.math.log(h / ha), tf.math.log(w / wa)], axis=-1)
    return codes * tf.constant(BOX_CODER_SCALES, codes.dtype)


def feature_size(size: int) -> int:
    """The conv4 map's extent for an input extent (stride 16, every stride-2 step rounding up)."""
    for _ in range(4):
        size = -(-size // 2)
    return size


def rpn_targets(model: FasterRcnnDetector, height: int, width: int, minibatch_size: int, positive_fraction: float):
    """The per-example RPN target function (pixel boxes, classes → rpn_score_targets [N], rpn_box_targets [N, 4])."""
    grid_h, grid_w = feature_size(height), feature_size(width)
    anchors = tf.reshape(model.anchors_for(grid_h, grid_w, height, width), [grid_h, grid_w, -1])
    labeler = anchor_ops.RpnAnchorLabeler(match_threshold=0.7, unmatched_threshold=0.3,
                                          rpn_batch_size_per_im=minibatch_size, rpn_fg_fraction=positive_fraction)

    def targets(pixel_boxes, classes):
        scores, boxes = labeler.label_anchors({"4": anchors}, pixel_boxes,
                                              tf.cast(tf.expand_dims(classes, 1), tf.float32))
        return {"rpn_score_targets": tf.reshape(scores["4"], [-1]),
                "rpn_box_targets": tf.reshape(boxes["4"], [-1, 4]) * tf.constant(BOX_CODER_SCALES)}
    return targets


def pairwise_iou(boxes: tf.Tensor, gt_boxes: tf.Tensor) -> tf.Tensor:
    """IoU [B, P, M] of boxes [B, P, 4] and ground-truth boxes [B, M, 4]."""
    b, g = boxes[:, :, None, :], gt_boxes[:, None, :, :]
    inter_h = tf.maximum(tf.minimum(b[..., 2], g[..., 2]) - tf.maximum(b[..., 0], g[..., 0]), 0.0)
    inter_w = tf.maximum(tf.minimum(b[..., 3], g[..., 3]) - tf.maximum(b[..., 1], g[..., 1]), 0.0)
    inter = inter_h * inter_w
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    area_g = (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1])
    return tf.math.divide_no_nan(inter, area_b + area_g - inter)


def sample_proposals(proposals, num_proposals, gt_boxes, gt_classes, batch_size: int, positive_fraction: float,
                     seed: int | None = None) -> dict[str, tf.Tensor]:
    """The OD API's second-stage minibatch: `batch_size` proposals per image, at most that fraction positive.

    proposals [B, P, 4] pixels, num_proposals [B]; gt_boxes [B, M, 4] pixels, gt_classes [B, M]
    (1-based, < 1 for padding). Positives: IoU >= 0.5 with some ground-truth box; negatives: the
    other valid proposals; the sample takes random positives up to the fraction, then fills with
    random negatives. Returns boxes [B, S, 4], count [B], class targets [B, S] (0 = background),
    matched ground-truth boxes [B, S, 4].
    """
    num = tf.shape(proposals)[1]
    gt_valid = gt_classes >= 1
    iou = tf.where(gt_valid[:, None, :], pairwise_iou(proposals, gt_boxes), -1.0)
    best_iou, best = tf.reduce_max(iou, axis=2), tf.argmax(iou, axis=2, output_type=tf.int32)
    valid = tf.range(num)[None, :] < tf.cast(num_proposals, tf.int32)[:, None]
    positive = tf.logical_and(valid, best_iou >= 0.5)
    negative = tf.logical_and(valid, tf.logical_not(positive))
    noise = tf.random.uniform(tf.shape(best_iou), seed=seed)
    # Rank of each positive among the positives, in random order.
    positive_keys = tf.where(positive, noise, -1.0)
    rank = tf.argsort(tf.argsort(positive_keys, axis=1, direction="DESCENDING"), axis=1)
    cap = int(np.floor(batch_size * positive_fraction))
    keep_positive = tf.logical_and(positive, rank < cap)
    keys = tf.where(keep_positive, 3.0 + noise, tf.where(negative, 1.0 + noise, -1.0))
    top, order = tf.math.top_k(keys, k=tf.minimum(batch_size, num))
    chosen = top > 0.0
    count = tf.reduce_sum(tf.cast(chosen, tf.int32), axis=1)
    boxes = tf.gather(proposals, order, batch_dims=1) * tf.cast(chosen, proposals.dtype)[:, :, None]
    is_positive = tf.logical_and(tf.gather(positive, order, batch_dims=1), chosen)
    matched = tf.gather(best, order, batch_dims=1)
    classes = tf.where(is_positive, tf.gather(gt_classes, matched, batch_dims=1), 0)
    return {"boxes": boxes, "count": count, "classes": classes, "positive": is_positive,
            "gt_boxes": tf.gather(gt_boxes, matched, batch_dims=1)}


def _smooth_l1(diff: tf.Tensor) -> tf.Tensor:
    """The OD API's WeightedSmoothL1LocalizationLoss (delta 1), summed over the last axis."""
    absolute = tf.abs(diff)
    return tf.reduce_sum(tf.where(absolute < 1.0, 0.5 * diff * diff, absolute - 0.5), axis=-1)


def losses(model: FasterRcnnDetector, training: FasterRcnnTraining, images: tf.Tensor, labels: dict) -> dict[str, tf.Tensor]:
    """Training-mode forward pass of both stages and the four weighted OD API losses (see the module doc)."""
    height, width = images.shape[1], images.shape[2]
    valid_hw = tf.cast(labels["image_shape"], tf.int32)
    true_shapes = tf.concat([valid_hw, tf.fill([tf.shape(valid_hw)[0], 1], 3)], axis=1)
    first = model.first_stage_outputs(images, training=True)
    grid = first["rpn_features_to_crop"].shape.as_list()
    anchors = model.anchors_for(grid[1], grid[2], height, width)
    # RPN losses over the sampled anchors.
    score_targets = tf.cast(labels["rpn_score_targets"], tf.float32)
    sampled = tf.cast(score_targets >= 0.0, tf.float32)
    positive = tf.cast(score_targets > 0.0, tf.float32)
    normalizer = tf.maximum(tf.reduce_sum(sampled, axis=1), 1.0)
    objectness = tf.nn.softmax_cross_entropy_with_logits(
        tf.one_hot(tf.cast(positive, tf.int32), 2), first["rpn_objectness_predictions_with_background"])
    rpn_score = tf.reduce_mean(tf.reduce_sum(objectness * sampled, axis=1) / normalizer)
    rpn_box = tf.reduce_mean(tf.reduce_sum(
        _smooth_l1(first["rpn_box_encodings"] - labels["rpn_box_targets"]) * positive, axis=1) / normalizer)
    # Second stage on a sample of the (gradient-free) proposals.
    proposals = model.proposals(tf.stop_gradient(first["rpn_box_encodings"]),
                                tf.stop_gradient(first["rpn_objectness_predictions_with_background"]),
                                anchors, true_shapes)
    scale = tf.constant([height, width] * 2, tf.float32)
    gt_boxes = labels["groundtruth_boxes"] * scale
    sample = sample_proposals(proposals["proposal_boxes"], proposals["num_proposals"], gt_boxes,
                              tf.cast(labels["groundtruth_classes"], tf.int32), training.second_stage_batch_size,
                              training.second_stage_positive_fraction)
    boxes = tf.stop_gradient(sample["boxes"])
    second = model.box_classifier(first["rpn_features_to_crop"], boxes / scale, training=True)
    per_image = tf.shape(boxes)[1]
    logits = tf.reshape(second[CLASS_PREDICTIONS], [-1, per_image, model.num_classes + 1])
    count = tf.cast(sample["count"], tf.float32)
    chosen = tf.sequence_mask(sample["count"], per_image, dtype=tf.float32)
    cls = tf.nn.softmax_cross_entropy_with_logits(tf.one_hot(sample["classes"], model.num_classes + 1), logits)
    frcnn_cls = tf.reduce_mean(tf.reduce_sum(cls * chosen, axis=1) / tf.maximum(count, 1.0))
    codes = tf.reshape(second["refined_box_encodings"], [-1, per_image, model.box_outputs, 4])
    if model.box_outputs > 1:
        codes = tf.gather(codes, tf.maximum(sample["classes"] - 1, 0), batch_dims=2)
    else:
        codes = codes[:, :, 0, :]
    box_loss = _smooth_l1(codes - encode_boxes(sample["gt_boxes"], boxes))
    frcnn_box = tf.reduce_mean(tf.reduce_sum(box_loss * tf.cast(sample["positive"], tf.float32), axis=1)
                               / tf.maximum(count, 1.0))
    cls_loss = training.rpn_objectness_weight * rpn_score + training.classification_weight * frcnn_cls
    box_loss_total = training.rpn_localization_weight * rpn_box + training.localization_weight * frcnn_box
    return {"loss": cls_loss + box_loss_total, "cls_loss": cls_loss, "box_loss": box_loss_total,
            "rpn_score_loss": rpn_score, "rpn_box_loss": rpn_box, "frcnn_cls_loss": frcnn_cls,
            "frcnn_box_loss": frcnn_box}

