"""The OD API `data_augmentation_options` the trainer honours, boxes and keypoints moved with the pixels.

Every op is called `op(image, boxes, classes, keypoints=None)` and returns
`(image, boxes, classes)`, or `(image, boxes, classes, keypoints)` when keypoints
are given: image float32 RGB in [0, 1] of shape [H, W, 3], boxes normalised
[N, 4] ymin,xmin,ymax,xmax, classes int32 [N], keypoints float32 [N, K, 2]
normalised y,x (NaN: not there). Defaults are the ones in the OD API's
preprocessor.proto; the crop semantics follow its core/preprocessor.py (sample
a window covering `min_object_covered` of some box, drop boxes whose overlap
with the window is below `overlap_thresh`, re-express the rest in the window,
clip) and so does what each op does to keypoints (core/keypoint_ops.py: flipped
and permuted; gathered with their boxes, re-expressed in a crop's window and
NaN outside it; moved with the padding; colour ops leave them alone).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

from detection.data.resizing import bilinear
from official.vision.ops import box_ops

# op(image, boxes, classes, keypoints=None) -> (image, boxes, classes) or, with keypoints, (..., keypoints)
Op = Callable[..., tuple]

SUPPORTED = (
    "random_horizontal_flip", "random_adjust_brightness", "random_adjust_contrast",
    "random_adjust_saturation", "random_adjust_hue", "random_crop_image", "ssd_random_crop",
    "random_scale_crop_and_pad_to_square", "random_square_crop_by_scale", "random_absolute_pad_image",
    "random_patch_gaussian",
)


@dataclasses.dataclass(frozen=True)
class CropOptions:
    """The fields of RandomCropImage / SSDRandomCropOperation; defaults are RandomCropImage's."""

    min_object_covered: float = 1.0
    min_aspect_ratio: float = 0.75
    max_aspect_ratio: float = 1.33
    min_area: float = 0.1
    max_area: float = 1.0
    overlap_thresh: float = 0.3
    clip_boxes: bool = True
    random_coef: float = 0.0


# core/preprocessor.py ssd_random_crop defaults, used when `operations` is empty.
_SSD_CROP_DEFAULTS = [
    CropOptions(min_object_covered=c, min_aspect_ratio=0.5, max_aspect_ratio=2.0, min_area=0.1,
                max_area=1.0, overlap_thresh=c, clip_boxes=True, random_coef=0.15)
    for c in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
]


def _out(image, boxes, classes, keypoints) -> tuple:
    """An op's result: keypoints last, only when the op was given keypoints."""
    return (image, boxes, classes) if keypoints is None else (image, boxes, classes, keypoints)


def keypoints_to_frame(keypoints, window):
    """The OD API's keypoint_ops.change_coordinate_frame: normalised keypoints [N, K, 2] re-expressed in
    `window` ([4] ymin, xmin, ymax, xmax, normalised to the same image), by the OD API's arithmetic."""
    height, width = window[2] - window[0], window[3] - window[1]
    return (keypoints - tf.stack([window[0], window[1]])) * tf.stack([1.0 / height, 1.0 / width])


def prune_keypoints_outside(keypoints):
    """The OD API's keypoint_ops.prune_outside_window on [0, 1]: keypoints outside it (edges kept) become NaN."""
    inside = tf.reduce_all((keypoints >= 0.0) & (keypoints <= 1.0), axis=-1, keepdims=True)
    return tf.where(inside, keypoints, tf.constant(float("nan"), keypoints.dtype))


def flip_keypoints(keypoints, flip_permutation=()):
    """The OD API's keypoint_ops.flip_horizontal around x = 0.5: keypoint i of a flipped object is keypoint
    flip_permutation[i] of the original (left and right swapped), then mirrored."""
    if len(flip_permutation):
        keypoints = tf.gather(keypoints, list(flip_permutation), axis=1)
    y, x = tf.unstack(keypoints, axis=-1)
    return tf.stack([y, 1.0 - x], axis=-1)


