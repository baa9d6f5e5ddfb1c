"""schemas.label_map_validation: counting class names in TFRecords and the checks on them."""

from tests.label_map_validator.records import write_examples
from schemas.label_map import parse_label_map_text
from schemas.label_map_validation import count_classes, validate
from schemas.pipeline_config import parse_pipeline_config_text
from tests.schemas.helpers import MINIMAL
from tests.schemas.probe_kit import LABEL_MAPS, _center_net_keypoints_text

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


TRAIN_MAP = "item { id: 1 name: 'c1' }\nitem { id: 2 name: 'c2' display_name: 'Car' }\nitem { id: 3 name: 'c3' }\n"


def _keypoint_config(tmp_path, keypoint_map: str | None, replace=()) -> object:
    """The probes' CenterNet keypoint config (task 'kp' on class c1, num_keypoints 3) naming 'kp.pbtxt', written
    with `keypoint_map` beside it: the validator finds it there, as config_paths resolves a config's paths."""
    text = _center_net_keypoints_text().replace(str(LABEL_MAPS / "probe_keypoints.pbtxt"), "kp.pbtxt")
    for old, new in replace:
        text = text.replace(old, new)
    (tmp_path / "p.config").write_text(text)
    if keypoint_map is not None:
        (tmp_path / "kp.pbtxt").write_text(keypoint_map)
    return parse_pipeline_config_text(text, str(tmp_path / "p.config"))


def _errors(tmp_path, report) -> list[str]:
    return [str(p).replace(f"{tmp_path}/", "") for p in report.errors]


def test_a_center_net_keypoint_task_that_matches_its_label_maps_and_data_is_valid(tmp_path):
    keypoints = "keypoints { id: 0 label: 'a' } keypoints { id: 1 label: 'b' } keypoints { id: 2 label: 'c' }"
    # The keypoint item names its class by the training map's display name; the training map declares no keypoints.
    config = _keypoint_config(tmp_path, f"item {{ id: 2 name: 'Car' {keypoints} }}\n",
                              (('keypoint_class_name: "c1"', 'keypoint_class_name: "Car"'),))
    counts = {"train": {"c1": 1, "c2": 1, "c3": 1}}
    report = validate(parse_label_map_text(TRAIN_MAP, "lm.pbtxt"), counts, {"train": 1}, config,
                      conversion={"keypoint_names": ["a", "b", "c"]})
    assert report.valid, report.errors
    # One file as both maps: a keypoint the data names otherwise is said once, by the training map's check.
    both = (LABEL_MAPS / "probe_keypoints.pbtxt").read_text()
    report = validate(parse_label_map_text(both, "kp.pbtxt"), counts, {"train": 1}, _keypoint_config(tmp_path, both),
                      conversion={"keypoint_names": ["a", "b", "x"]})
    assert _errors(tmp_path, report) == [
        "kp.pbtxt:2: class 'c1': keypoint id 2 is 'c' here but 'x' in the data",
        "kp.pbtxt:3: class 'c2': keypoint id 2 is 'c' here but 'x' in the data"]


def test_a_center_net_keypoint_task_is_checked_against_both_label_maps_num_keypoints_and_the_data(tmp_path):
    """The keypoint item 'c1' has id 2 (class 'c2' in the training map), a keypoint id 3 beyond the records' 3,
    labelled 'z' where the data has none; keypoint_label_to_std names 'q', no keypoint of it."""
    config = _keypoint_config(tmp_path, "item { name: 'c1' id: 2\n  keypoints { id: 0 label: 'a' } keypoints { id: 1 "
                                        "label: 'b' } keypoints { id: 3 label: 'z' } }\n",
                              (('{ key: "a" value: 0.5 }', '{ key: "a" value: 0.5 } keypoint_label_to_std '
                                                          '{ key: "q" value: 0.5 }'),))
    report = validate(parse_label_map_text(TRAIN_MAP, "lm.pbtxt"), {"train": {"c1": 1, "c2": 1, "c3": 1}},
                      {"train": 1}, config, conversion={"keypoint_names": ["a", "b", "c"]})
    assert _errors(tmp_path, report) == [
        "kp.pbtxt:1: the keypoint label map's item 'c1' has id 2, which is class 'c2' (display name 'Car') in the "
        "training label map lm.pbtxt:2: the names differ (a keypoint item is its class: the same id, named by the "
        "class's name or display name), so its keypoints would be learnt on 'c2' boxes; 'c1' is id 1 there",
        "p.config:8:107: model.center_net.keypoint_estimation_task[0].keypoint_label_to_std: 'q' is not a keypoint "
        "of 'c1' in kp.pbtxt:1 (a, b, z)",
        "p.config:107:3: train_input_reader.num_keypoints: is 3: the records carry keypoints 0..2, but item 'c1' of "
        "kp.pbtxt:1 declares id 3 ('z')",
        "kp.pbtxt:1: class 'c1': keypoint id 3 ('z') is not one of the data's 3 keypoints (ids 0..2)",
    ]


def test_a_keypoint_task_whose_label_map_or_item_is_missing_names_the_configs_field(tmp_path):
    train = parse_label_map_text(TRAIN_MAP, "lm.pbtxt")
    counts = {"train": {"c1": 1, "c2": 1, "c3": 1}}
    missing = validate(train, counts, {"train": 1}, _keypoint_config(tmp_path, None))
    assert [str(p) for p in missing.errors] == [
        f"{tmp_path}/p.config:8:2: model.center_net.keypoint_label_map_path: the keypoint label map is not there "
        f"(looked at kp.pbtxt or {tmp_path}/kp.pbtxt)"]
    no_item = validate(train, counts, {"train": 1}, _keypoint_config(tmp_path, "item { id: 1 name: 'c3' }\n"))
    assert _errors(tmp_path, no_item) == [
        "p.config:8:81: model.center_net.keypoint_estimation_task[0].keypoint_class_name: 'c1' is not an item of the "
        "keypoint label map kp.pbtxt (its items: c3)"]
    no_keypoints = validate(train, counts, {"train": 1}, _keypoint_config(tmp_path, "item { id: 1 name: 'c1' }\n"))
    assert _errors(tmp_path, no_keypoints) == [
        "p.config:8:81: model.center_net.keypoint_estimation_task[0].keypoint_class_name: the keypoint label map's "
        "item 'c1' (kp.pbtxt:1) declares no keypoints { id label }"]
