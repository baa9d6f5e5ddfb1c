"""model_eval: a real SavedModel over OD API TFRecords, batching, label map discovery."""

from __future__ import annotations

import os

import pytest

from components.evaluator import model_eval
from tests.evaluator import tiny

MAP = "DetectionBoxes_Precision/mAP"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("model_eval")
    tiny.write_examples(str(root / "examples"), num_eval=5, with_crowd_and_area=False)
    tiny.write_model(str(root / "any_batch"))
    tiny.write_model(str(root / "batch_one"), batch=1, label_map_in_assets=False)
    return root


def test_batched_and_batch_one_exports_give_the_same_perfect_scores(setup):
    files = model_eval.split_files(str(setup / "examples"), "eval")
    exports = {"any": str(setup / "any_batch" / "Format-Serving"),
               "one": str(setup / "batch_one" / "Format-Serving")}
    assert model_eval.load_detector(exports["one"]).max_batch == 1
    accumulators, drawn = model_eval.evaluate_exports(files, exports, {1: "red", 2: "green"}, batch_size=4,
                                                      keep_images=3, drawn_model="one")
    for acc in accumulators.values():
        assert len(acc.images) == 5
        assert acc.result().metrics[MAP] == pytest.approx(1.0)
    # Missing is_crowd/area decode to defaults: not crowd, area from the box.
    gt, _ = accumulators["any"].to_coco()
    assert all(a["iscrowd"] == 0 and a["area"] == pytest.approx(a["bbox"][2] * a["bbox"][3])
               for a in gt["annotations"])
    assert len(drawn) == 3 and drawn[0].image.ndim == 3
    assert set(drawn[0].detections) == {"detection_boxes", "detection_scores", "detection_classes"}


def test_label_map_found_in_artifact_then_export(setup, tmp_path):
    export = str(setup / "batch_one" / "Format-Serving")
    assert model_eval.find_label_map(export) == os.path.join(export, "label_map.pbtxt")
    assert model_eval.find_label_map(str(setup / "any_batch" / "Format-Serving")).endswith(
        os.path.join("assets", "label_map.pbtxt"))
    (tmp_path / "label_map.pbtxt").write_text(tiny.LABEL_MAP)
    assert model_eval.find_label_map(export, str(tmp_path)) == str(tmp_path / "label_map.pbtxt")
    assert model_eval.read_label_map(str(tmp_path / "label_map.pbtxt")) == {1: "red", 2: "green"}
    with pytest.raises(FileNotFoundError, match="no label map found"):
        model_eval.find_label_map(str(tmp_path / "nowhere"))


def test_missing_split_is_a_clear_error(setup):
    with pytest.raises(FileNotFoundError, match="no files for split 'test'"):
        model_eval.split_files(str(setup / "examples"), "test")
