"""Data augmentations of the zoo's configs against the OD API's own (core/preprocessor.py): random_square_crop_by_scale
random_crop_image (the crop of every SSD zoo config), random_scale_crop_and_pad_to_square (EfficientDet's) and
random_absolute_pad_image and random_patch_gaussian (CenterNet's); and the keypoints random_horizontal_flip (its
keypoint_flip_permutation), random_crop_image and random_absolute_pad_image give.

The oracle ran each op on fixed images and boxes with its random draws fixed through the OD API's
preprocessor cache (tools/oracle/make_zoo_fixtures.py `write_augmentation_reference`); detflow's op,
given the same draws, must give the same image, boxes and labels. The draws themselves are checked to
stay in the OD API's ranges.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import tensorflow as tf

from detection.data import augmentations
from schemas.protos import preprocessor_pb2
from tests.zoo.fixtures import oracle_file

SQUARE_CROP_CASES = 6
RANDOM_CROP_CASES = 6
SCALE_CROP_CASES = 5
PAD_CASES = 4
PATCH_CASES = 4
KEYPOINT_FLIP_CASES = 3


@functools.lru_cache(maxsize=None)
def _reference(name: str) -> dict:
    with np.load(oracle_file(f"augmentations/{name}.npz")) as data:
        return {k: data[k] for k in data.files}


def _case(name: str, case: int) -> dict:
    """One case of the oracle's `augmentations/<name>.npz`: its arrays by name."""
    return {k.split("/", 1)[1]: v for k, v in _reference(name).items() if k.startswith(f"{case}/")}


@pytest.mark.parametrize("case", range(SQUARE_CROP_CASES))
def test_square_crop_by_scale_equals_the_od_api_for_the_same_draws(case):
    ref = _case("square_crop_by_scale", case)
    scale, y_center, x_center = ref["draws"]
    image, boxes, labels = augmentations.square_crop_by_scale(
        tf.constant(ref["image"]), tf.constant(ref["boxes"]), tf.constant(ref["labels"]),
        tf.constant(scale, tf.float32), tf.constant(int(y_center)), tf.constant(int(x_center)))
    np.testing.assert_array_equal(image.numpy(), ref["out_image"])
    np.testing.assert_array_equal(labels.numpy(), ref["out_labels"])
    np.testing.assert_allclose(boxes.numpy(), ref["out_boxes"], atol=1e-6)
    height, width = ref["image"].shape[:2]
    borders = [int(augmentations.crop_border(int(ref["max_border"]), tf.constant(n))) for n in (height, width)]
    assert borders == ref["borders"].tolist()


@pytest.mark.parametrize("case", range(RANDOM_CROP_CASES))
def test_random_crop_image_equals_the_od_api_for_the_same_window(case):
    """random_crop_image (and ssd_random_crop, which picks one of its settings) once its window is drawn: the
    same pixels, the boxes that overlap the window enough, re-expressed in it and clipped or not."""
    ref = _case("random_crop_image", case)
    image, boxes, labels = augmentations.crop_to_window(
        tf.constant(ref["image"]), tf.constant(ref["boxes"]), tf.constant(ref["labels"]), tf.constant(ref["window"]),
        float(ref["overlap_thresh"]), bool(ref["clip_boxes"]))
    np.testing.assert_array_equal(image.numpy(), ref["out_image"])
    np.testing.assert_array_equal(labels.numpy(), ref["out_labels"])
    np.testing.assert_allclose(boxes.numpy(), ref["out_boxes"], atol=1e-6)


@pytest.mark.parametrize("case", range(SCALE_CROP_CASES))
def test_scale_crop_and_pad_to_square_equals_the_od_api_for_the_same_draws(case):
    """EfficientDet's augmentation: the same scale and crop offsets give the same pixels, boxes and labels."""
    ref = _case("scale_crop_and_pad_to_square", case)
    scale, offset_y, offset_x = (tf.constant(v, tf.float32) for v in ref["draws"])
    image, boxes, labels = augmentations.scale_crop_and_pad_to_square(
        tf.constant(ref["image"]), tf.constant(ref["boxes"]), tf.constant(ref["labels"]), scale, offset_y, offset_x,
        int(ref["output_size"]))
    np.testing.assert_allclose(image.numpy(), ref["out_image"], atol=1e-3)     # 0..255 values
    np.testing.assert_array_equal(labels.numpy(), ref["out_labels"])
    np.testing.assert_allclose(boxes.numpy(), ref["out_boxes"], atol=1e-6)


