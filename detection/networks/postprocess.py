"""SSD decoding and post-processing as the OD API does it (`ssd_meta_arch.postprocess`).

- `decode_boxes`: the OD API's `FasterRcnnBoxCoder.decode` (ty, tx, th, tw
  divided by the config's scales, relative to the anchors; no clipping of
  th/tw, unlike Model Garden's decoder).
- `score_converter`: IDENTITY, SIGMOID or SOFTMAX of logits / logit_scale.
- `batch_non_max_suppression`: per class, NMS at iou_threshold keeping up to
  max_detections_per_class boxes scoring above score_threshold; then the
  best max_total_detections over all classes, boxes clipped to the clip window
  and, with change_coordinate_frame, expressed relative to it. Boxes that lie
  wholly outside the window are pruned, as the OD API prunes them after its
  clipping: such a box overlaps no box inside the window, so dropping it
  before the NMS selects the same boxes. One `combined_non_max_suppression`
  op does the per-class loop of the OD API's `multiclass_non_max_suppression`.
  With `use_class_agnostic_nms` it is the OD API's
  `class_agnostic_non_max_suppression` instead: each box takes its best class's
  score and class, one NMS over all boxes keeps up to max_total_detections
  (what the TFLite detection op calls fast NMS).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

IDENTITY, SIGMOID, SOFTMAX = "IDENTITY", "SIGMOID", "SOFTMAX"


@dataclasses.dataclass(frozen=True)
class PostProcessing:
    """The `post_processing` of a config (OD API defaults)."""

    score_threshold: float = 0.0
    iou_threshold: float = 0.6
    max_detections_per_class: int = 100
    max_total_detections: int = 100
    change_coordinate_frame: bool = True
    score_converter: str = IDENTITY
    logit_scale: float = 1.0
    class_agnostic: bool = False

    @classmethod
    def from_proto(cls, message) -> "PostProcessing":
        """From a `PostProcessing` message."""
        nms = message.batch_non_max_suppression
        return cls(score_threshold=nms.score_threshold, iou_threshold=nms.iou_threshold,
                   max_detections_per_class=nms.max_detections_per_class,
                   max_total_detections=nms.max_total_detections,
                   change_coordinate_frame=nms.change_coordinate_frame,
                   score_converter=message.ScoreConverter.Name(message.score_converter),
                   logit_scale=message.logit_scale or 1.0, class_agnostic=nms.use_class_agnostic_nms)


def decode_boxes(codes: tf.Tensor, anchors: tf.Tensor, scales: tuple[float, ...] | None) -> tf.Tensor:
    """Box encodings [..., N, 4] relative to anchors [N, 4] → boxes ymin, xmin, ymax, xmax (the anchors' units).

    Anchors of more dimensions broadcast against the codes (Faster R-CNN: proposals [B, P, 1, 4]
    for codes [B, P, q, 4]).
    """
    ha = anchors[..., 2] - anchors[..., 0]
    wa = anchors[..., 3] - anchors[..., 1]
    yca = anchors[..., 0] + ha / 2.0
    xca = anchors[..., 1] + wa / 2.0
    ty, tx, th, tw = tf.unstack(codes, axis=-1)
    if scales:
        ty, tx, th, tw = ty / scales[0], tx / scales[1], th / scales[2], tw / scales[3]
    w = tf.exp(tw) * wa
    h = tf.exp(th) * ha
    yc = ty * ha + yca
    xc = tx * wa + xca
    return tf.stack([yc - h / 2.0, xc - w / 2.0, yc + h / 2.0, xc + w / 2.0], axis=-1)


def score_converter(logits: tf.Tensor, kind: str, logit_scale: float = 1.0) -> tf.Tensor:
    """Scores from class logits: identity, sigmoid or softmax of logits / logit_scale."""
    scaled = logits * (1.0 / logit_scale) if logit_scale != 1.0 else logits
    if kind == SIGMOID:
        return tf.sigmoid(scaled)
    if kind == SOFTMAX:
        return tf.nn.softmax(scaled)
    return tf.identity(scaled)


def batch_non_max_suppression(boxes: tf.Tensor, scores: tf.Tensor, post: PostProcessing,
                              clip_window: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
    """Boxes [B, N, 4] and per-class scores [B, N, C] → detections padded to max_total_detections.

    clip_window: [B, 4] (or [4]) normalised ymin, xmin, ymax, xmax; [0, 0, 1, 1] when None.
    Returns detection_boxes [B, M, 4], detection_scores [B, M], detection_classes [B, M]
    (0-based float32), num_detections [B] int32; rows past num_detections are zero.
    """
    batch = tf.shape(boxes)[0]
    if clip_window is None:
        clip_window = tf.constant([0.0, 0.0, 1.0, 1.0])
    window = tf.broadcast_to(tf.reshape(clip_window, [-1, 4]), [batch, 4])
    wy0, wx0, wy1, wx1 = (window[:, None, i] for i in range(4))
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    outside = tf.logical_or(tf.minimum(ymax, wy1) - tf.maximum(ymin, wy0) <= 0.0,
                            tf.minimum(xmax, wx1) - tf.maximum(xmin, wx0) <= 0.0)
    scores = tf.where(outside[:, :, None], tf.fill(tf.shape(scores), scores.dtype.min), scores)
    num_classes = scores.shape[-1]
    max_total = post.max_total_detections or post.max_detections_per_class * num_classes
    if post.class_agnostic:
        nmsed_boxes, nmsed_scores, nmsed_classes, num = _class_agnostic_nms(boxes, scores, post, max_total)
    else:
        nmsed_boxes, nmsed_scores, nmsed_classes, num = tf.image.combined_non_max_suppression(
            boxes[:, :, None, :], scores, max_output_size_per_class=post.max_detections_per_class,
            max_total_size=max_total, iou_threshold=post.iou_threshold, score_threshold=post.score_threshold,
            pad_per_class=False, clip_boxes=False)
    low, high = tf.stack([wy0, wx0, wy0, wx0], axis=-1), tf.stack([wy1, wx1, wy1, wx1], axis=-1)
    clipped = tf.clip_by_value(nmsed_boxes, low, high)
    if post.change_coordinate_frame:
        clipped = (clipped - low) / (high - low)
    valid = tf.sequence_mask(num, max_total, dtype=tf.float32)
    return {"detection_boxes": clipped * valid[:, :, None], "detection_scores": nmsed_scores * valid,
            "detection_classes": nmsed_classes * valid, "num_detections": num}


def _class_agnostic_nms(boxes: tf.Tensor, scores: tf.Tensor, post: PostProcessing, max_total: int):
    """The OD API's class_agnostic_non_max_suppression per image (max_classes_per_detection 1), padded."""

    def one_image(inputs):
        image_boxes, image_scores = inputs
        best = tf.reduce_max(image_scores, axis=-1)
        classes = tf.cast(tf.argmax(image_scores, axis=-1), tf.float32)
        selected, selected_scores = tf.image.non_max_suppression_with_scores(
            image_boxes, best, max_total, iou_threshold=post.iou_threshold, score_threshold=post.score_threshold)
        count = tf.shape(selected)[0]
        pad = max_total - count
        return (tf.pad(tf.gather(image_boxes, selected), [[0, pad], [0, 0]]),
                tf.pad(selected_scores, [[0, pad]]), tf.pad(tf.gather(classes, selected), [[0, pad]]), count)

    signature = (tf.TensorSpec([max_total, 4], boxes.dtype), tf.TensorSpec([max_total], scores.dtype),
                 tf.TensorSpec([max_total], tf.float32), tf.TensorSpec([], tf.int32))
    return tf.map_fn(one_image, (boxes, scores), fn_output_signature=signature)


def od_batch_non_max_suppression(boxes: tf.Tensor, scores: tf.Tensor, post: PostProcessing,
                                 clip_window: tf.Tensor, num_valid_boxes: tf.Tensor | None = None
                                 ) -> dict[str, tf.Tensor]:
    """The OD API's `batch_multiclass_non_max_suppression` step by step (Faster R-CNN's two stages).

    Per class, NMS keeps up to max_detections_per_class boxes scoring above score_threshold,
    every box taking part; the selections of all classes are sorted by score, clipped to the
    window, those of zero area after clipping dropped, and the best max_total_detections kept,
    expressed relative to the window with change_coordinate_frame. Unlike
    `batch_non_max_suppression`, boxes are pruned after the NMS, as the OD API does: a box
    wholly outside the window can still suppress one inside, and pruned boxes leave their
    per-class slots empty (fewer than max_total_detections proposals, as the OD API gives).

    boxes: [B, N, 4] or per class [B, N, C, 4]; scores [B, N, C]; clip_window [B, 4] in the boxes'
    units; num_valid_boxes [B] (first that many boxes of each image), all when None.
    Returns detection_boxes, detection_scores, detection_classes (0-based), num_detections (int32).
    """
    boxes4 = boxes if boxes.shape.rank == 4 else boxes[:, :, None, :]
    if num_valid_boxes is not None:
        invalid = tf.range(tf.shape(scores)[1])[None, :] >= tf.cast(num_valid_boxes, tf.int32)[:, None]
        scores = tf.where(tf.broadcast_to(invalid[:, :, None], tf.shape(scores)),
                          tf.fill(tf.shape(scores), scores.dtype.min), scores)
    num_classes = scores.shape[-1]
    candidates = post.max_detections_per_class * num_classes
    max_total = min(post.max_total_detections or candidates, candidates)
    nmsed_boxes, nmsed_scores, nmsed_classes, count = tf.image.combined_non_max_suppression(
        boxes4, scores, max_output_size_per_class=post.max_detections_per_class, max_total_size=candidates,
        iou_threshold=post.iou_threshold, score_threshold=post.score_threshold, pad_per_class=False,
        clip_boxes=False)
    window = tf.reshape(clip_window, [-1, 1, 4])
    low = tf.concat([window[..., :2], window[..., :2]], axis=-1)
    high = tf.concat([window[..., 2:], window[..., 2:]], axis=-1)
    clipped = tf.clip_by_value(nmsed_boxes, low, high)
    area = (clipped[..., 2] - clipped[..., 0]) * (clipped[..., 3] - clipped[..., 1])
    keep = tf.logical_and(tf.sequence_mask(count, candidates), area > 0.0)
    ranked = tf.where(keep, nmsed_scores, -tf.ones_like(nmsed_scores))
    top_scores, order = tf.math.top_k(ranked, k=max_total)
    num = tf.minimum(tf.reduce_sum(tf.cast(keep, tf.int32), axis=1), max_total)
    out_boxes = tf.gather(clipped, order, batch_dims=1)
    if post.change_coordinate_frame:
        out_boxes = (out_boxes - low) / (high - low)
    valid = tf.sequence_mask(num, max_total, dtype=tf.float32)
    return {"detection_boxes": out_boxes * valid[:, :, None], "detection_scores": top_scores * valid,
            "detection_classes": tf.gather(nmsed_classes, order, batch_dims=1) * valid, "num_detections": num}
