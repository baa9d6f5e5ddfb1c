"""The one image-resizer geometry, shared by the training input path and the export.

Both resize bilinearly as the OD API's image resizers do (`bilinear`).
fixed_shape_resizer: resized to height x width, aspect ratio not kept.
keep_aspect_ratio_resizer: scaled by min(min_dimension / short side,
max_dimension / long side) (the OD API's rule), rounded, then padded with
zeros at the bottom and right to the max_dimension square the model takes.
"""

from __future__ import annotations

import tensorflow as tf


def bilinear(images: tf.Tensor, size) -> tf.Tensor:
    """The OD API's resize: TF1 `resize_images` bilinear, corners not aligned and no half-pixel centres.

    (TF2's `tf.image.resize` samples at half-pixel centres: a different image, up
    to 0.4 of the value range apart after a 360x480 → 320x320 resize.)
    """
    return tf.compat.v1.image.resize(images, size, method=tf.compat.v1.image.ResizeMethod.BILINEAR,
                                     align_corners=False)


def resize_to_input(images: tf.Tensor, height: int, width: int, keep_aspect_ratio: bool = False,
                    min_dimension: int = 0, max_dimension: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """Resizes one image [h,w,3] or a same-size batch [B,h,w,3] to the model input (bilinear).

    Returns (float32 images [(B,) height, width, 3] in the input's value
    range, the valid (unpadded) height/width of the resized image as float32 [2]).
    """
    images = tf.cast(images, tf.float32)
    if not keep_aspect_ratio:
        resized = bilinear(images, [height, width])
        return resized, tf.constant([height, width], tf.float32)
    shape = tf.shape(images)
    hw = tf.cast(shape[-3:-1], tf.float32)
    scale = tf.minimum(min_dimension / tf.reduce_min(hw), max_dimension / tf.reduce_max(hw))
    new_hw = tf.minimum(tf.round(hw * scale), [float(height), float(width)])
    resized = bilinear(images, tf.cast(new_hw, tf.int32))
    return tf.image.pad_to_bounding_box(resized, 0, 0, height, width), new_hw


def resize_boxes(boxes: tf.Tensor, valid_hw: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Boxes normalised to the source image → normalised to the padded [height, width] model input."""
    ratio = valid_hw / tf.constant([height, width], tf.float32)
    return boxes * tf.tile(ratio, [2])


def resize_keypoints(keypoints: tf.Tensor, valid_hw: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Keypoints [..., 2] (y, x) normalised to the source image → normalised to the padded [height, width] model
    input (`resize_boxes` for points)."""
    return keypoints * (valid_hw / tf.constant([height, width], tf.float32))