def flip_horizontal(image, boxes, classes, keypoints=None, flip_permutation=()):
    """Mirrors the image left-right and its boxes and keypoints (`flip_keypoints`) with it (deterministic)."""
    flipped = None if keypoints is None else flip_keypoints(keypoints, flip_permutation)
    return _out(tf.image.flip_left_right(image), box_ops.horizontal_flip_boxes(boxes), classes, flipped)


def random_horizontal_flip(probability: float = 0.5, keypoint_flip_permutation=()) -> Op:
    """OD API random_horizontal_flip, keypoints permuted by `keypoint_flip_permutation` (empty: kept in order)."""
    permutation = tuple(keypoint_flip_permutation)

    def op(image, boxes, classes, keypoints=None):
        return tf.cond(tf.random.uniform([]) < probability,
                       lambda: flip_horizontal(image, boxes, classes, keypoints, permutation),
                       lambda: _out(image, boxes, classes, keypoints))
    return op


def random_adjust_brightness(max_delta: float = 0.2) -> Op:
    """OD API random_adjust_brightness: add a uniform delta in [-max_delta, max_delta]."""
    def op(image, boxes, classes, keypoints=None):
        return _out(tf.clip_by_value(tf.image.random_brightness(image, max_delta), 0.0, 1.0), boxes, classes,
                    keypoints)
    return op


def random_adjust_contrast(min_delta: float = 0.8, max_delta: float = 1.25) -> Op:
    """OD API random_adjust_contrast: contrast factor uniform in [min_delta, max_delta]."""
    def op(image, boxes, classes, keypoints=None):
        out = tf.image.random_contrast(image, min_delta, max_delta)
        return _out(tf.clip_by_value(out, 0.0, 1.0), boxes, classes, keypoints)
    return op


def random_adjust_saturation(min_delta: float = 0.8, max_delta: float = 1.25) -> Op:
    """OD API random_adjust_saturation: saturation factor uniform in [min_delta, max_delta]."""
    def op(image, boxes, classes, keypoints=None):
        out = tf.image.random_saturation(image, min_delta, max_delta)
        return _out(tf.clip_by_value(out, 0.0, 1.0), boxes, classes, keypoints)
    return op


def random_adjust_hue(max_delta: float = 0.02) -> Op:
    """OD API random_adjust_hue: hue shift uniform in [-max_delta, max_delta]."""
    def op(image, boxes, classes, keypoints=None):
        return _out(tf.clip_by_value(tf.image.random_hue(image, max_delta), 0.0, 1.0), boxes, classes, keypoints)
    return op


