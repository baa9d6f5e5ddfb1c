"""Keypoints through the input pipeline: decoded as the OD API's decoder does, moved with the pixels by every
augmentation, re-expressed in the network input and padded in the labels."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from detection.data import augmentations as aug
from detection.data import inputs
from detection.data.tf_example import decode_example
from schemas import example_format as ef
from schemas.protos import preprocessor_pb2, train_pb2
from tests.detection import records

NAN = float("nan")
OPTIONS = inputs.InputOptions(input_height=64, input_width=64, num_classes=2, max_number_of_boxes=4,
                              num_keypoints=3)


def _with_keypoints(serialized: bytes, x, y, visibility=None) -> bytes:
    """A serialized tf.Example with keypoint features added (flat, K per object)."""
    example = tf.train.Example.FromString(serialized)
    feature = example.features.feature
    feature[ef.KEYPOINT_X].float_list.value.extend(x)
    feature[ef.KEYPOINT_Y].float_list.value.extend(y)
    if visibility is not None:
        feature[ef.KEYPOINT_VISIBILITY].int64_list.value.extend(visibility)
    return example.SerializeToString()


def _example(x, y, visibility=None, labels=(1, 2)) -> tf.Tensor:
    image = np.full((40, 60, 3), 20, np.uint8)
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 0.9, 0.9], [0.2, 0.6, 0.4, 0.8]][:len(labels)], np.float32)
    return tf.constant(_with_keypoints(records.example(image, boxes, np.array(labels), "kp.png"), x, y, visibility))


def test_decoded_keypoints_are_nan_where_the_visibility_says_not_labelled():
    data = decode_example(_example([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
                                   [2, 1, 0, 0, 2, 2]), num_keypoints=3)
    np.testing.assert_array_equal(data["keypoint_visibilities"].numpy(), [[True, True, False], [False, True, True]])
    keypoints = data["keypoints"].numpy()
    assert keypoints.shape == (2, 3, 2) and keypoints.dtype == np.float32
    np.testing.assert_allclose(keypoints[0, :2], [[0.6, 0.1], [0.5, 0.2]], atol=1e-7)    # (y, x)
    assert np.isnan(keypoints[0, 2]).all() and np.isnan(keypoints[1, 0]).all()
    np.testing.assert_allclose(keypoints[1, 1:], [[0.2, 0.5], [0.1, 0.6]], atol=1e-7)


def test_without_visibilities_a_keypoint_is_labelled_unless_its_x_is_nan():
    data = decode_example(_example([0.1, NAN, 0.3, 0.4, 0.5, 0.6], [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]), num_keypoints=3)
    np.testing.assert_array_equal(data["keypoint_visibilities"].numpy(), [[True, False, True], [True, True, True]])
    assert np.isnan(data["keypoints"].numpy()[0, 1]).all()


@pytest.mark.parametrize("x, y", [([0.1] * 5, [0.2] * 5), ([], []), ([0.1] * 6, [0.2] * 4)])
def test_keypoints_not_k_per_box_are_all_nan_and_not_visible(x, y):
    data = decode_example(_example(x, y), num_keypoints=3)
    assert data["keypoints"].shape == (2, 3, 2) and np.isnan(data["keypoints"].numpy()).all()
    assert not data["keypoint_visibilities"].numpy().any()


def test_without_num_keypoints_nothing_about_keypoints_is_decoded():
    assert not {"keypoints", "keypoint_visibilities"} & set(decode_example(_example([0.1] * 6, [0.2] * 6)))


# Two keypoints per object, each on a 5x5 block lit in its own channel: keypoint 0 red, keypoint 1 green.
BLOCKS = ((12, 10), (16, 26))


def _keypoint_image():
    image = np.zeros((40, 60, 3), np.float32)
    image[8:20, 6:30, 2] = 0.3                           # the box, dim blue
    for channel, (row, col) in enumerate(BLOCKS):
        image[row - 2:row + 3, col - 2:col + 3, channel] = 1.0
    boxes = tf.constant([[8 / 40, 6 / 60, 20 / 40, 30 / 60]], tf.float32)
    keypoints = tf.constant([[[(row + 0.5) / 40, (col + 0.5) / 60] for row, col in BLOCKS]], tf.float32)
    return tf.constant(image), boxes, tf.constant([1], tf.int32), keypoints


def _channels_under(image: np.ndarray, keypoints: np.ndarray) -> list:
    """For each keypoint of the first object: the channel lit at its pixel (None where NaN, -1 where none)."""
    h, w = image.shape[:2]
    found = []
    for y, x in keypoints[0]:
        if np.isnan(y) or np.isnan(x):
            found.append(None)
            continue
        row, col = min(int(y * h), h - 1), min(int(x * w), w - 1)
        lit = np.flatnonzero(image[row, col, :2] > 0.5)
        found.append(int(lit[0]) if len(lit) == 1 else -1)
    return found


@pytest.mark.parametrize("op", [
    aug.random_horizontal_flip(1.0),
    aug.random_crop_image(min_object_covered=1.0),
    aug.random_crop_image(min_object_covered=0.3, overlap_thresh=0.3, min_area=0.2),
    aug.ssd_random_crop(),
    aug.random_scale_crop_and_pad_to_square(output_size=64, scale_min=1.0, scale_max=2.0),
    aug.random_square_crop_by_scale(max_border=16, scale_min=0.5, scale_max=1.3),
    aug.random_absolute_pad_image(max_height_padding=30, max_width_padding=30),
], ids=["flip", "crop", "crop_partial", "ssd_crop", "scale_crop_pad", "square_crop", "pad"])
def test_every_geometric_op_keeps_keypoints_on_their_pixels(op):
    """A keypoint on a lit block stays on it; a crop that leaves a keypoint out makes it NaN; dropped boxes drop
    their keypoints; inside the image means in [0, 1]."""
    tf.random.set_seed(4)
    image, boxes, classes, keypoints = _keypoint_image()
    seen = 0
    for _ in range(12):
        out_image, out_boxes, out_classes, out_keypoints = op(image, boxes, classes, keypoints)
        out_keypoints = out_keypoints.numpy()
        assert out_keypoints.shape == (out_boxes.shape[0], 2, 2) and out_classes.shape[0] == out_boxes.shape[0]
        if not out_keypoints.shape[0]:
            continue
        finite = out_keypoints[~np.isnan(out_keypoints)]
        assert np.all((finite >= 0.0) & (finite <= 1.0))
        channels = _channels_under(out_image.numpy(), out_keypoints)
        assert all(c in (None, k) for k, c in enumerate(channels)), channels
        seen += sum(c is not None for c in channels)
    assert seen > 0


@pytest.mark.parametrize("op", [
    aug.random_adjust_brightness(0.3), aug.random_adjust_contrast(0.5, 1.5), aug.random_adjust_saturation(0.5, 1.5),
    aug.random_adjust_hue(0.1), aug.random_patch_gaussian(max_patch_size=20),
])
def test_colour_ops_leave_keypoints_alone(op):
    image, boxes, classes, keypoints = _keypoint_image()
    out = op(image, boxes, classes, keypoints)
    assert len(out) == 4
    np.testing.assert_array_equal(out[3].numpy(), keypoints.numpy())
    assert len(op(image, boxes, classes)) == 3                # without keypoints: the 3-tuple callers know


def test_flip_permutation_swaps_left_and_right_keypoints():
    """Configured from RandomHorizontalFlip.keypoint_flip_permutation: after the flip keypoint 0 (say the left
    eye) is the mirrored keypoint 1 and still the left one."""
    step = preprocessor_pb2.PreprocessingStep()
    step.random_horizontal_flip.probability = 1.0
    step.random_horizontal_flip.keypoint_flip_permutation.extend([1, 0])
    (op,) = aug.build_augmentations([step])
    image, boxes, classes, keypoints = _keypoint_image()
    out_image, _, _, flipped = op(image, boxes, classes, keypoints)
    assert _channels_under(out_image.numpy(), flipped.numpy()) == [1, 0]
    assert flipped[0, 0, 1] < flipped[0, 1, 1] and keypoints[0, 0, 1] < keypoints[0, 1, 1]
    np.testing.assert_allclose(flipped.numpy()[0, ::-1], np.stack(
        [keypoints.numpy()[0, :, 0], 1.0 - keypoints.numpy()[0, :, 1]], axis=-1), atol=1e-7)
    unpermuted = aug.random_horizontal_flip(1.0)(image, boxes, classes, keypoints)
    assert _channels_under(unpermuted[0].numpy(), unpermuted[3].numpy()) == [0, 1]


def test_parser_labels_hold_the_keypoints_of_the_kept_boxes_padded():
    """Known-class boxes only (label 3 is not one of the 2 classes), NaN and 0 where not visible and in padding."""
    x = [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.65, 0.7, 0.75]
    y = [0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.25, 0.3, 0.35]
    serialized = _example(x, y, [2, 0, 1, 2, 2, 2, 2, 2, 2], labels=(1, 3, 2))
    _, labels = inputs.make_parser(OPTIONS, lambda image: image)(serialized)
    keypoints, visible = labels["groundtruth_keypoints"].numpy(), labels["groundtruth_keypoint_visibilities"].numpy()
    assert keypoints.shape == (4, 3, 2) and keypoints.dtype == np.float32
    assert visible.shape == (4, 3) and visible.dtype == np.float32
    np.testing.assert_array_equal(visible, [[1, 0, 1], [1, 1, 1], [0, 0, 0], [0, 0, 0]])
    assert np.array_equal(np.isnan(keypoints).any(-1), visible == 0)
    np.testing.assert_allclose(keypoints[0, [0, 2]], [[0.2, 0.1], [0.4, 0.5]], atol=1e-6)
    np.testing.assert_allclose(keypoints[1], [[0.25, 0.65], [0.3, 0.7], [0.35, 0.75]], atol=1e-6)
    assert int(labels["num_groundtruth"]) == 2
    without = inputs.make_parser(dataclasses.replace(OPTIONS, num_keypoints=0), lambda image: image)(serialized)[1]
    assert not {"groundtruth_keypoints", "groundtruth_keypoint_visibilities"} & set(without)


def test_keep_aspect_ratio_moves_keypoints_as_it_moves_the_boxes():
    """A keypoint on a box's corner stays on that corner in the padded network input."""
    x = [0.1, 0.5, 0.3, 0.5, 0.9, 0.7]                     # per box: its top-left and bottom-right corners, a middle
    y = [0.1, 0.5, 0.3, 0.5, 0.9, 0.7]
    options = dataclasses.replace(OPTIONS, keep_aspect_ratio=True, min_dimension=32, max_dimension=64)
    _, labels = inputs.make_parser(options, lambda image: image)(_example(x, y))
    boxes, keypoints = labels["groundtruth_boxes"].numpy()[:2], labels["groundtruth_keypoints"].numpy()[:2]
    np.testing.assert_array_equal(labels["image_shape"].numpy(), [32, 48])     # 40x60 scaled by 32/40
    np.testing.assert_allclose(keypoints[:, 0], boxes[:, :2], atol=1e-6)
    np.testing.assert_allclose(keypoints[:, 1], boxes[:, 2:], atol=1e-6)


