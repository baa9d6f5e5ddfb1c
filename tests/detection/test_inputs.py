"""Input pipeline: decode, augmentations keep boxes on their pixels, anchor targets, box accounting."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from detection.data import augmentations as aug
from detection.data import inputs
from schemas.protos import train_pb2
from tests.detection import records

OPTIONS = inputs.InputOptions(input_height=64, input_width=64, num_classes=2, max_number_of_boxes=3)


def _identity_norm(x):
    return x


def _one_box_image():
    image = np.zeros((40, 60, 3), np.float32)
    image[8:20, 6:30] = 1.0           # rows 8..20 of 40, cols 6..30 of 60
    boxes = tf.constant([[8 / 40, 6 / 60, 20 / 40, 30 / 60]], tf.float32)
    return tf.constant(image), boxes, tf.constant([1], tf.int32)


def _box_region_is_lit(image, box):
    """True when the pixels inside `box` are (almost) all lit and the border just outside is dark."""
    h, w = image.shape[:2]
    y0, x0, y1, x1 = np.round(np.array(box) * [h, w, h, w]).astype(int)
    inside = image[y0:y1, x0:x1, 0]
    lit = image[..., 0] > 0.5
    return inside.size > 0 and inside.mean() > 0.9 and lit.sum() <= inside.size * 1.1 + 2


def test_flip_twice_is_identity_and_flipped_box_matches_pixels():
    image, boxes, classes = _one_box_image()
    once = aug.flip_horizontal(image, boxes, classes)
    assert _box_region_is_lit(once[0].numpy(), once[1].numpy()[0])
    twice = aug.flip_horizontal(*once)
    np.testing.assert_array_equal(twice[0].numpy(), image.numpy())
    np.testing.assert_allclose(twice[1].numpy(), boxes.numpy(), atol=1e-6)


@pytest.mark.parametrize("op", [
    aug.random_crop_image(min_object_covered=1.0),
    aug.random_crop_image(min_object_covered=0.5, overlap_thresh=0.5, random_coef=0.3),
    aug.ssd_random_crop(),
    aug.random_scale_crop_and_pad_to_square(output_size=48, scale_min=0.5, scale_max=1.5),
    aug.random_square_crop_by_scale(max_border=16, scale_min=0.6, scale_max=1.3),
    aug.random_horizontal_flip(0.5),
])
def test_geometric_augmentations_keep_boxes_on_their_pixels(op):
    tf.random.set_seed(3)
    image, boxes, classes = _one_box_image()
    for _ in range(12):
        out_image, out_boxes, out_classes = op(image, boxes, classes)
        out_boxes = out_boxes.numpy()
        assert out_boxes.shape[0] == out_classes.shape[0]
        assert np.all(out_boxes >= 0.0) and np.all(out_boxes <= 1.0)
        h, w = out_image.shape[:2]
        # Boxes of 8 px and more: on fewer, the OD API's resize (TF1 bilinear, no half-pixel centres, which
        # random_scale_crop_and_pad_to_square keeps for parity) blurs a pixel's share of the edge.
        if out_boxes.shape[0] and np.all((out_boxes[0, 2:] - out_boxes[0, :2]) * [h, w] >= 8):
            box = out_boxes[0]
            y0, x0, y1, x1 = np.round(box * [h, w, h, w]).astype(int)
            inside = out_image.numpy()[y0:y1, x0:x1, 0]
            assert inside.mean() > 0.85, (box, inside.mean())


def test_photometric_augmentations_keep_range_and_boxes():
    image, boxes, classes = _one_box_image()
    for op in (aug.random_adjust_brightness(0.3), aug.random_adjust_contrast(0.5, 1.5),
               aug.random_adjust_saturation(0.5, 1.5), aug.random_adjust_hue(0.1)):
        out, out_boxes, _ = op(tf.image.grayscale_to_rgb(image[..., :1]) * 0.7, boxes, classes)
        assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0
        np.testing.assert_array_equal(out_boxes.numpy(), boxes.numpy())


def test_build_augmentations_from_config_and_rejects_unknown():
    cfg = train_pb2.TrainConfig()
    cfg.data_augmentation_options.add().random_horizontal_flip.SetInParent()
    cfg.data_augmentation_options.add().random_adjust_brightness.max_delta = 0.1
    cfg.data_augmentation_options.add().ssd_random_crop.SetInParent()
    cfg.data_augmentation_options.add().random_crop_image.min_area = 0.3
    assert len(aug.build_augmentations(cfg.data_augmentation_options)) == 4
    bad = train_pb2.TrainConfig()
    bad.data_augmentation_options.add().random_black_patches.SetInParent()
    with pytest.raises(ValueError, match="random_black_patches"):
        aug.build_augmentations(bad.data_augmentation_options)


def test_dataset_targets_and_boxes_beyond_max_are_counted(tmp_path):
    pattern = records.write_records(str(tmp_path), num_images=6, size=64, boxes_per_image=(5, 5), shards=2)
    files = inputs.expand_globs(pattern)
    assert len(files) == 2
    from detection.architectures import registry  # pylint: disable=import-outside-toplevel
    from tests.detection.detector_fixtures import ssd_proto  # pylint: disable=import-outside-toplevel
    bundle = registry.build_detector(ssd_proto(num_classes=2, size=64))
    ds = inputs.build_dataset(files, OPTIONS, 3, inputs.ExampleTransform(
        _identity_norm, targets=registry.task_for(bundle).targets(OPTIONS)), training=False)
    assert ds.options().autotune.enabled is False  # no end-of-training stall waiting for autotune
    batches = list(ds)
    assert sum(int(b[0].shape[0]) for b in batches) == 6
    images, labels = batches[0]
    assert images.shape == (3, 64, 64, 3) and images.dtype == tf.float32
    assert float(tf.reduce_max(images)) > 1.0   # 0..255 reaches the normaliser
    num_anchors = bundle.spec.anchors.num_anchors          # the network's own anchors, in the OD API's order
    assert labels["cls_targets"].shape == (3, num_anchors) and labels["box_targets"].shape == (3, num_anchors, 4)
    assert set(np.unique(labels["cls_targets"].numpy())) <= {-1, 1, 2}   # -1: background
    assert labels["groundtruth_boxes"].shape == (3, 3, 4)
    dropped = sum(int(tf.reduce_sum(b[1]["boxes_dropped"])) for b in batches)
    assert dropped == 6 * (5 - 3)
    assert int(tf.reduce_max(labels["num_groundtruth"])) == 3
    assert float(tf.reduce_sum(labels["box_weights"])) > 0  # some anchors are positives


@pytest.mark.parametrize("crop", ["random_crop_image", "random_square_crop_by_scale"])
def test_training_dataset_repeats_shuffles_and_augments(tmp_path, crop):
    """In the tf.data graph (traced without AutoGraph), then resized to the network's input."""
    pattern = records.write_records(str(tmp_path), num_images=4, size=48, shards=1)
    cfg = train_pb2.TrainConfig()
    cfg.data_augmentation_options.add().random_horizontal_flip.SetInParent()
    getattr(cfg.data_augmentation_options.add(), crop).SetInParent()
    ds = inputs.build_dataset(inputs.expand_globs(pattern), OPTIONS, 3, inputs.ExampleTransform(
        _identity_norm, aug.build_augmentations(cfg.data_augmentation_options)), training=True, seed=1)
    seen = [b for _, b in zip(range(5), ds)]   # 15 > 4 examples: repeats
    assert all(b[0].shape[0] == 3 for b in seen)
    boxes = np.concatenate([b[1]["groundtruth_boxes"].numpy().reshape(-1, 4) for b in seen])
    assert np.all(boxes >= 0) and np.all(boxes <= 1)


