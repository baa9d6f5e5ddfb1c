"""The LabelMapValidator's data policy: too many dropped boxes, or a class with no training box, stop a run."""
from schemas.label_map import parse_label_map_text
from schemas.label_map_validation import DataPolicy, dropped_boxes_line, validate

MAP = parse_label_map_text('item { id: 1 name: "bolt" }\nitem { id: 2 name: "gear" }\n', "label_map.pbtxt")
COUNTS = {"train": {"bolt": 14, "gear": 3}, "eval": {"bolt": 2}}
IMAGES = {"train": 80, "eval": 19}
CONVERSION = {"boxes": {"train": 17, "eval": 2}, "dropped_boxes": {"unknown_class": 85, "outside_image": 0},
              "first_problems": [{"file": "a.json", "reason": "unknown_class",
                                  "detail": "class 'washer' is not in the label map (image 3)"},
                                 {"file": "a.json", "reason": "unknown_class",
                                  "detail": "class 'hex_nut' is not in the label map (image 4)"}]}


def test_the_dropped_boxes_line_names_counts_reasons_and_classes():
    assert dropped_boxes_line(CONVERSION) == ("85 of 104 boxes dropped: unknown_class 85 (e.g. 'hex_nut', "
                                              "'washer')")
    assert dropped_boxes_line({"boxes": {"train": 3}, "dropped_boxes": {"unknown_class": 0}}) is None


def test_more_dropped_boxes_than_allowed_is_an_error_naming_the_flag():
    report = validate(MAP, COUNTS, IMAGES, conversion=CONVERSION, policy=DataPolicy())
    assert not report.valid
    [error] = report.errors
    assert "85 of 104 boxes dropped: unknown_class 85" in error.message
    assert "82% of the boxes, more than the 5% allowed" in error.message
    assert "--max-dropped-boxes 0.82" in error.message
    allowed = validate(MAP, COUNTS, IMAGES, conversion=CONVERSION, policy=DataPolicy(max_dropped_box_share=0.82))
    assert allowed.valid


def test_a_class_without_training_boxes_is_an_error_unless_allowed():
    counts = {"train": {"bolt": 14}, "eval": {"bolt": 2, "gear": 1}}
    report = validate(MAP, counts, IMAGES, policy=DataPolicy())
    [error] = report.errors
    assert "class 'gear' (id 2) has no box in the training split" in error.message
    assert "--allow-empty-classes" in error.message and error.line == 2
    assert not any("in split 'train'" in w.message for w in report.warnings)   # said once, as the error
    assert validate(MAP, counts, IMAGES, policy=DataPolicy(allow_empty_classes=True)).valid


def test_without_a_policy_nothing_changes():
    assert validate(MAP, COUNTS, IMAGES, conversion=CONVERSION).valid