def test_the_draws_stay_in_the_od_api_ranges_and_boxes_move_with_the_pixels():
    step = preprocessor_pb2.PreprocessingStep()
    step.random_square_crop_by_scale.scale_min = 0.5
    step.random_square_crop_by_scale.scale_max = 1.0
    step.random_square_crop_by_scale.num_scales = 2
    [op] = augmentations.build_augmentations([step])
    image = np.zeros((40, 60, 3), np.float32)
    image[10:20, 30:45] = 1.0                                   # a white box, and its box
    box = np.array([[10 / 40, 30 / 60, 20 / 40, 45 / 60]], np.float32)
    tf.random.set_seed(1)
    sides = set()
    for _ in range(40):
        out, boxes, classes = op(tf.constant(image), tf.constant(box), tf.constant([1]))
        sides.add(int(out.shape[0]))
        assert out.shape[0] == out.shape[1]
        if int(tf.size(classes)):
            y0, x0, y1, x1 = (boxes.numpy()[0] * out.shape[0]).round().astype(int)
            inside = out.numpy()[y0:y1, x0:x1, 0]
            assert inside.size == 0 or inside.mean() > 0.9      # the box still frames the white pixels
    assert sides == {30, 60}                                    # 0.5 and 1.0 x the longer side, both drawn


@pytest.mark.parametrize("case", range(PAD_CASES))
def test_random_absolute_pad_image_equals_the_od_api_for_the_same_draws(case):
    """The same canvas (the pad colour, or the image's mean colour without one) and boxes; detflow's images are
    0..1 where the OD API's are 0..255."""
    ref = _case("random_absolute_pad_image", case)
    height, width, top, left = (int(v) for v in ref["draws"])
    color = tuple(float(c) / 255.0 for c in ref["pad_color"]) or None
    labels = tf.range(1, 13)
    image, boxes, out_labels = augmentations.pad_image(tf.constant(ref["image"] / 255.0), tf.constant(ref["boxes"]),
                                                       labels, (height, width), (top, left), color)
    np.testing.assert_allclose(image.numpy() * 255.0, ref["out_image"], atol=1e-3)
    np.testing.assert_allclose(boxes.numpy(), ref["out_boxes"], atol=1e-6)
    np.testing.assert_array_equal(out_labels.numpy(), labels.numpy())


def test_random_absolute_pad_image_draws_stay_in_the_od_api_ranges():
    """Each draw: a canvas 0..max-1 pixels taller and wider, the image wholly inside it, boxes moved with it."""
    step = preprocessor_pb2.PreprocessingStep()
    step.random_absolute_pad_image.max_height_padding = 20
    step.random_absolute_pad_image.max_width_padding = 5
    step.random_absolute_pad_image.pad_color.extend([255.0, 0.0, 0.0])
    (op,) = augmentations.build_augmentations([step])
    image = tf.fill([30, 40, 3], 0.5)
    box = tf.constant([[0.0, 0.0, 1.0, 1.0]])
    sizes = set()
    for _ in range(30):
        out, boxes, _ = op(image, box, tf.constant([1]))
        height, width = out.shape[0], out.shape[1]
        sizes.add((height, width))
        assert 30 <= height < 50 and 40 <= width < 45
        top, left = int(round(float(boxes[0, 0]) * height)), int(round(float(boxes[0, 1]) * width))
        np.testing.assert_allclose(out[top:top + 30, left:left + 40].numpy(), 0.5)
        assert float(tf.reduce_sum(out[..., 0])) == pytest.approx(0.5 * 1200 + (height * width - 1200))
    assert len(sizes) > 5


@pytest.mark.parametrize("case", range(PATCH_CASES))
def test_random_patch_gaussian_equals_the_od_api_for_the_same_draws(case):
    """The same noisy patch, cut at the image's edges and clipped; detflow's images are 0..1 where the OD API's
    are 0..255 (it divides, adds the noise, clips and multiplies back)."""
    ref = _case("random_patch_gaussian", case)
    size, y, x = (int(v) for v in ref["draws"])
    out = augmentations.patch_gaussian(tf.constant(ref["image"] / 255.0), y, x, size, tf.constant(ref["noise"]))
    np.testing.assert_allclose(out.numpy() * 255.0, ref["out_image"], atol=1e-3)


