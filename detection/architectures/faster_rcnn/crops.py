"""Crops of a feature map at normalised boxes, as the OD API's Faster R-CNN takes them.

- `native_crop_and_resize`: `tf.image.crop_and_resize` (the OD API's
  `multilevel_native_crop_and_resize`): a sample point outside the map is 0.
- `matmul_crop_and_resize` (`use_matmul_crop_and_resize: true`, the zoo's
  Faster R-CNN configs): the OD API's `multilevel_roi_align` with
  align_corners, one sample per cell. The same sample points (y * (H - 1),
  corners included), but each of the four neighbours counts only where it
  lies on the map, so a point a rounding error past the last row still takes
  that row's value, where the native op gives 0. Written as two interpolation
  matrices per box (rows, then columns) instead of the OD API's gather of
  every neighbour: the same weights on the same features.
"""

from __future__ import annotations

import tensorflow as tf


def native_crop_and_resize(features: tf.Tensor, boxes: tf.Tensor, size: int) -> tf.Tensor:
    """features [B, H, W, C], boxes [B, P, 4] normalised → crops [B * P, size, size, C]."""
    per_image = tf.shape(boxes)[1]
    indices = tf.repeat(tf.range(tf.shape(boxes)[0]), per_image)
    return tf.image.crop_and_resize(features, tf.reshape(boxes, [-1, 4]), indices, [size, size])


def _interpolation(start: tf.Tensor, end: tf.Tensor, size: int, extent: int) -> tf.Tensor:
    """[B, P] box edges in map units → bilinear weights [B, P, size, extent] (off-map neighbours weigh 0)."""
    spacing = tf.reshape(tf.linspace(0.0, 1.0, size), [1, 1, size])
    grid = start[..., None] + spacing * (end - start)[..., None]
    low = tf.floor(grid)
    high = tf.floor(grid + 1)
    frac = grid - low
    # one_hot gives a zero row for an index off the map: the OD API's _valid_indicator.
    return (tf.one_hot(tf.cast(low, tf.int32), extent) * (1.0 - frac)[..., None]
            + tf.one_hot(tf.cast(high, tf.int32), extent) * frac[..., None])


def matmul_crop_and_resize(features: tf.Tensor, boxes: tf.Tensor, size: int) -> tf.Tensor:
    """features [B, H, W, C] (static H, W), boxes [B, P, 4] normalised → crops [B * P, size, size, C]."""
    height, width = features.shape[1], features.shape[2]
    scaled = boxes * tf.constant([height - 1, width - 1] * 2, boxes.dtype)
    ymin, xmin, ymax, xmax = tf.unstack(scaled, axis=-1)
    # The weights in the features' dtype (float16 / bfloat16 under a mixed-precision policy).
    rows = tf.cast(_interpolation(ymin, ymax, size, height), features.dtype)          # [B, P, size, H]
    cols = tf.cast(_interpolation(xmin, xmax, size, width), features.dtype)           # [B, P, size, W]
    partial = tf.einsum("bpyh,bhwc->bpywc", rows, features)
    crops = tf.einsum("bpywc,bpxw->bpyxc", partial, cols)
    return tf.reshape(crops, [-1, size, size, features.shape[-1]])
