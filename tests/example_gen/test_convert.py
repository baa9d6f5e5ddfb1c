"""record_to_example: OD API keys, and every box and image rule."""

import hashlib

import pytest
import tensorflow as tf

from components.example_gen import records as R
from components.example_gen.convert import record_to_example
from schemas import example_format as K
from schemas.label_map import load_label_map
from tests.example_gen.helpers import image_bytes, write, write_label_map


@pytest.fixture
def label_map(tmp_path):
    return load_label_map(write_label_map(str(tmp_path / "lm.pbtxt"), ("cat", "dog")))


def _obj(name, x0, y0, x1, y1, **kw):
    return R.ObjectRecord(class_name=name, xmin=x0, ymin=y0, xmax=x1, ymax=y1, locator="ann#", **kw)


def _rec(file_name, objects, w=40, h=30):
    return R.ImageRecord(file_name=file_name, image_id="17", width=w, height=h, objects=objects,
                         source="ann.json", locator="images[0]")


def _features(example):
    return example.features.feature


def test_good_image_has_every_od_api_key(tmp_path, label_map):
    data = write(str(tmp_path / "sub" / "a.jpg"), image_bytes("JPEG"))
    rec = _rec("./sub/a.jpg", [_obj("dog", 4, 3, 24, 18, is_crowd=True, area=99.0),
                               _obj("cat", 0, 0, 40, 30, difficult=True)])
    result = record_to_example(rec, str(tmp_path), label_map)
    assert result.problems == [] and result.clipped_boxes == 0
    f = _features(result.example)
    encoded = open(data, "rb").read()
    assert f[K.IMAGE_ENCODED].bytes_list.value == [encoded]
    assert f[K.IMAGE_FORMAT].bytes_list.value == [b"jpeg"]
    assert f[K.FILENAME].bytes_list.value == [b"sub/a.jpg"]
    assert f[K.SOURCE_ID].bytes_list.value == [b"17"]
    assert f[K.KEY_SHA256].bytes_list.value == [hashlib.sha256(encoded).hexdigest().encode()]
    assert (f[K.HEIGHT].int64_list.value, f[K.WIDTH].int64_list.value) == ([30], [40])
    assert list(f[K.BBOX_XMIN].float_list.value) == pytest.approx([0.1, 0.0])
    assert list(f[K.BBOX_XMAX].float_list.value) == pytest.approx([0.6, 1.0])
    assert list(f[K.BBOX_YMIN].float_list.value) == pytest.approx([0.1, 0.0])
    assert list(f[K.BBOX_YMAX].float_list.value) == pytest.approx([0.6, 1.0])
    assert f[K.CLASS_TEXT].bytes_list.value == [b"dog", b"cat"]
    assert f[K.CLASS_LABEL].int64_list.value == [2, 1]
    assert list(f[K.AREA].float_list.value) == pytest.approx([99.0, 1200.0])
    assert f[K.IS_CROWD].int64_list.value == [1, 0]
    assert f[K.DIFFICULT].int64_list.value == [0, 1]
    parsed = tf.io.parse_single_example(result.example.SerializeToString(), {
        K.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string)})
    assert tf.io.decode_image(parsed[K.IMAGE_ENCODED]).shape == (30, 40, 3)


def test_each_bad_box_is_dropped_or_clipped_with_its_reason(tmp_path, label_map):
    write(str(tmp_path / "a.png"), image_bytes("PNG"))
    rec = _rec("a.png", [
        _obj("cat", 5, 5, 5, 20),          # zero width
        _obj("cat", 10, 10, 4, 20),        # negative width
        _obj("cat", 41, 2, 60, 20),        # wholly right of the image
        _obj("cat", -20, -9, -1, 20),      # wholly left
        _obj("cat", -5, 20, 10, 40),       # partly outside: clipped
        _obj("horse", 1, 1, 5, 5),         # not in the label map
        R.ObjectRecord(None, 1, 1, 5, 5, class_id=9),  # unknown COCO category id
        _obj("dog", None, 1, 5, 5),        # not a number
        _obj("dog", 1, 1, float("nan"), 5),
    ])
    result = record_to_example(rec, str(tmp_path), label_map)
    reasons = [(p.kind, p.reason) for p in result.problems]
    assert reasons == [("box", R.ZERO_OR_NEGATIVE_SIZE), ("box", R.ZERO_OR_NEGATIVE_SIZE),
                       ("box", R.OUTSIDE_IMAGE), ("box", R.OUTSIDE_IMAGE), ("note", R.CLIPPED_BOX),
                       ("box", R.UNKNOWN_CLASS), ("box", R.UNKNOWN_CLASS),
                       ("box", R.INVALID_COORDINATES), ("box", R.INVALID_COORDINATES)]
    assert all(p.file == "a.png" for p in result.problems)
    assert "horse" in result.problems[5].detail and "category id 9" in result.problems[6].detail
    assert result.clipped_boxes == 1
    f = _features(result.example)
    assert list(f[K.BBOX_XMIN].float_list.value) == [0.0]
    assert list(f[K.BBOX_YMAX].float_list.value) == [1.0]
    assert list(f[K.AREA].float_list.value) == pytest.approx([100.0])  # the clipped box's area