def test_training_dataset_carries_keypoints_through_the_augmentations(tmp_path):
    """In the tf.data graph (traced without AutoGraph), with a flip permutation and a crop from the config."""
    image, boxes, labels = records.make_image(np.random.default_rng(1), 48, 2)
    corners = np.stack([boxes[:, :2], boxes[:, 2:], (boxes[:, :2] + boxes[:, 2:]) / 2], axis=1)   # [N, 3, (y, x)]
    serialized = _with_keypoints(records.example(image, boxes, labels, "kp.png"), corners[..., 1].ravel(),
                                 corners[..., 0].ravel())
    path = str(tmp_path / "kp.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(3):
            writer.write(serialized)
    cfg = train_pb2.TrainConfig()
    cfg.data_augmentation_options.add().random_horizontal_flip.keypoint_flip_permutation.extend([1, 0, 2])
    cfg.data_augmentation_options.add().random_crop_image.SetInParent()
    ds = inputs.build_dataset([path], OPTIONS, 2, inputs.ExampleTransform(
        lambda x: x, aug.build_augmentations(cfg.data_augmentation_options)), training=True, seed=1)
    for _, (_, batch) in zip(range(3), ds):
        keypoints = batch["groundtruth_keypoints"].numpy()
        assert keypoints.shape == (2, 4, 3, 2) and batch["groundtruth_keypoint_visibilities"].shape == (2, 4, 3)
        finite = keypoints[~np.isnan(keypoints)]
        assert finite.size and np.all((finite >= 0) & (finite <= 1))
