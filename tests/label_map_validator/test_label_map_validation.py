"""schemas.label_map_validation: counting class names in TFRecords and the checks on them."""

from tests.label_map_validator.records import write_examples
from schemas.label_map import parse_label_map_text
from schemas.label_map_validation import count_classes, validate
from schemas.pipeline_config import parse_pipeline_config_text
from tests.schemas.helpers import MINIMAL

LABEL_MAP = "item { id: 1 name: 'ball' }\nitem { id: 2 name: 'cube' }\nitem { id: 3 name: 'ring' }\n"


def test_counts_boxes_per_class_and_images_per_split(tmp_path):
    write_examples(str(tmp_path / "train" / "a.gz"), [["ball", "ball", "cube"], []])
    write_examples(str(tmp_path / "train" / "b.gz"), [["ring"]])
    write_examples(str(tmp_path / "eval" / "a.gz"), [["cube"]])
    counts, images = count_classes({"train": [str(tmp_path / "train" / "a.gz"), str(tmp_path / "train" / "b.gz")],
                                    "eval": [str(tmp_path / "eval" / "a.gz")], "empty": []})
    assert counts == {"train": {"ball": 2, "cube": 1, "ring": 1}, "eval": {"cube": 1}, "empty": {}}
    assert images == {"train": 3, "eval": 1, "empty": 0}


def test_unknown_class_and_num_classes_are_errors_missing_classes_warnings():
    label_map = parse_label_map_text(LABEL_MAP, "lm.pbtxt")
    config = parse_pipeline_config_text(MINIMAL.replace("num_classes: 3", "num_classes: 4"), "p.config")
    report = validate(label_map, {"train": {"ball": 5, "horse": 2}, "eval": {"ball": 1, "cube": 1, "ring": 1}},
                      {"train": 4, "eval": 2}, config)
    assert not report.valid
    assert [str(p) for p in report.errors] == [
        "lm.pbtxt: class 'horse' has 2 box(es) in split 'train' but is not in the label map (ball, cube, ring)",
        "p.config:3:5: model.ssd.num_classes: num_classes is 4 but the highest id in the label map lm.pbtxt is 3: "
        "class-head column 4 would belong to no class (num_classes must be the highest id)",
    ]
    assert [str(p) for p in report.warnings] == [
        "lm.pbtxt:2: class 'cube' (id 2) has no boxes in split 'train' (4 images)",
        "lm.pbtxt:3: class 'ring' (id 3) has no boxes in split 'train' (4 images)",
    ]
    assert report.error_message().splitlines()[0] == "label map validation failed (2 problem(s)):"
    assert report.to_json()["counts"]["train"] == {"ball": 5, "horse": 2}


def test_ids_with_gaps_are_valid_and_a_background_item_is_a_warning():
    label_map = parse_label_map_text("item { id: 0 name: 'background' }\nitem { id: 1 name: 'ball' }\n"
                                     "item { id: 2 name: 'cube' }\nitem { id: 5 name: 'ring' }\n", "lm.pbtxt")
    counts = {"train": {"ball": 1, "cube": 1, "ring": 1}}
    report = validate(label_map, counts, {"train": 1},
                      parse_pipeline_config_text(MINIMAL.replace("num_classes: 3", "num_classes: 5"), "p.config"))
    assert report.valid and report.errors == []
    assert [str(p) for p in report.warnings] == [
        "lm.pbtxt:1:8: item 'background' with id 0 is left out: detflow adds the background class itself "
        "(class ids start at 1)"]
    assert (report.to_json()["num_classes"], report.to_json()["max_id"]) == (3, 5)
    wide = validate(label_map, counts, {"train": 1},
                    parse_pipeline_config_text(MINIMAL.replace("num_classes: 3", "num_classes: 6"), "p.config"))
    assert [str(p) for p in wide.errors] == [
        "p.config:3:5: model.ssd.num_classes: num_classes is 6 but the highest id in the label map lm.pbtxt is 5: "
        "class-head column 6 would belong to no class (num_classes must be the highest id)"]


def test_matching_data_is_valid():
    label_map = parse_label_map_text(LABEL_MAP, "lm.pbtxt")
    report = validate(label_map, {"train": {"ball": 1, "cube": 1, "ring": 1}}, {"train": 1},
                      parse_pipeline_config_text(MINIMAL))
    assert report.valid and report.warnings == []
    assert report.to_json()["content_hash"] == label_map.content_hash



KEYPOINT_MAP = ("item { id: 1 name: 'person' keypoints { id: 0 label: 'nose' } keypoints { id: 2 label: 'left_eye' }"
                " keypoints { id: 5 label: 'chin' } }\nitem { id: 2 name: 'car' }\n")


def test_a_class_keypoints_are_checked_against_the_datas_keypoint_names():
    """Each `keypoints { id label }` indexes the data's keypoints (the ExampleGen report's keypoint_names)."""
    label_map = parse_label_map_text(KEYPOINT_MAP, "kp.pbtxt")
    assert label_map.by_id[1].keypoints == ((0, "nose"), (2, "left_eye"), (5, "chin"))
    counts, images = {"train": {"person": 3, "car": 1}}, {"train": 2}
    conversion = {"keypoint_names": ["nose", "right_eye", "left_eye_typo"], "boxes": {"train": 4}}
    report = validate(label_map, counts, images, conversion=conversion)
    assert [str(p) for p in report.errors] == [
        "kp.pbtxt:1: class 'person': keypoint id 2 is 'left_eye' here but 'left_eye_typo' in the data",
        "kp.pbtxt:1: class 'person': keypoint id 5 ('chin') is not one of the data's 3 keypoints (ids 0..2)",
    ]
    conversion["keypoint_names"] = ["nose", "right_eye", "left_eye", "a", "b", "chin"]
    assert validate(label_map, counts, images, conversion=conversion).valid
    without = validate(label_map, counts, images, conversion={"boxes": {"train": 4}})
    assert without.valid and "kp.pbtxt:1: class 'person' declares 3 keypoint(s); the data has none" in [
        str(w) for w in without.warnings]