def test_image_with_no_boxes_is_kept_as_a_negative(tmp_path, label_map):
    write(str(tmp_path / "n.jpg"), image_bytes())
    result = record_to_example(_rec("n.jpg", []), str(tmp_path), label_map)
    assert result.problems == []
    assert len(_features(result.example)[K.BBOX_XMIN].float_list.value) == 0


@pytest.mark.parametrize("name,content,reason", [
    ("missing.jpg", None, R.MISSING_FILE),
    ("text.jpg", b"hello", R.NOT_AN_IMAGE),
    ("trunc.jpg", "truncate", R.CORRUPT_IMAGE),
    ("/abs/a.jpg", None, R.UNSAFE_PATH),
    ("../up.jpg", None, R.UNSAFE_PATH),
])
def test_bad_images_are_skipped_with_their_reason(tmp_path, label_map, name, content, reason):
    images = tmp_path / "images"
    images.mkdir()
    write(str(tmp_path / "up.jpg"), image_bytes())  # exists, but outside the image folder
    if content == "truncate":
        content = image_bytes(size=(64, 64))[:300]
    if content is not None:
        write(str(images / name), content)
    result = record_to_example(_rec(name, [_obj("cat", 1, 1, 5, 5)]), str(images), label_map)
    assert result.example is None
    assert [(p.kind, p.reason) for p in result.problems] == [("image", reason)]
    assert result.problems[0].file == name.lstrip("/") or result.problems[0].file == name


def test_size_mismatch_is_reported_and_boxes_follow_the_annotated_frame(tmp_path, label_map):
    write(str(tmp_path / "a.jpg"), image_bytes(size=(40, 30)))
    rec = _rec("a.jpg", [_obj("cat", 20, 15, 80, 60)], w=80, h=60)  # labelled at twice the size
    result = record_to_example(rec, str(tmp_path), label_map)
    assert [p.reason for p in result.problems] == [R.SIZE_MISMATCH]
    f = _features(result.example)
    assert (f[K.WIDTH].int64_list.value, f[K.HEIGHT].int64_list.value) == ([40], [30])
    assert list(f[K.BBOX_XMIN].float_list.value) == pytest.approx([0.25])
    assert list(f[K.BBOX_YMAX].float_list.value) == pytest.approx([1.0])
    assert list(f[K.AREA].float_list.value) == pytest.approx([60 * 45 / 4])


def test_box_problems_say_what_is_missing_or_wrong(tmp_path, label_map):
    write(str(tmp_path / "a.png"), image_bytes("PNG"))
    rec = _rec("a.png", [
        R.ObjectRecord("cat", None, None, None, None, locator="object #1", invalid="no <bndbox>"),
        _obj("cat", 1, None, float("inf"), 5),  # a reader that left no explanation: still named
        _obj("", 1, 1, 5, 5),
        _obj("cat", 1, 1, 5, 5)])
    result = record_to_example(rec, str(tmp_path), label_map)
    assert [(p.reason, p.detail) for p in result.problems] == [
        (R.INVALID_COORDINATES, "no <bndbox> (object #1 of images[0] in ann.json)"),
        (R.INVALID_COORDINATES, "ymin is missing; xmax is Infinity (ann# of images[0] in ann.json)"),
        (R.UNKNOWN_CLASS, "the box has no class name (ann# of images[0] in ann.json)")]
    assert list(_features(result.example)[K.CLASS_TEXT].bytes_list.value) == [b"cat"]
