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


def _per_box(values: tf.Tensor, n: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    # Optional per-box features: absent (length 0) or of another length become zeros (= default).
    values = tf.cast(values, dtype)
    return tf.cond(tf.shape(values)[0] == n, lambda: values, lambda: tf.zeros([n], dtype))


def decode_example(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """One serialized OD API tf.Example → its image and ground truth.

    Keys: image uint8 [H,W,3]; boxes float32 [N,4] normalised ymin,xmin,ymax,xmax;
    labels int64 [N] (label-map ids); is_crowd int64 [N]; area float32 [N]
    (0 where absent); source_id and filename (strings, "" where absent).
    """
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    dense = {k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v for k, v in parsed.items()}
    image = tf.io.decode_image(dense[ef.IMAGE_ENCODED], channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    boxes = tf.stack([dense[k] for k in (ef.BBOX_YMIN, ef.BBOX_XMIN, ef.BBOX_YMAX, ef.BBOX_XMAX)], axis=1)
    n = tf.shape(boxes)[0]
    return {
        "image": image,
        "boxes": boxes,
        "labels": dense[ef.CLASS_LABEL],
        "is_crowd": _per_box(dense[ef.IS_CROWD], n, tf.int64),
        "area": _per_box(dense[ef.AREA], n, tf.float32),
        "source_id": dense[ef.SOURCE_ID],
        "filename": dense[ef.FILENAME],
    }