def crop_to_window(image, boxes, classes, window, overlap_thresh: float, clip_boxes: bool = True, keypoints=None):
    """Crops `image` to the normalised `window` [4]; keeps boxes overlapping it enough.

    A box is kept when (its intersection with the window) / (its area) >=
    overlap_thresh and the intersection is not empty; kept boxes are expressed
    in the window's frame and, with `clip_boxes`, clipped to [0, 1]. The kept
    boxes' keypoints are expressed in the window's frame too and, with
    `clip_boxes`, NaN outside it (the OD API's _strict_random_crop_image).
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    wy0, wx0, wy1, wx1 = tf.unstack(window)
    top = tf.cast(tf.round(wy0 * shape[0]), tf.int32)
    left = tf.cast(tf.round(wx0 * shape[1]), tf.int32)
    height = tf.maximum(tf.cast(tf.round((wy1 - wy0) * shape[0]), tf.int32), 1)
    width = tf.maximum(tf.cast(tf.round((wx1 - wx0) * shape[1]), tf.int32), 1)
    height = tf.minimum(height, tf.shape(image)[0] - top)
    width = tf.minimum(width, tf.shape(image)[1] - left)
    cropped = tf.image.crop_to_bounding_box(image, top, left, height, width)
    # Use the exact pixel window so boxes stay aligned with the pixels.
    wy0 = tf.cast(top, tf.float32) / shape[0]
    wx0 = tf.cast(left, tf.float32) / shape[1]
    wh = tf.cast(height, tf.float32) / shape[0]
    ww = tf.cast(width, tf.float32) / shape[1]
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=1)
    inter_h = tf.maximum(tf.minimum(ymax, wy0 + wh) - tf.maximum(ymin, wy0), 0.0)
    inter_w = tf.maximum(tf.minimum(xmax, wx0 + ww) - tf.maximum(xmin, wx0), 0.0)
    inter = inter_h * inter_w
    area = tf.maximum((ymax - ymin) * (xmax - xmin), 1e-12)
    keep = tf.logical_and(inter > 0.0, inter / area >= overlap_thresh)
    boxes, classes = tf.boolean_mask(boxes, keep), tf.boolean_mask(classes, keep)
    boxes = (boxes - tf.stack([wy0, wx0, wy0, wx0])) / tf.stack([wh, ww, wh, ww])
    if clip_boxes:
        boxes = tf.clip_by_value(boxes, 0.0, 1.0)
    if keypoints is not None:
        keypoints = keypoints_to_frame(tf.boolean_mask(keypoints, keep), tf.stack([wy0, wx0, wy0 + wh, wx0 + ww]))
        keypoints = prune_keypoints_outside(keypoints) if clip_boxes else keypoints
    return _out(cropped, boxes, classes, keypoints)


def _random_crop(image, boxes, classes, keypoints, crop: CropOptions):
    begin, size, window = tf.image.sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.expand_dims(tf.clip_by_value(boxes, 0.0, 1.0), 0),
        min_object_covered=crop.min_object_covered,
        aspect_ratio_range=(crop.min_aspect_ratio, crop.max_aspect_ratio),
        area_range=(crop.min_area, crop.max_area), max_attempts=100, use_image_if_no_bounding_boxes=True)
    del begin, size
    cropped = crop_to_window(image, boxes, classes, tf.reshape(window, [4]), crop.overlap_thresh, crop.clip_boxes,
                             keypoints)
    if crop.random_coef <= 0.0:
        return cropped
    return tf.cond(tf.random.uniform([]) < crop.random_coef,
                   lambda: _out(image, boxes, classes, keypoints), lambda: cropped)


def random_crop_image(**params) -> Op:
    """OD API random_crop_image (defaults: cover 1.0 of a box, aspect 0.75..1.33, area 0.1..1)."""
    crop = CropOptions(**params)
    return lambda image, boxes, classes, keypoints=None: _random_crop(image, boxes, classes, keypoints, crop)


def ssd_random_crop(operations: list[dict] | None = None) -> Op:
    """OD API ssd_random_crop: one of `operations` (the SSD paper's 7 by default) picked at random."""
    ops = [CropOptions(**p) for p in operations] if operations else _SSD_CROP_DEFAULTS

    def op(image, boxes, classes, keypoints=None):
        index = tf.random.uniform([], 0, len(ops), dtype=tf.int32)
        branches = [lambda p=p: _random_crop(image, boxes, classes, keypoints, p) for p in ops]
        return tf.switch_case(index, branches)
    return op


def _inside_and_clipped(boxes, classes, keypoints=None):
    """Boxes (in a crop's frame) not entirely outside [0, 1], clipped to it, and their classes (the OD API's
    prune_completely_outside_window then clip_to_window); and their keypoints (in the same frame), NaN outside
    [0, 1] (prune_outside_window)."""
    keep = tf.where(~tf.reduce_any(tf.concat([boxes[:, :2] >= 1.0, boxes[:, 2:] <= 0.0], axis=1), axis=1))[:, 0]
    kept = tf.clip_by_value(tf.gather(boxes, keep), 0.0, 1.0), tf.gather(classes, keep)
    return kept if keypoints is None else (*kept, prune_keypoints_outside(tf.gather(keypoints, keep)))


def scale_crop_and_pad_to_square(image, boxes, classes, scale, offset_y, offset_x, output_size: int,
                                 keypoints=None):
    """The OD API's random_scale_crop_and_pad_to_square once its draws are made: `scale` (of output_size, on the
    long side) and where the crop starts, as fractions `offset_y` / `offset_x` of the room there is.

    The image is resized (TF1 bilinear) to int(scale * output_size * side / long side) on each side, an
    output_size square is cut from it at the offsets and padded with zeros at the bottom and right;
    boxes entirely outside the square are dropped, the rest clipped to it; their keypoints NaN outside it.
    """
    shape = tf.shape(image)
    longest = tf.cast(tf.maximum(shape[0], shape[1]), tf.float32)
    scaled_h = tf.cast(scale * output_size * (tf.cast(shape[0], tf.float32) / longest), tf.int32)
    scaled_w = tf.cast(scale * output_size * (tf.cast(shape[1], tf.float32) / longest), tf.int32)
    top = tf.cast(tf.maximum(0.0, tf.cast(scaled_h - output_size, tf.float32)) * offset_y, tf.int32)
    left = tf.cast(tf.maximum(0.0, tf.cast(scaled_w - output_size, tf.float32)) * offset_x, tf.int32)
    scaled = bilinear(image, [scaled_h, scaled_w])[top:top + output_size, left:left + output_size, :]
    out = tf.image.pad_to_bounding_box(scaled, 0, 0, output_size, output_size)
    window = tf.cast(tf.stack([top, left, top + output_size, left + output_size]), tf.float32) / tf.cast(
        tf.stack([scaled_h, scaled_w, scaled_h, scaled_w]), tf.float32)
    height, width = window[2] - window[0], window[3] - window[1]
    moved = (boxes - tf.stack([window[0], window[1], window[0], window[1]])) * tf.stack(
        [1.0 / height, 1.0 / width, 1.0 / height, 1.0 / width])
    moved_keypoints = None if keypoints is None else keypoints_to_frame(keypoints, window)
    return (out, *_inside_and_clipped(moved, classes, moved_keypoints))


def random_scale_crop_and_pad_to_square(output_size: int = 512, scale_min: float = 0.1,
                                        scale_max: float = 2.0) -> Op:
    """OD API random_scale_crop_and_pad_to_square: a scale in [scale_min, scale_max), then the crop's offsets."""
    def op(image, boxes, classes, keypoints=None):
        scale = tf.random.uniform([], scale_min, scale_max)
        offset_y, offset_x = tf.random.uniform([]), tf.random.uniform([])
        return scale_crop_and_pad_to_square(image, boxes, classes, scale, offset_y, offset_x, output_size, keypoints)
    return op


def crop_border(max_border: int, size: tf.Tensor) -> tf.Tensor:
    """The OD API's `_get_crop_border`: `max_border` halved until it is under half of `size` (at least 1 px)."""
    border = tf.cast(max_border, tf.float32)
    i = tf.math.ceil(tf.math.log(2.0 * border / tf.cast(size, tf.float32)) / tf.math.log(2.0))
    divisor = tf.cast(tf.clip_by_value(tf.pow(2.0, i), 1.0, border), tf.int32)
    return tf.cast(border, tf.int32) // divisor


def square_crop_by_scale(image, boxes, classes, scale, y_center, x_center, keypoints=None):
    """The OD API's random_square_crop_by_scale once its scale and crop centre are drawn.

    A square of side `scale` x the image's longer side, centred at (`y_center`, `x_center`) pixels, zero
    where it leaves the image. As core/preprocessor.py does it: the crop stops one pixel short of the
    image's last row and column, boxes entirely outside are dropped and the rest clipped to the square; their
    keypoints are NaN outside it.
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    size = tf.cast(scale * tf.cast(tf.maximum(height, width), tf.float32), tf.int32)
    half = size // 2
    top, left = y_center - half, x_center - half
    ymin, xmin = tf.maximum(top, 0), tf.maximum(left, 0)
    ymax, xmax = tf.minimum(y_center + half, height - 1), tf.minimum(x_center + half, width - 1)
    out = tf.image.pad_to_bounding_box(image[ymin:ymax, xmin:xmax], ymin - top, xmin - left, size, size)
    dims = tf.cast(tf.stack([height, width, height, width]), tf.float32)
    moved = (boxes - tf.cast(tf.stack([top, left, top, left]), tf.float32) / dims) / (tf.cast(size, tf.float32) / dims)
    moved_keypoints = None if keypoints is None else keypoints_to_frame(
        keypoints, tf.cast(tf.stack([top, left, top + size, left + size]), tf.float32) / dims)
    return (out, *_inside_and_clipped(moved, classes, moved_keypoints))


def random_square_crop_by_scale(max_border: int = 128, scale_min: float = 0.6, scale_max: float = 1.3,
                                num_scales: int = 8) -> Op:
    """OD API random_square_crop_by_scale: one of `num_scales` scales, a centre away from the borders (see
    `crop_border`), then `square_crop_by_scale`."""
    def op(image, boxes, classes, keypoints=None):
        scale = tf.linspace(scale_min, scale_max, num_scales)[tf.random.uniform([], 0, num_scales, tf.int32)]
        shape = tf.shape(image)
        h_border, w_border = crop_border(max_border, shape[0]), crop_border(max_border, shape[1])
        y_center = tf.random.uniform([], h_border, shape[0] - h_border + 1, tf.int32)
        x_center = tf.random.uniform([], w_border, shape[1] - w_border + 1, tf.int32)
        return square_crop_by_scale(image, boxes, classes, tf.cast(scale, tf.float32), y_center, x_center,
                                    keypoints)
    return op


def pad_image(image, boxes, classes, canvas, at, pad_color=None, keypoints=None):
    """The OD API's random_pad_image once its draws are made: the image placed at `at` = (offset_y, offset_x) in a
    `canvas` = (height, width) of `pad_color` (0..1 RGB; None: the image's mean colour), the boxes and keypoints
    re-expressed in the canvas. No box is dropped."""
    (target_height, target_width), (offset_y, offset_x) = canvas, at
    shape = tf.shape(image)
    color = tf.reduce_mean(image, axis=[0, 1]) if pad_color is None else tf.constant(pad_color, image.dtype)
    out = tf.image.pad_to_bounding_box(image, offset_y, offset_x, target_height, target_width)
    inside = tf.image.pad_to_bounding_box(tf.ones_like(image), offset_y, offset_x, target_height, target_width)
    out += (1.0 - inside) * color
    scale = tf.cast(tf.stack([shape[0], shape[1]] * 2), tf.float32)
    offset = tf.cast(tf.stack([offset_y, offset_x] * 2), tf.float32)
    size = tf.cast(tf.stack([target_height, target_width] * 2), tf.float32)
    if keypoints is not None:    # the canvas in the image's normalised coordinates is the keypoints' new frame
        frame = tf.stack([-offset_y, -offset_x, target_height - offset_y, target_width - offset_x])
        keypoints = keypoints_to_frame(keypoints, tf.cast(frame, tf.float32) / scale)
    return _out(out, (boxes * scale + offset) / size, classes, keypoints)


def random_absolute_pad_image(max_height_padding: int = 1, max_width_padding: int = 1,
                              pad_color: tuple[float, ...] = ()) -> Op:
    """OD API random_absolute_pad_image: a canvas taller by [0, max_height_padding) and wider by
    [0, max_width_padding) pixels, the image at a random place in it; `pad_color` in 0..255 (empty: the image's
    mean colour)."""
    color = tuple(c / 255.0 for c in pad_color) or None

    def draw(low, high):
        return tf.cond(high > low, lambda: tf.random.uniform([], low, high, tf.int32), lambda: high)

    def op(image, boxes, classes, keypoints=None):
        shape = tf.shape(image)
        height, width = draw(shape[0], shape[0] + max_height_padding), draw(shape[1], shape[1] + max_width_padding)
        offset_y = tf.cond(height > shape[0], lambda: tf.random.uniform([], 0, height - shape[0], tf.int32),
                           lambda: 0)
        offset_x = tf.cond(width > shape[1], lambda: tf.random.uniform([], 0, width - shape[1], tf.int32),
                           lambda: 0)
        return pad_image(image, boxes, classes, (height, width), (offset_y, offset_x), color, keypoints)
    return op


def patch_gaussian(image, y, x, patch_size, noise):
    """The OD API's random_patch_gaussian once its draws are made: `noise` (image-shaped) added to the square patch
    of side `patch_size` centred at (y, x) (cut at the image's edges), the sum clipped to 0..1."""
    shape = tf.shape(image)
    half = tf.cast(patch_size, tf.float32) / 2
    center = tf.stack([y, x])
    start = tf.maximum(center - tf.cast(tf.floor(half), tf.int32), 0)
    end = tf.minimum(center + tf.cast(tf.math.ceil(half), tf.int32), shape[:2])
    rows, cols = tf.range(shape[0]), tf.range(shape[1])
    inside = ((rows >= start[0]) & (rows < end[0]))[:, None] & ((cols >= start[1]) & (cols < end[1]))[None, :]
    return tf.where(inside[..., None], tf.clip_by_value(image + noise, 0.0, 1.0), image)


def random_patch_gaussian(random_coef: float = 0.0, min_patch_size: int = 1, max_patch_size: int = 250,
                          min_gaussian_stddev: float = 0.0, max_gaussian_stddev: float = 1.0) -> Op:
    """OD API random_patch_gaussian: with probability 1 - random_coef, Gaussian noise of a stddev drawn in
    [min, max) on a square patch of a side drawn in [min_patch_size, max_patch_size), centred anywhere."""
    def op(image, boxes, classes, keypoints=None):
        def apply():
            shape = tf.shape(image)
            size = tf.random.uniform([], min_patch_size, max_patch_size, tf.int32)
            stddev = tf.random.uniform([], min_gaussian_stddev, max_gaussian_stddev)
            y, x = tf.random.uniform([], 0, shape[0], tf.int32), tf.random.uniform([], 0, shape[1], tf.int32)
            return patch_gaussian(image, y, x, size, tf.random.normal(shape, stddev=stddev))
        return _out(tf.cond(tf.random.uniform([]) >= random_coef, apply, lambda: image), boxes, classes, keypoints)
    return op


def _fields(msg) -> dict:
    """Set-or-default scalar fields of a proto message as a dict."""
    return {f.name: getattr(msg, f.name) for f in msg.DESCRIPTOR.fields
            if f.label != f.LABEL_REPEATED}


def build_augmentations(options) -> list[Op]:
    """Ops for `train_config.data_augmentation_options`, in config order.

    Raises ValueError naming any preprocessing step not in SUPPORTED (the config
    checker rejects these first; this is the trainer's own guard).
    """
    ops = []
    for step in options:
        kind = step.WhichOneof("preprocessing_step")
        msg = getattr(step, kind) if kind else None
        if kind == "random_horizontal_flip":
            ops.append(random_horizontal_flip(msg.probability, tuple(msg.keypoint_flip_permutation)))
        elif kind == "random_adjust_brightness":
            ops.append(random_adjust_brightness(msg.max_delta))
        elif kind == "random_adjust_contrast":
            ops.append(random_adjust_contrast(msg.min_delta, msg.max_delta))
        elif kind == "random_adjust_saturation":
            ops.append(random_adjust_saturation(msg.min_delta, msg.max_delta))
        elif kind == "random_adjust_hue":
            ops.append(random_adjust_hue(msg.max_delta))
        elif kind == "random_crop_image":
            ops.append(random_crop_image(**_fields(msg)))
        elif kind == "ssd_random_crop":
            ops.append(ssd_random_crop([_fields(o) for o in msg.operations]))
        elif kind == "random_scale_crop_and_pad_to_square":
            ops.append(random_scale_crop_and_pad_to_square(msg.output_size, msg.scale_min, msg.scale_max))
        elif kind == "random_patch_gaussian":
            ops.append(random_patch_gaussian(**_fields(msg)))
        elif kind == "random_absolute_pad_image":
            ops.append(random_absolute_pad_image(msg.max_height_padding or 1, msg.max_width_padding or 1,
                                                 tuple(msg.pad_color)))
        elif kind == "random_square_crop_by_scale":
            ops.append(random_square_crop_by_scale(msg.max_border, msg.scale_min, msg.scale_max, msg.num_scales))
        else:
            raise ValueError(f"data_augmentation_options: {kind} is not supported "
                             f"(supported: {', '.join(SUPPORTED)})")
    return ops
