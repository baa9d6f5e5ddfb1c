"""The embedded sample data generator: deterministic, valid COCO, looks like a dataset."""

from __future__ import annotations

import hashlib
import itertools
import json
import pathlib
import re

import numpy as np
import pytest
from PIL import Image

import sample_data

from sample_data import drawing as sample_drawing


def _digest(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return sample_data.generate(tmp_path_factory.mktemp("demo"), num_images=64, seed=0)


@pytest.fixture(scope="module")
def coco(dataset):
    return json.loads(dataset.annotations.read_text())


def test_same_seed_gives_identical_bytes_and_different_seed_does_not(tmp_path):
    a = sample_data.generate(tmp_path / "a", num_images=6, seed=7)
    b = sample_data.generate(tmp_path / "b", num_images=6, seed=7)
    c = sample_data.generate(tmp_path / "c", num_images=6, seed=8)
    assert _digest(a.root) == _digest(b.root)
    assert a.annotations.read_bytes() == b.annotations.read_bytes()
    differing = {k for k, v in _digest(c.root).items() if _digest(a.root).get(k) != v}
    assert "annotations.json" in differing
    assert len([k for k in differing if k.startswith("images/")]) >= 5


def test_image_does_not_depend_on_how_many_are_asked_for(tmp_path):
    few = sample_data.generate(tmp_path / "few", num_images=2, seed=3)
    more = sample_data.generate(tmp_path / "more", num_images=4, seed=3)
    for name in sorted(p.name for p in few.images_dir.iterdir()):
        assert (few.images_dir / name).read_bytes() == (more.images_dir / name).read_bytes()


def test_loads_with_pycocotools(dataset):
    from pycocotools.coco import COCO

    api = COCO(str(dataset.annotations))
    assert len(api.getImgIds()) == dataset.num_images == 64
    assert len(api.getAnnIds()) == dataset.num_boxes > 64
    assert [c["name"] for c in api.loadCats(api.getCatIds())] == list(sample_data.DEMO_CLASSES)


def test_annotations_are_well_formed_and_boxes_inside_images(dataset, coco):
    images = {im["id"]: im for im in coco["images"]}
    assert len({a["id"] for a in coco["annotations"]}) == len(coco["annotations"])
    for a in coco["annotations"]:
        im = images[a["image_id"]]
        x, y, w, h = a["bbox"]
        assert a["iscrowd"] == 0
        assert x >= 0 and y >= 0 and x + w <= im["width"] and y + h <= im["height"]
        assert max(w, h) >= 8, a
        assert 0 < a["area"] <= w * h
    for im in coco["images"]:
        with Image.open(dataset.images_dir / im["file_name"]) as img:
            assert img.size == (im["width"], im["height"]) == (128, 128)
            assert img.mode == "RGB"


def test_every_class_negatives_sizes_and_occlusion_present(coco):
    counts = {c["id"]: 0 for c in coco["categories"]}
    for a in coco["annotations"]:
        counts[a["category_id"]] += 1
    assert min(counts.values()) >= 8, counts

    with_boxes = {a["image_id"] for a in coco["annotations"]}
    negatives = [im for im in coco["images"] if im["id"] not in with_boxes]
    assert 1 <= len(negatives) <= len(coco["images"]) // 5

    long_sides = np.array([max(a["bbox"][2:]) for a in coco["annotations"]])
    box_areas = np.array([a["bbox"][2] * a["bbox"][3] for a in coco["annotations"]])
    assert (box_areas < 32 ** 2).sum() >= 10        # COCO small
    assert ((box_areas >= 32 ** 2) & (box_areas < 96 ** 2)).sum() >= 10  # COCO medium
    assert (long_sides >= 0.55 * 128).sum() >= 3    # large for the image
    assert long_sides.min() >= 8

    def overlaps(a, b):
        ax, ay, aw, ah = a["bbox"]
        bx, by, bw, bh = b["bbox"]
        return min(ax + aw, bx + bw) > max(ax, bx) and min(ay + ah, by + bh) > max(ay, by)

    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    overlapping = sum(any(overlaps(a, b) for a, b in itertools.combinations(anns, 2)) for anns in by_image.values())
    assert overlapping >= 5
    # Occluded objects keep their full box, so their visible area is well below the box's.
    assert sum(a["area"] < 0.5 * a["bbox"][2] * a["bbox"][3] for a in coco["annotations"]) >= 5


def test_png_and_jpeg_both_present_and_match_their_names(dataset, coco):
    formats = {}
    for im in coco["images"]:
        with Image.open(dataset.images_dir / im["file_name"]) as img:
            formats.setdefault(img.format, []).append(im["file_name"])
    assert set(formats) == {"PNG", "JPEG"}
    assert all(n.endswith(".png") for n in formats["PNG"])
    assert all(n.endswith(".jpg") for n in formats["JPEG"])
    assert len(formats["PNG"]) > len(formats["JPEG"]) >= 4


def test_images_are_not_flat(dataset, coco):
    for im in coco["images"][:8]:
        pixels = np.asarray(Image.open(dataset.images_dir / im["file_name"]), dtype=np.float32)
        assert pixels.std() > 5


def test_label_map_lists_classes_in_id_order(dataset):
    text = dataset.label_map.read_text()
    items = re.findall(r"item \{\s*id: (\d+)\s*name: '([^']+)'\s*display_name: '([^']+)'\s*\}", text)
    assert [(int(i), n) for i, n, _ in items] == list(enumerate(sample_data.DEMO_CLASSES, start=1))
    assert items[0][2] == "Hex nut"
    from google.protobuf import text_format

    from schemas.protos import string_int_label_map_pb2

    parsed = text_format.Parse(text, string_int_label_map_pb2.StringIntLabelMap())
    assert [(i.id, i.name) for i in parsed.item] == list(enumerate(sample_data.DEMO_CLASSES, start=1))


def test_pretrain_classes_differ_from_demo_classes():
    assert not set(sample_data.PRETRAIN_CLASSES) & set(sample_data.DEMO_CLASSES)
    assert 4 <= len(sample_data.DEMO_CLASSES) <= 5 and 4 <= len(sample_data.PRETRAIN_CLASSES) <= 5


def test_spans_are_separate_drops_of_the_same_classes(tmp_path):
    one = sample_data.generate_span(tmp_path, 1, num_images=3)
    two = sample_data.generate_span(tmp_path, 2, num_images=3)
    assert one.root == tmp_path / "span-1" and one.images_dir == tmp_path / "span-1" / "images"
    assert one.annotations == tmp_path / "span-1" / "annotations.json"
    assert one.classes == two.classes == sample_data.DEMO_CLASSES
    assert sorted(p.stem for p in one.images_dir.iterdir()) == sorted(p.stem for p in two.images_dir.iterdir())
    assert _digest(one.images_dir) != _digest(two.images_dir)
    assert json.loads(two.annotations.read_text())["info"]["span"] == 2


def test_min_objects_excludes_negatives_and_bad_arguments_raise(tmp_path):
    ds = sample_data.generate(tmp_path / "dense", num_images=6, seed=1,
                              mix=sample_data.ImageMix(min_objects=2, max_objects=3))
    coco = json.loads(ds.annotations.read_text())
    assert {a["image_id"] for a in coco["annotations"]} == {im["id"] for im in coco["images"]}
    with pytest.raises(ValueError):
        sample_data.generate(tmp_path / "bad", num_images=1, mix=sample_data.ImageMix(min_objects=3, max_objects=2))
    with pytest.raises(ValueError):
        sample_data.generate(tmp_path / "bad", num_images=1, classes=("a", "a"))


def test_command_line_writes_pretrain_data(tmp_path, capsys):
    assert sample_data.main([str(tmp_path / "out"), "--num-images", "3", "--classes", "pretrain",
                             "--seed", "2"]) == 0
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert [c["name"] for c in coco["categories"]] == list(sample_data.PRETRAIN_CLASSES)
    assert len(coco["images"]) == 3
    assert "3 images" in capsys.readouterr().out


def test_classes_without_a_recipe_get_distinct_shapes(tmp_path):
    ds = sample_data.generate(tmp_path / "custom", num_images=4, classes=("hex_nut", "apple", "pear"), seed=5)
    coco = json.loads(ds.annotations.read_text())
    assert [c["name"] for c in coco["categories"]] == ["hex_nut", "apple", "pear"]
    assert ds.num_boxes == len(coco["annotations"]) > 0
    shapes = [style[0] for style in sample_drawing.styles(("hex_nut", "apple", "pear")).values()]
    assert len(set(shapes)) == 3


def test_regenerating_into_the_same_folder_leaves_no_stale_images(tmp_path):
    sample_data.generate(tmp_path, num_images=5, seed=1)
    (tmp_path / "images" / "notes.txt").write_text("a user's file")
    ds = sample_data.generate(tmp_path, num_images=2, seed=1)
    names = sorted(p.stem for p in ds.images_dir.iterdir() if p.suffix != ".txt")
    assert names == ["000000", "000001"]
    assert (tmp_path / "images" / "notes.txt").exists()


def test_keypoints_are_the_objects_extreme_points_and_the_images_stay_the_same(tmp_path, dataset, coco):
    """With keypoints: the same images; each object's top, bottom, left and right points on its own pixels
    (at its box's edges), visible (2) or hidden under a later object (1); the categories name them and the
    label map declares them in the same order; `detflow convert` carries them into the records."""
    with_keypoints = sample_data.generate(tmp_path / "kp", num_images=64, seed=0, keypoints=True)
    images = {k: v for k, v in _digest(with_keypoints.root).items() if k.startswith("images/")}
    assert images == {k: v for k, v in _digest(dataset.root).items() if k.startswith("images/")}
    annotated = json.loads(with_keypoints.annotations.read_text())
    assert all(c["keypoints"] == list(sample_data.KEYPOINT_NAMES) for c in annotated["categories"])
    visibility = []
    for plain, ann in zip(coco["annotations"], annotated["annotations"]):
        assert {k: v for k, v in ann.items() if k not in ("keypoints", "num_keypoints")} == plain
        x, y, w, h = ann["bbox"]
        points = np.array(ann["keypoints"], np.float64).reshape(4, 3)
        top, bottom, left, right = points
        assert top[1] == y + 0.5 and bottom[1] == y + h - 0.5 and left[0] == x + 0.5 and right[0] == x + w - 0.5
        visibility += points[:, 2].tolist()
        assert ann["num_keypoints"] == 4
    assert set(visibility) == {1, 2}            # occlusion hides some
    from schemas.label_map import load_label_map
    items = load_label_map(with_keypoints.label_map).items
    assert all(item.keypoints == tuple(enumerate(sample_data.KEYPOINT_NAMES)) for item in items)
    names = sample_data.KEYPOINT_NAMES
    assert [names[i] for i in sample_data.KEYPOINT_FLIP_PERMUTATION] == ["top", "bottom", "right", "left"]
    _assert_converted_with_keypoints(with_keypoints, tmp_path / "records", len(annotated["annotations"]))


def _assert_converted_with_keypoints(data, records: pathlib.Path, num_objects: int) -> None:
    import tensorflow as tf
    from detection.data import tf_example
    from pipelines import cli
    assert cli.main(["convert", "--format", "coco", "--annotations", str(data.annotations), "--images",
                     str(data.images_dir), "--label-map", str(data.label_map), "--out", str(records)]) == 0
    files = sorted(str(p) for p in records.glob("Split-*/*"))
    counted = 0
    for serialized in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        decoded = tf_example.decode_example(serialized, num_keypoints=4)
        assert decoded["keypoints"].shape[1:] == (4, 2)
        assert bool(tf.reduce_all(decoded["keypoint_visibilities"]))   # hidden (1) is labelled too
        counted += int(decoded["keypoints"].shape[0])
    assert counted == num_objects
