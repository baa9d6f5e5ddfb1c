"""CenterNet's keypoint tasks (`keypoint_estimation_task`) as the OD API builds and post-processes them.

A task predicts, for the objects of one class (`keypoint_class_name`, looked up by name in the keypoint label
map, `keypoint_label_map_path`), the keypoints that class's label-map item declares (`keypoints { id label }`):
three heads per task, named `<task_name>/keypoint/heatmap` (one channel per keypoint, its last bias
`heatmap_bias_init`), `<task_name>/keypoint/offset` (2 channels, or 2 per keypoint with
`per_keypoint_offset`) and `<task_name>/keypoint/regression` (2 per keypoint: each keypoint from the object's
center).

At inference (the OD API's `_postprocess_keypoints_*`): each object's keypoints are regressed from its center
cell, then each snaps to the nearest candidate of its type (the heatmap's peaks, `num_candidates_per_keypoint`
per type, score at least `keypoint_candidate_score_threshold`) that lies in the object's box scaled by
`box_scale` and within `candidate_search_scale` x the box's larger side; a keypoint that does not snap keeps
its regressed place and `unmatched_keypoint_score`. Computed for every detection at once: the OD API computes
the objects of the task's class one image at a time, which gives each the same numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from detection.architectures.center_net.heads import HeadParams
from detection.architectures.center_net.peaks import top_k_feature_map_locations

KEYPOINT_HEATMAP = "keypoint/heatmap"
KEYPOINT_OFFSET = "keypoint/offset"
KEYPOINT_REGRESSION = "keypoint/regression"
KEYPOINT_STD_DEV_DEFAULT = 1.0        # the OD API builder's, for a keypoint keypoint_label_to_std leaves out
RANKING_MODES = ("min_distance", "score_distance_ratio")
MAX_DISTANCE = 1e5                    # the OD API's distance of a padding candidate


def head_name(task_name: str, head: str) -> str:
    """A keypoint head's name in the prediction dict and the checkpoint: `<task_name>/<head>`."""
    return f"{task_name}/{head}"


@dataclasses.dataclass(frozen=True)
class KeypointHeads:
    """A task's heads: their intermediate convs, the heatmap's initial bias, an offset per keypoint or one."""

    heatmap: HeadParams = HeadParams()
    offset: HeadParams = HeadParams()
    regress: HeadParams = HeadParams()
    heatmap_bias_init: float = -2.19
    per_keypoint_offset: bool = False


@dataclasses.dataclass(frozen=True)
class KeypointPostprocessing:
    """How a task's keypoints are found at inference (the OD API's defaults)."""

    candidate_score_threshold: float = 0.1
    num_candidates_per_keypoint: int = 100
    peak_max_pool_kernel_size: int = 3
    unmatched_keypoint_score: float = 0.1
    box_scale: float = 1.2
    candidate_search_scale: float = 0.3
    candidate_ranking_mode: str = "min_distance"
    score_distance_offset: float = 1.0
    clip_out_of_frame_keypoints: bool = False
    rescore_instances: bool = False
    rescoring_threshold: float = 0.0


@dataclasses.dataclass(frozen=True)
class KeypointLosses:
    """A task's loss weights, the radius of its offset targets and its heatmap focal loss."""

    task_loss_weight: float = 1.0
    heatmap_loss_weight: float = 1.0
    offset_loss_weight: float = 1.0
    regression_loss_weight: float = 1.0
    offset_peak_radius: int = 0
    focal_alpha: float = 2.0
    focal_beta: float = 4.0


@dataclasses.dataclass(frozen=True)
class KeypointTask:
    """One `keypoint_estimation_task`, its class and keypoints resolved from the keypoint label map."""

    task_name: str
    class_id: int                          # 0-based, as the network's classes
    keypoint_indices: tuple[int, ...]      # each keypoint's column in the model's keypoint outputs
    keypoint_labels: tuple[str, ...]
    keypoint_std_dev: tuple[float, ...]    # per keypoint: scales its target Gaussian (keypoint_label_to_std)
    heads: KeypointHeads = KeypointHeads()
    post: KeypointPostprocessing = KeypointPostprocessing()
    losses: KeypointLosses = KeypointLosses()

    @property
    def num_keypoints(self) -> int:
        """The number of keypoints this task predicts."""
        return len(self.keypoint_indices)

    def head_channels(self) -> dict[str, tuple[int, HeadParams, float | None]]:
        """{head name: (output channels, intermediate convs, last bias fill)}, in the OD API's order."""
        k, heads = self.num_keypoints, self.heads
        return {head_name(self.task_name, KEYPOINT_HEATMAP): (k, heads.heatmap, heads.heatmap_bias_init),
                head_name(self.task_name, KEYPOINT_REGRESSION): (2 * k, heads.regress, None),
                head_name(self.task_name, KEYPOINT_OFFSET): (2 * k if heads.per_keypoint_offset else 2,
                                                             heads.offset, None)}

    def replace_post(self, **changes) -> "KeypointTask":
        """This task with some post-processing settings changed."""
        return dataclasses.replace(self, post=dataclasses.replace(self.post, **changes))