def test_random_patch_gaussian_draws_stay_in_the_od_api_ranges():
    """A patch of at most max_patch_size - 1 pixels a side changes; random_coef 1.0 never applies it."""
    step = preprocessor_pb2.PreprocessingStep()
    step.random_patch_gaussian.max_patch_size = 9
    step.random_patch_gaussian.min_gaussian_stddev = 0.5
    (op,) = augmentations.build_augmentations([step])
    image = tf.fill([40, 50, 3], 0.5)
    for _ in range(20):
        out, _, _ = op(image, tf.zeros([0, 4]), tf.zeros([0], tf.int32))
        changed = np.argwhere(np.any(out.numpy() != 0.5, axis=-1))
        assert 0 < len(changed) <= 8 * 8
        assert (changed.max(axis=0) - changed.min(axis=0) < 8).all()
    step.random_patch_gaussian.random_coef = 1.0
    (never,) = augmentations.build_augmentations([step])
    np.testing.assert_array_equal(never(image, tf.zeros([0, 4]), tf.zeros([0], tf.int32))[0].numpy(), image.numpy())


def _assert_same_keypoints(got: np.ndarray, want: np.ndarray) -> None:
    """The same keypoints: NaN (not there) at the same places, the others within float32 rounding."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, atol=1e-6)


def _visible(keypoints) -> np.ndarray:
    """detflow's visibility of a keypoint (inputs.keypoint_labels): neither coordinate NaN."""
    return ~np.isnan(np.asarray(keypoints)).any(axis=-1)


@pytest.mark.parametrize("case", range(KEYPOINT_FLIP_CASES))
def test_random_horizontal_flip_gives_the_od_api_keypoints_with_its_permutation(case):
    """Mirrored around x = 0.5 and reordered by keypoint_flip_permutation, visibilities reordered with them."""
    ref = _case("keypoints_random_horizontal_flip", case)
    always = augmentations.random_horizontal_flip(1.0, tuple(ref["permutation"].tolist()))
    image, boxes, _, keypoints = always(tf.constant(ref["image"]), tf.constant(ref["boxes"]), tf.range(1, 13),
                                        tf.constant(ref["keypoints"]))
    np.testing.assert_array_equal(image.numpy(), ref["out_image"])
    np.testing.assert_allclose(boxes.numpy(), ref["out_boxes"], atol=1e-6)
    _assert_same_keypoints(keypoints.numpy(), ref["out_keypoints"])
    np.testing.assert_array_equal(_visible(keypoints), ref["out_visibilities"])


@pytest.mark.parametrize("case", range(RANDOM_CROP_CASES))
def test_random_crop_image_gives_the_od_api_keypoints_for_the_same_window(case):
    """The kept boxes' keypoints in the window's frame; with clip_boxes, NaN (and not visible) outside it."""
    ref = _case("keypoints_random_crop_image", case)
    _, _, labels, keypoints = augmentations.crop_to_window(
        tf.constant(ref["image"]), tf.constant(ref["boxes"]), tf.constant(ref["labels"]), tf.constant(ref["window"]),
        float(ref["overlap_thresh"]), bool(ref["clip_boxes"]), keypoints=tf.constant(ref["keypoints"]))
    np.testing.assert_array_equal(labels.numpy(), ref["out_labels"])
    _assert_same_keypoints(keypoints.numpy(), ref["out_keypoints"])
    np.testing.assert_array_equal(_visible(keypoints), ref["out_visibilities"])


@pytest.mark.parametrize("case", range(PAD_CASES))
def test_random_absolute_pad_image_gives_the_od_api_keypoints_for_the_same_draws(case):
    ref = _case("keypoints_random_absolute_pad_image", case)
    height, width, top, left = (int(v) for v in ref["draws"])
    _, boxes, _, keypoints = augmentations.pad_image(
        tf.constant(ref["image"] / 255.0), tf.constant(ref["boxes"]), tf.range(1, 13), (height, width), (top, left),
        keypoints=tf.constant(ref["keypoints"]))
    np.testing.assert_allclose(boxes.numpy(), ref["out_boxes"], atol=1e-6)
    _assert_same_keypoints(keypoints.numpy(), ref["out_keypoints"])
