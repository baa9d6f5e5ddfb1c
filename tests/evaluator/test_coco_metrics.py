"""COCO metrics: parity with pycocotools to 1e-9, validation, the accumulator."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from components.evaluator.coco_metrics import (
    METRIC_NAMES, PER_CATEGORY_PREFIX, CocoAccumulator, Detections, GroundTruth, evaluate, mean_valid)
from components.evaluator.synthetic import CaseMix, synthetic_coco
from schemas.problems import ProblemsError

TOL = 1e-9


def pycocotools_eval(gt: dict, dt: list) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dt)), "bbox")
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval


def assert_parity(gt: dict, dt: list) -> None:
    ours = evaluate(gt, dt)
    theirs = pycocotools_eval(gt, dt)
    assert list(ours.metrics) == list(METRIC_NAMES)
    for i, name in enumerate(METRIC_NAMES):
        assert ours.metrics[name] == pytest.approx(float(theirs.stats[i]), abs=TOL), name
    names = {c["id"]: c["name"] for c in gt["categories"]}
    precision = np.asarray(theirs.eval["precision"])
    for k, cat_id in enumerate(theirs.params.catIds):
        name = names[cat_id]
        assert ours.per_category[name] == pytest.approx(mean_valid(precision[:, :, k, 0, -1]), abs=TOL), name
        np.testing.assert_allclose(ours.precision[name], precision[0, :, k, 0, -1], rtol=0, atol=TOL)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_parity_with_pycocotools_on_randomised_sets(seed):
    gt, dt = synthetic_coco(seed, num_images=30, num_classes=12, dets_per_image=25,
                            mix=CaseMix(crowd_fraction=0.15, empty_image_fraction=0.15, no_det_image_fraction=0.15))
    # The set really exercises the cases the contract names.
    dets_per_image = np.bincount([d["image_id"] for d in dt])
    assert dets_per_image.max() > 100
    assert any(a["iscrowd"] for a in gt["annotations"])
    assert any(a["area"] != a["bbox"][2] * a["bbox"][3] for a in gt["annotations"])
    with_gt = {a["image_id"] for a in gt["annotations"]}
    with_dt = {d["image_id"] for d in dt}
    all_ids = {i["id"] for i in gt["images"]}
    assert all_ids - with_gt and all_ids - with_dt
    assert_parity(gt, dt)


def test_faster_coco_eval_engine_agrees():
    gt, dt = synthetic_coco(12, num_images=20, num_classes=5)
    ours, fast = evaluate(gt, dt), evaluate(gt, dt, engine="faster-coco-eval")
    assert fast.metrics == pytest.approx(ours.metrics, abs=TOL)
    assert fast.per_category == pytest.approx(ours.per_category, abs=TOL)


def test_parity_with_gt_id_zero_and_ties():
    # pycocotools treats a match to ground-truth id 0 as no match; identical scores keep input order.
    gt, dt = synthetic_coco(13, num_images=10, num_classes=3)
    gt["annotations"][0]["id"] = 0
    for det in dt[::3]:
        det["score"] = 0.5
    assert_parity(gt, dt)


def test_parity_with_few_classes_and_mostly_crowd():
    gt, dt = synthetic_coco(7, num_images=15, num_classes=2,
                            mix=CaseMix(crowd_fraction=0.6, custom_area_fraction=0.8))
    assert_parity(gt, dt)


def test_category_without_ground_truth_reports_minus_one():
    gt, dt = synthetic_coco(3, num_images=10, num_classes=3)
    unused = max(c["id"] for c in gt["categories"]) + 1
    gt["categories"].append({"id": unused, "name": "never_seen"})
    result = evaluate(gt, dt)
    assert result.per_category["never_seen"] == -1.0
    assert_parity(gt, dt)


def test_no_detections_gives_zero_ap_and_recall():
    gt, _ = synthetic_coco(4, num_images=8, num_classes=3, mix=CaseMix(crowd_fraction=0.0))
    result = evaluate(gt, [])
    assert result.metrics["DetectionBoxes_Precision/mAP"] == 0.0
    assert result.metrics["DetectionBoxes_Recall/AR@100"] == 0.0


def test_perfect_detections_give_map_one():
    gt, _ = synthetic_coco(5, num_images=8, num_classes=3, mix=CaseMix(crowd_fraction=0.0))
    dt = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
          for a in gt["annotations"]]
    result = evaluate(gt, dt)
    assert result.metrics["DetectionBoxes_Precision/mAP"] == pytest.approx(1.0)
    assert result.metrics["DetectionBoxes_Recall/AR@100"] == pytest.approx(1.0)


def test_inputs_are_not_modified():
    gt, dt = synthetic_coco(6, num_images=6, num_classes=2)
    gt_before, dt_before = copy.deepcopy(gt), copy.deepcopy(dt)
    evaluate(gt, dt)
    assert gt == gt_before and dt == dt_before


def test_missing_area_falls_back_to_box_area():
    gt, dt = synthetic_coco(8, num_images=6, num_classes=2, mix=CaseMix(custom_area_fraction=0.0))
    without_area = copy.deepcopy(gt)
    for ann in without_area["annotations"]:
        del ann["area"]
    assert evaluate(without_area, dt).metrics == evaluate(gt, dt).metrics


def _tiny_gt() -> dict:
    return {"images": [{"id": 1, "height": 100, "width": 100}],
            "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400}]}


@pytest.mark.parametrize("mutate, expected", [
    (lambda gt, dt: gt.pop("categories"), "gt.json: missing key 'categories'"),
    (lambda gt, dt: gt["annotations"][0].update(bbox=[1, 2, 3]), "gt.json: annotations[0].bbox: expected 4 numbers"),
    (lambda gt, dt: gt["annotations"][0].pop("image_id"), "gt.json: annotations[0]: missing key 'image_id'"),
    (lambda gt, dt: gt["annotations"][0].update(category_id=9), "annotations[0].category_id: unknown category id 9"),
    (lambda gt, dt: gt["images"].append({"id": 1}), "gt.json: images[1].id: duplicate id 1"),
    (lambda gt, dt: dt[1].update(image_id=42), "dt.json: [1].image_id: unknown image id 42"),
    (lambda gt, dt: dt[0].update(category_id=7), "dt.json: [0].category_id: unknown category id 7"),
    (lambda gt, dt: dt[1].update(score=float("nan")), "dt.json: [1].score: expected a finite number"),
    (lambda gt, dt: dt[0].update(bbox=[1, 2, "3", 4]), "dt.json: [0].bbox: expected 4 numbers"),
    (lambda gt, dt: dt[0].update(bbox=[1, 2, -3, 4]), "dt.json: [0].bbox: width and height must be >= 0"),
    (lambda gt, dt: dt[1].pop("score"), "dt.json: [1]: missing key(s) 'score'"),
])
def test_malformed_input_names_file_and_field(mutate, expected):
    gt = _tiny_gt()
    dt = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.5},
          {"image_id": 1, "category_id": 1, "bbox": [50, 50, 20, 20], "score": 0.4}]
    mutate(gt, dt)
    with pytest.raises(ProblemsError) as info:
        evaluate(gt, dt, gt_file="gt.json", dt_file="dt.json")
    assert any(expected in str(p) for p in info.value.problems), info.value.problems


def test_numpy_scalars_in_detections_are_accepted():
    gt = _tiny_gt()
    dt = [{"image_id": np.int64(1), "category_id": np.int32(1), "bbox": list(np.float32([10, 10, 20, 20])),
           "score": np.float32(0.5)}]
    assert evaluate(gt, dt).metrics["DetectionBoxes_Precision/mAP"] == pytest.approx(1.0)


def test_accumulator_matches_the_same_set_given_as_coco():
    gt, dt = synthetic_coco(9, num_images=12, num_classes=4)
    acc = CocoAccumulator(gt["categories"])
    by_image = {}
    for det in dt:
        by_image.setdefault(det["image_id"], []).append(det)
    for image in gt["images"]:
        h, w = image["height"], image["width"]
        anns = [a for a in gt["annotations"] if a["image_id"] == image["id"]]
        dets = by_image.get(image["id"], [])

        def yxyx(b):
            return [b[1] / h, b[0] / w, (b[1] + b[3]) / h, (b[0] + b[2]) / w]
        acc.add_image(image["id"], h, w,
                      GroundTruth([yxyx(a["bbox"]) for a in anns], [a["category_id"] for a in anns],
                                  [a["iscrowd"] for a in anns], [a["area"] for a in anns]),
                      Detections([yxyx(d["bbox"]) for d in dets], [float(d["category_id"]) for d in dets],
                                 [d["score"] for d in dets]))
    ours = acc.result()
    direct = evaluate(gt, dt)
    for name in METRIC_NAMES:
        # Boxes went through normalised coordinates and back: equal up to rounding.
        assert ours.metrics[name] == pytest.approx(direct.metrics[name], abs=1e-6), name


def test_accumulator_rejects_ground_truth_outside_label_map():
    acc = CocoAccumulator({1: "cat", 2: "dog"})
    with pytest.raises(ValueError, match=r"ground-truth class id\(s\) \[5\] are not in the label map"):
        acc.add_image("a.jpg", 10, 10, GroundTruth([[0, 0, 1, 1]], [5]),
                      Detections(boxes=[[0, 0, 1, 1]], classes=[1.0], scores=[0.9]))
    assert acc.images == [] and acc.dropped_detections == 0


def test_accumulator_leaves_out_detections_in_label_map_id_gaps_as_the_od_api_does():
    acc = CocoAccumulator({1: "cat", 2: "dog", 5: "owl"})          # ids with gaps: head columns 3 and 4 are no class
    acc.add_image("a.jpg", 10, 10, GroundTruth([[0, 0, 1, 1]], [5]),
                  Detections(boxes=[[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, .5, .5]],
                             classes=[3.0, 5.0, 4.0], scores=[0.9, 0.8, 0.7]))
    assert acc.dropped_detections == 2
    assert acc.images[0].det_classes.tolist() == [5] and acc.images[0].det_scores.tolist() == [0.8]
    result = acc.result()
    assert result.per_category["owl"] == pytest.approx(1.0)


def test_accumulator_defaults_area_and_crowd():
    acc = CocoAccumulator({1: "cat"})
    acc.add_image("a.jpg", 100, 200, GroundTruth([[0.1, 0.1, 0.5, 0.6]], [1]),
                  Detections(boxes=[[0.1, 0.1, 0.5, 0.6]], classes=[1.0], scores=[0.8]))
    gt, dt = acc.to_coco()
    ann = gt["annotations"][0]
    assert ann["bbox"] == pytest.approx([20.0, 10.0, 100.0, 40.0])
    assert ann["area"] == pytest.approx(4000.0) and ann["iscrowd"] == 0
    assert acc.result().metrics["DetectionBoxes_Precision/mAP"] == pytest.approx(1.0)
    assert PER_CATEGORY_PREFIX.endswith("/mAP/")