class KeypointConfigError(ValueError):
    """A keypoint task that cannot be built: (field path, message)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def task_from_proto(task, label_map, num_classes: int, field: str) -> KeypointTask:
    """A `CenterNet.KeypointEstimation` message → KeypointTask, its class and keypoints from `label_map`
    (schemas.label_map.LabelMap; the OD API's keypoint label map), as the OD API's builder resolves them."""
    by_name = {item.name: item for item in label_map.items}
    item = by_name.get(task.keypoint_class_name)
    if item is None:
        raise KeypointConfigError(f"{field}.keypoint_class_name", f"{task.keypoint_class_name!r} is not an item name "
                                  f"in the keypoint label map {label_map.path} (its names: {', '.join(by_name)})")
    if not item.keypoints:
        raise KeypointConfigError(f"{field}.keypoint_class_name", f"the keypoint label map's item "
                                  f"{item.name!r} ({label_map.path}, line {item.line}) declares no `keypoints`")
    if not 1 <= item.id <= num_classes:
        raise KeypointConfigError(f"{field}.keypoint_class_name", f"{item.name!r} has id {item.id} in "
                                  f"{label_map.path}, outside the model's num_classes {num_classes}")
    labels = tuple(label for _, label in item.keypoints)
    unknown = sorted(set(task.keypoint_label_to_std) - set(labels))
    if unknown:
        raise KeypointConfigError(f"{field}.keypoint_label_to_std", f"{', '.join(map(repr, unknown))} are not "
                                  f"keypoints of {item.name!r} in {label_map.path} ({', '.join(labels)})")
    std = {label: KEYPOINT_STD_DEV_DEFAULT for label in labels}
    std.update(task.keypoint_label_to_std)
    focal = task.loss.classification_loss.penalty_reduced_logistic_focal_loss
    heads = KeypointHeads(
        heatmap=HeadParams.from_proto(task.HasField("heatmap_head_params"), task.heatmap_head_params),
        offset=HeadParams.from_proto(task.HasField("offset_head_params"), task.offset_head_params),
        regress=HeadParams.from_proto(task.HasField("regress_head_params"), task.regress_head_params),
        heatmap_bias_init=task.heatmap_bias_init, per_keypoint_offset=task.per_keypoint_offset)
    post = KeypointPostprocessing(
        candidate_score_threshold=task.keypoint_candidate_score_threshold,
        num_candidates_per_keypoint=task.num_candidates_per_keypoint,
        peak_max_pool_kernel_size=task.peak_max_pool_kernel_size,
        unmatched_keypoint_score=task.unmatched_keypoint_score, box_scale=task.box_scale,
        candidate_search_scale=task.candidate_search_scale, candidate_ranking_mode=task.candidate_ranking_mode,
        score_distance_offset=task.score_distance_offset,
        clip_out_of_frame_keypoints=task.clip_out_of_frame_keypoints, rescore_instances=task.rescore_instances,
        rescoring_threshold=task.rescoring_threshold)
    losses = KeypointLosses(
        task_loss_weight=task.task_loss_weight, heatmap_loss_weight=task.keypoint_heatmap_loss_weight,
        offset_loss_weight=task.keypoint_offset_loss_weight,
        regression_loss_weight=task.keypoint_regression_loss_weight, offset_peak_radius=task.offset_peak_radius,
        focal_alpha=focal.alpha, focal_beta=focal.beta)
    return KeypointTask(
        task_name=task.task_name, class_id=item.id - 1, keypoint_indices=tuple(kid for kid, _ in item.keypoints),
        keypoint_labels=labels, keypoint_std_dev=tuple(std[label] for label in labels), heads=heads, post=post,
        losses=losses)


def keypoint_candidates(heatmap: tf.Tensor, offsets: tf.Tensor, task: KeypointTask):
    """The OD API's `prediction_tensors_to_keypoint_candidates`: per keypoint type its top heatmap peaks.

    heatmap [B, H, W, K] (sigmoid), offsets [B, H, W, 2 or 2K] → candidates [B, n, K, 2] (y, x in cells),
    scores [B, n, K] and the number of candidates at or above the score threshold [B, K].
    """
    k, n = heatmap.shape[3], task.post.num_candidates_per_keypoint
    scores, ys, xs, channels = top_k_feature_map_locations(heatmap, task.post.peak_max_pool_kernel_size, n,
                                                           per_channel=True)
    at = tf.stack([ys, xs], axis=-1)
    selected = tf.gather_nd(offsets, at, batch_dims=1)                      # [B, K*n, 2 or 2K]
    if selected.shape[-1] > 2:
        per_keypoint = tf.reshape(selected, [tf.shape(selected)[0], tf.shape(selected)[1], -1, 2])
        selected = tf.gather(per_keypoint, channels, axis=2, batch_dims=2)
    candidates = tf.stack([tf.cast(ys, tf.float32) + selected[..., 0], tf.cast(xs, tf.float32) + selected[..., 1]],
                          axis=2)
    candidates = tf.transpose(tf.reshape(candidates, [-1, k, n, 2]), [0, 2, 1, 3])
    scores = tf.transpose(tf.reshape(scores, [-1, k, n]), [0, 2, 1])
    num = tf.reduce_sum(tf.cast(scores >= task.post.candidate_score_threshold, tf.int32), axis=1)
    return candidates, scores, num


def regressed_keypoints_at_centers(regression: tf.Tensor, ys: tf.Tensor, xs: tf.Tensor) -> tf.Tensor:
    """[B, N, K, 2]: each object's keypoints regressed from its center cell, in cells (OD API's)."""
    relative = tf.gather_nd(regression, tf.stack([ys, xs], -1), batch_dims=1)
    relative = tf.reshape(relative, [tf.shape(ys)[0], tf.shape(ys)[1], -1, 2])
    return tf.stack([tf.cast(ys, tf.float32)[..., None] + relative[..., 0],
                     tf.cast(xs, tf.float32)[..., None] + relative[..., 1]], axis=3)


def refine_keypoints(regressed, candidates, candidate_scores, num_candidates, boxes, task: KeypointTask):
    """The OD API's `refine_keypoints` with boxes: regressed [B, N, K, 2] snapped to candidates (see module doc).

    Returns keypoints [B, N, K, 2] (cells) and their scores [B, N, K].
    """
    max_candidates = candidates.shape[1]
    invalid = tf.range(max_candidates)[None, :, None] >= num_candidates[:, None, :]      # [B, n, K]
    diff = regressed[:, :, None] - candidates[:, None]                                   # [B, N, n, K, 2]
    distances = tf.sqrt(tf.reduce_sum(diff * diff, axis=-1))
    distances = tf.where(invalid[:, None], tf.ones_like(distances) * MAX_DISTANCE, distances)
    min_distances = tf.reduce_min(distances, axis=2)                                     # [B, N, K]
    if task.post.candidate_ranking_mode == "min_distance":
        nearest = tf.argmin(distances, axis=2, output_type=tf.int32)
    else:                                                                                # score_distance_ratio
        ranking = candidate_scores[:, None] / (distances + task.post.score_distance_offset)
        nearest = tf.argmax(ranking, axis=2, output_type=tf.int32)
    chosen = tf.gather(tf.transpose(candidates, [0, 2, 1, 3]), tf.transpose(nearest, [0, 2, 1]), axis=2,
                       batch_dims=2)                                                     # [B, K, N, 2]
    chosen = tf.transpose(chosen, [0, 2, 1, 3])
    chosen_scores = tf.transpose(tf.gather(tf.transpose(candidate_scores, [0, 2, 1]),
                                           tf.transpose(nearest, [0, 2, 1]), axis=2, batch_dims=2), [0, 2, 1])
    ymin, xmin, ymax, xmax = _scaled_boxes(boxes, task.post.box_scale)
    search_radius = tf.maximum(ymax - ymin, xmax - xmin) * task.post.candidate_search_scale
    y, x = chosen[..., 0], chosen[..., 1]
    unmatched = ((y < ymin) | (y > ymax) | (x < xmin) | (x > xmax)
                 | (chosen_scores < task.post.candidate_score_threshold) | (min_distances > search_radius))
    keypoints = tf.where(unmatched[..., None], regressed, chosen)
    scores = tf.where(unmatched, task.post.unmatched_keypoint_score * tf.ones_like(chosen_scores), chosen_scores)
    return keypoints, scores


def _scaled_boxes(boxes: tf.Tensor, scale: float):
    """Each box [B, N, 4] scaled about its center (the OD API's `scale_height_width`), as [B, N, 1] sides."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    height, width = ymax - ymin, xmax - xmin
    yc, xc = ymin + height / 2.0, xmin + width / 2.0
    sides = (yc - 0.5 * scale * height, xc - 0.5 * scale * width, yc + 0.5 * scale * height, xc + 0.5 * scale * width)
    return tuple(side[..., None] for side in sides)


def task_keypoints(predictions: dict, task: KeypointTask, ys, xs, boxes_strided):
    """One task's keypoints [B, N, K, 2] (cells) and scores [B, N, K] at every detection's center."""
    heatmap = tf.nn.sigmoid(predictions[head_name(task.task_name, KEYPOINT_HEATMAP)][-1])
    offsets = predictions[head_name(task.task_name, KEYPOINT_OFFSET)][-1]
    regression = predictions[head_name(task.task_name, KEYPOINT_REGRESSION)][-1]
    regressed = regressed_keypoints_at_centers(regression, ys, xs)
    candidates, scores, num = keypoint_candidates(heatmap, offsets, task)
    return refine_keypoints(regressed, candidates, scores, num, boxes_strided, task)


def postprocess_keypoints(predictions: dict, tasks: tuple[KeypointTask, ...], num_classes: int, classes, ys, xs,
                          boxes_strided, num_detections):
    """Every task's keypoints [B, N, total K, 2] (cells) and scores [B, N, total K] (the OD API's).

    One task of a one-class model gives every detection its keypoints (`_postprocess_keypoints_single_class`);
    otherwise each task fills its keypoints' columns for the valid detections of its class and the rest are 0
    (`_postprocess_keypoints_multi_class`).
    """
    if len(tasks) == 1 and num_classes == 1:
        return task_keypoints(predictions, tasks[0], ys, xs, boxes_strided)
    max_detections = tf.shape(classes)[1]
    valid = tf.range(max_detections)[None, :] < num_detections[:, None]
    coords, scores = [], []
    for task in tasks:
        task_coords, task_scores = task_keypoints(predictions, task, ys, xs, boxes_strided)
        mine = tf.logical_and(valid, tf.equal(classes, task.class_id))
        coords.append(tf.where(mine[..., None, None], task_coords, 0.0))
        scores.append(tf.where(mine[..., None], task_scores, 0.0))
    # Each keypoint to its column (the tasks' ids are 0..total-1: a gather, where the OD API scatters).
    order = np.argsort([i for task in tasks for i in task.keypoint_indices])
    keypoints = tf.gather(tf.concat(coords, axis=2), order, axis=2)
    scores = tf.gather(tf.concat(scores, axis=2), order, axis=2)
    return keypoints, scores


def normalized_keypoints(keypoints, scores, stride: int, true_image_shapes, clip: bool):
    """The OD API's `convert_strided_predictions_to_normalized_keypoints`: cells → normalised to the true image;
    with `clip`, keypoints outside it are clipped to its border and scored 0."""
    scale = float(stride) / tf.cast(true_image_shapes[:, :2], tf.float32)           # [B, 2]
    keypoints = keypoints * scale[:, None, None, :]
    if clip:
        inside = tf.reduce_all((keypoints >= 0.0) & (keypoints <= 1.0), axis=-1)
        keypoints = tf.clip_by_value(keypoints, 0.0, 1.0)
        scores = tf.where(inside, scores, tf.zeros_like(scores))
    return keypoints, scores


def rescore_instances(tasks: tuple[KeypointTask, ...], classes, scores, keypoint_scores):
    """The OD API's `_rescore_instances`: with `rescore_instances`, a detection of the task's class scores
    its score times the mean of its keypoints' scores above `rescoring_threshold`."""
    total = keypoint_scores.shape[2]
    for task in tasks:
        if not task.post.rescore_instances:
            continue
        mask = tf.reduce_sum(tf.one_hot(task.keypoint_indices, total), axis=0)[None, None, :]
        of_task = tf.cast(tf.logical_and(tf.equal(classes, task.class_id)[..., None], mask == 1.0), tf.float32)
        visible = keypoint_scores > task.post.rescoring_threshold
        keypoint_scores = tf.where(visible, keypoint_scores, tf.zeros_like(keypoint_scores))
        num_visible = tf.maximum(tf.reduce_sum(of_task * tf.cast(visible, tf.float32), axis=-1), 1.0)
        rescored = (1.0 / num_visible) * tf.reduce_sum(of_task * scores[..., None] * keypoint_scores, axis=-1)
        scores = tf.where(tf.equal(classes, task.class_id), rescored, scores)
    return scores
