"""The one parse spec and decoder of OD API tf.Examples, shared by training inputs and the Evaluator.

Kept free of Model Garden imports so the Evaluator can use it cheaply.
"""

from __future__ import annotations

import tensorflow as tf

from schemas import example_format as ef

FEATURES = {
    ef.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string),
    ef.FILENAME: tf.io.FixedLenFeature([], tf.string, default_value=""),
    ef.SOURCE_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
    ef.BBOX_YMIN: tf.io.VarLenFeature(tf.float32),
    ef.BBOX_XMIN: tf.io.VarLenFeature(tf.float32),
    ef.BBOX_YMAX: tf.io.VarLenFeature(tf.float32),
    ef.BBOX_XMAX: tf.io.VarLenFeature(tf.float32),
    ef.CLASS_LABEL: tf.io.VarLenFeature(tf.int64),
    ef.IS_CROWD: tf.io.VarLenFeature(tf.int64),
    ef.AREA: tf.io.VarLenFeature(tf.float32),
}
# Read only when keypoints are asked for (the OD API's decoder with num_keypoints > 0).
KEYPOINT_FEATURES = {
    ef.KEYPOINT_X: tf.io.VarLenFeature(tf.float32),
    ef.KEYPOINT_Y: tf.io.VarLenFeature(tf.float32),
    ef.KEYPOINT_VISIBILITY: tf.io.VarLenFeature(tf.int64),
}
# COCO's visibility (the OD API's Visibility): 0 not labelled, 1 labelled but not visible, 2 labelled and visible.
NOT_VISIBLE, VISIBLE = 1, 2


def _per_box(values: tf.Tensor, n: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    # Optional per-box features: absent (length 0) or of another length become zeros (= default).
    values = tf.cast(values, dtype)
    return tf.cond(tf.shape(values)[0] == n, lambda: values, lambda: tf.zeros([n], dtype))


def keypoint_visibilities(x: tf.Tensor, visibility: tf.Tensor) -> tf.Tensor:
    """The OD API decoder's `_reshape_keypoint_visibilities`, flat: True where a keypoint is labelled (COCO
    visibility 1 or 2). Without a visibility per keypoint, a keypoint is visible (2) unless its x is NaN."""
    default = tf.where(tf.math.is_nan(x), tf.constant(0, tf.int64), tf.constant(VISIBLE, tf.int64))
    visibility = tf.cond(tf.size(visibility) == tf.size(x), lambda: visibility, lambda: default)
    return tf.logical_or(tf.equal(visibility, NOT_VISIBLE), tf.equal(visibility, VISIBLE))


def decode_keypoints(x: tf.Tensor, y: tf.Tensor, visibility: tf.Tensor, n: tf.Tensor, num_keypoints: int):
    """Flat keypoint features of `n` objects → (keypoints float32 [n,K,2] normalised y,x, visibilities bool [n,K]).

    As the OD API's decoder (without a keypoint label map): keypoints not labelled are NaN. Where x or y
    does not hold n*K values (the OD API's reshape would fail), every keypoint is NaN and not visible.
    """
    visible = keypoint_visibilities(x, visibility)
    fits = tf.logical_and(tf.size(x) == n * num_keypoints, tf.size(y) == n * num_keypoints)
    x = tf.cond(fits, lambda: x, lambda: tf.fill([n * num_keypoints], float("nan")))
    y = tf.cond(fits, lambda: y, lambda: tf.fill([n * num_keypoints], float("nan")))
    visible = tf.cond(fits, lambda: visible, lambda: tf.zeros([n * num_keypoints], tf.bool))
    keypoints = tf.reshape(tf.stack([y, x], axis=1), [n, num_keypoints, 2])
    visible = tf.reshape(visible, [n, num_keypoints])
    keypoints = tf.where(visible[..., None], keypoints, tf.fill(tf.shape(keypoints), float("nan")))
    return keypoints, visible


def decode_example(serialized: tf.Tensor, num_keypoints: int = 0) -> dict[str, tf.Tensor]:
    """One serialized OD API tf.Example → its image and ground truth.

    Keys: image uint8 [H,W,3]; boxes float32 [N,4] normalised ymin,xmin,ymax,xmax;
    labels int64 [N] (label-map ids); is_crowd int64 [N]; area float32 [N]
    (0 where absent); source_id and filename (strings, "" where absent). With
    `num_keypoints` K > 0 also keypoints float32 [N,K,2] (normalised y,x; NaN
    where not labelled) and keypoint_visibilities bool [N,K] (`decode_keypoints`).
    """
    spec = {**FEATURES, **KEYPOINT_FEATURES} if num_keypoints > 0 else FEATURES
    parsed = tf.io.parse_single_example(serialized, spec)
    dense = {k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v for k, v in parsed.items()}
    image = tf.io.decode_image(dense[ef.IMAGE_ENCODED], channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    boxes = tf.stack([dense[k] for k in (ef.BBOX_YMIN, ef.BBOX_XMIN, ef.BBOX_YMAX, ef.BBOX_XMAX)], axis=1)
    n = tf.shape(boxes)[0]
    decoded = {
        "image": image,
        "boxes": boxes,
        "labels": dense[ef.CLASS_LABEL],
        "is_crowd": _per_box(dense[ef.IS_CROWD], n, tf.int64),
        "area": _per_box(dense[ef.AREA], n, tf.float32),
        "source_id": dense[ef.SOURCE_ID],
        "filename": dense[ef.FILENAME],
    }
    if num_keypoints > 0:
        decoded["keypoints"], decoded["keypoint_visibilities"] = decode_keypoints(
            dense[ef.KEYPOINT_X], dense[ef.KEYPOINT_Y], dense[ef.KEYPOINT_VISIBILITY], n, num_keypoints)
    return decoded