def test_missing_glob_names_the_pattern(tmp_path):
    with pytest.raises(ValueError, match="nothing-here"):
        inputs.expand_globs(str(tmp_path / "nothing-here*.gz"))


def test_keep_aspect_ratio_box_lands_on_the_same_pixels_in_training_and_export():
    from detection.networks.spec import AnchorSpec, InputSpec, ModelSpec  # pylint: disable=import-outside-toplevel
    from detection.serving import export  # pylint: disable=import-outside-toplevel

    # 41x67 image, one lit box; keep_aspect_ratio_resizer min 32 / max 64: min_dimension binds
    # (scale 32/41, not 64/67), which a resize to fit the 64 square alone gets wrong.
    image = np.full((41, 67, 3), 20, np.uint8)
    image[9:25, 30:50] = 250
    box = np.array([[9 / 41, 30 / 67, 25 / 41, 50 / 67]], np.float32)
    serialized = records.example(image, box, np.array([1]), "odd.png")
    options = dataclasses.replace(OPTIONS, input_height=64, input_width=64, keep_aspect_ratio=True,
                                  min_dimension=32, max_dimension=64)
    train_image, labels = inputs.make_parser(options, _identity_norm)(tf.constant(serialized))
    spec = ModelSpec(
        meta_architecture="ssd", feature_extractor="x", input=InputSpec(64, 64, True, 32, 64), num_classes=2,
        mg_num_classes=3, anchors=AnchorSpec(3, 5, 1, (1.0,), 4.0, None), score_threshold=0.1, iou_threshold=0.5,
        max_detections=10, freeze_batchnorm=False)
    served, valid_hw = export.resize_for_model(tf.constant(image[None]), spec)

    np.testing.assert_allclose(labels["image_shape"].numpy(), valid_hw.numpy())
    np.testing.assert_array_equal(valid_hw.numpy(), [32, 52])        # 67*32/41 rounded
    np.testing.assert_allclose(train_image.numpy(), served[0].numpy(), atol=0.01)
    pixel = labels["groundtruth_boxes"].numpy()[0] * 64
    np.testing.assert_allclose(pixel, box[0] * np.tile(valid_hw.numpy(), 2), atol=1e-3)
    y0, x0, y1, x1 = np.round(pixel).astype(int)
    for img in (train_image.numpy(), served[0].numpy()):
        assert img[y0 + 1:y1 - 1, x0 + 1:x1 - 1, 0].min() > 200            # the box's pixels are lit
        assert img[y1 + 1:, :, 0].max() < 30 and img[:, x1 + 1:, 0].max() < 30  # outside it is not
        assert img[32:, :, :].max() == 0 and img[:, 52:, :].max() == 0       # padding below and right
