"""The Evaluator's keypoint metrics (components/evaluator/keypoint_metrics.py) against pycocotools.

The accumulator takes what the Evaluator decodes and a model gives (normalised y, x keypoints of every
class, labelled flags, detection classes and scores); this test builds the COCO keypoint sets from the same
arrays its own way (unlabelled keypoints keep their coordinates with v 0, other classes left out) and
pycocotools' COCOeval(iouType="keypoints") must give the same numbers. The sets hold: keypoints not
labelled, objects with no labelled keypoint, crowd, stored areas and missing ones, images without the
class, detections of other classes (which must change nothing), more than 20 detections on an image, and
keypoint ids that are not 0..k-1 (the label map's ids pick the columns).
"""
import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from components.evaluator import blessing
from components.evaluator.coco_fast import COCO_KEYPOINT_SIGMAS
from components.evaluator.coco_metrics import Detections, GroundTruth, check_metric_name
from components.evaluator.keypoint_metrics import (KeypointAccumulator, KeypointClass, check_blessing_metric,
                                                   is_keypoint_metric, keypoint_setup)
from components.evaluator.report import metric_lines
from schemas.label_map import parse_label_map_text
from schemas.problems import ProblemsError
from schemas.protos import pipeline_pb2
from google.protobuf import text_format

K_DATA = 6          # keypoints per object in the records
PERSON = KeypointClass(1, "person", (0, 2, 5), ("nose", "eye", "foot"), (0.026, 0.025, 0.089))
HAND = KeypointClass(3, "hand", (1, 3), ("thumb", "palm"), (0.5, 0.2))
OTHER = 2           # a class with no keypoint metric
STATS = ("Keypoints_Precision/mAP", "Keypoints_Precision/mAP@.50IOU", "Keypoints_Precision/mAP@.75IOU",
         "Keypoints_Precision/mAP (medium)", "Keypoints_Precision/mAP (large)", "Keypoints_Recall/AR@1",
         "Keypoints_Recall/AR@10", "Keypoints_Recall/AR@100", "Keypoints_Recall/AR@100 (medium)",
         "Keypoints_Recall/AR@100 (large)")


def _image(rng, index: int):
    """One image's arrays as the Evaluator holds them: (height, width, gt dict, detections dict)."""
    height, width = (480, 640) if index % 2 else (300, 400)
    classes = [] if index % 4 == 0 else list(rng.choice([1, OTHER, 3], size=int(rng.integers(1, 6))))
    boxes, points, labelled, crowd, area = [], [], [], [], []
    for _ in classes:
        h, w = rng.choice([rng.uniform(0.03, 0.08, 2), rng.uniform(0.1, 0.2, 2), rng.uniform(0.3, 0.6, 2)])
        y, x = rng.uniform(0, 1 - h), rng.uniform(0, 1 - w)
        boxes.append([y, x, y + h, x + w])
        points.append(np.stack([rng.uniform(y, y + h, K_DATA), rng.uniform(x, x + w, K_DATA)], 1))
        flags = rng.uniform(size=K_DATA) < 0.7
        labelled.append(flags & (rng.uniform() > 0.25))           # some objects with no labelled keypoint
        crowd.append(int(rng.uniform() < 0.1))
        area.append(0.0 if rng.uniform() < 0.5 else float(h * w * height * width * rng.uniform(0.4, 1.0)))
    gt = {"boxes": np.reshape(boxes, (-1, 4)), "classes": np.asarray(classes, np.int64),
          "is_crowd": np.asarray(crowd, np.int64), "area": np.asarray(area),
          "keypoints": np.reshape(points, (-1, K_DATA, 2)), "labelled": np.reshape(labelled, (-1, K_DATA))}
    det_points, det_classes, det_scores = [], [], []
    for cls, point in zip(classes, gt["keypoints"]):
        for _ in range(int(rng.integers(0, 3))):
            det_points.append(point + rng.normal(0, rng.choice([0.002, 0.01, 0.05]), point.shape))
            det_classes.append(cls)
            det_scores.append(round(float(rng.uniform(0.05, 1.0)), 1))        # rounded: ties
    for _ in range(int(rng.integers(0, 4)) + (25 if index == 3 else 0)):     # false positives; > 20 on image 3
        centre = rng.uniform(0.1, 0.9, 2)
        det_points.append(centre + rng.normal(0, 0.05, (K_DATA, 2)))
        det_classes.append(int(rng.choice([1, 3])))
        det_scores.append(round(float(rng.uniform(0.05, 1.0)), 1))
    dets = {"classes": np.asarray(det_classes, np.float32), "scores": np.asarray(det_scores),
            "keypoints": np.reshape(det_points, (-1, K_DATA, 2)),
            "keypoint_scores": rng.uniform(size=(len(det_scores), K_DATA))}
    return height, width, gt, dets


def _other_class_detections(rng, dets: dict) -> dict:
    """`dets` with detections of the class that has no keypoint metric added, high scored, on the objects."""
    extra = len(dets["scores"]) + 3
    points = np.concatenate([dets["keypoints"], rng.uniform(0, 1, (3, K_DATA, 2))])
    return {"classes": np.concatenate([dets["classes"], np.full(3, OTHER, np.float32)]),
            "scores": np.concatenate([dets["scores"], np.full(3, 0.99)]), "keypoints": points,
            "keypoint_scores": np.ones((extra, K_DATA))}


def _accumulate(images, classes=(PERSON, HAND)) -> KeypointAccumulator:
    acc = KeypointAccumulator(classes)
    for height, width, gt, dets in images:
        acc.add_image(height, width, GroundTruth(gt["boxes"], gt["classes"], gt["is_crowd"], gt["area"]),
                      gt["keypoints"], gt["labelled"], Detections(np.zeros((len(dets["scores"]), 4)),
                                                                   dets["classes"], dets["scores"]),
                      dets["keypoints"], dets["keypoint_scores"])
    return acc


def _reference_coco(images, klass: KeypointClass) -> tuple[dict, list]:
    """The COCO keypoint sets of one class, written independently of the accumulator."""
    gt_images, annotations, results = [], [], []
    ids = list(klass.keypoint_ids)
    for image_id, (height, width, gt, dets) in enumerate(images, start=7):
        gt_images.append({"id": image_id, "height": height, "width": width})
        for box, cls, crowd, area, points, flags in zip(gt["boxes"], gt["classes"], gt["is_crowd"], gt["area"],
                                                        gt["keypoints"], gt["labelled"]):
            if cls != klass.category_id:
                continue
            ymin, xmin, ymax, xmax = box
            w, h = (xmax - xmin) * width, (ymax - ymin) * height
            flat = [v for (y, x), f in zip(points[ids], flags[ids]) for v in (x * width, y * height, 2 * int(f))]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": klass.category_id,
                                "bbox": [xmin * width, ymin * height, w, h], "area": area if area > 0 else w * h,
                                "iscrowd": int(crowd), "keypoints": flat, "num_keypoints": int(flags[ids].sum())})
        for cls, score, points in zip(dets["classes"], dets["scores"], dets["keypoints"]):
            if int(cls) == klass.category_id:
                flat = [v for y, x in points[ids] for v in (x * width, y * height, 1.0)]
                results.append({"image_id": image_id, "category_id": klass.category_id, "keypoints": flat,
                                "score": float(score)})
    return {"images": gt_images, "annotations": annotations,
            "categories": [{"id": klass.category_id, "name": klass.name}]}, results


def _pycocotools_stats(gt: dict, dt: list, sigmas) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dt)), "keypoints")
        coco_eval.params.kpt_oks_sigmas = np.asarray(sigmas)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval.stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keypoint_metrics_equal_pycocotools(seed):
    rng = np.random.default_rng(seed)
    images = [_image(rng, i) for i in range(20)]
    found = _accumulate(images).result()
    person = _reference_coco(images, PERSON)[0]["annotations"]
    assert any(a["num_keypoints"] == 0 for a in person) and any(a["iscrowd"] for a in person)
    assert any(0 < a["num_keypoints"] < 3 for a in person)
    for klass in (PERSON, HAND):
        gt, dt = _reference_coco(images, klass)
        reference = _pycocotools_stats(gt, dt, klass.sigmas)
        ours = np.asarray([found[f"{stat} ByCategory/{klass.name}"] for stat in STATS])
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)
        assert 0 < reference[0] < 1                                          # a set that tells right from wrong
    assert sorted(found) == sorted(PERSON.metric_names() + HAND.metric_names())


def test_detections_of_other_classes_change_nothing():
    rng = np.random.default_rng(5)
    images = [_image(rng, i) for i in range(10)]
    with_others = [(h, w, gt, _other_class_detections(rng, dets)) for h, w, gt, dets in images]
    assert _accumulate(with_others).result() == _accumulate(images).result()


def test_coco_sets_are_pixels_with_unlabelled_keypoints_at_zero():
    truth = GroundTruth([[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0]], [1, OTHER], [0, 0], [0.0, 0.0])
    points = np.full((2, K_DATA, 2), 0.5)
    points[0, 2] = [np.nan, np.nan]
    labelled = np.ones((2, K_DATA), bool)
    acc = KeypointAccumulator([PERSON])
    acc.add_image(100, 200, truth, points, labelled, Detections(np.zeros((1, 4)), [1.0], [0.7]),
                  np.full((1, K_DATA, 2), 0.25), np.full((1, K_DATA), 0.5))
    gt, dt = acc.to_coco(PERSON)
    [ann] = gt["annotations"]
    assert ann["keypoints"] == [100.0, 50.0, 2.0, 0.0, 0.0, 0.0, 100.0, 50.0, 2.0]     # keypoint 2: NaN → v 0
    assert ann["num_keypoints"] == 2 and ann["area"] == pytest.approx(80 * 40)
    assert dt == [{"image_id": 1, "category_id": 1, "score": pytest.approx(0.7),
                   "keypoints": [50.0, 25.0, 0.5] * 3}]


def test_an_image_without_objects_or_detections_is_kept():
    acc = KeypointAccumulator([PERSON])
    acc.add_image(10, 10, GroundTruth(np.zeros((0, 4)), []), np.zeros((0, K_DATA, 2)), np.zeros((0, K_DATA)),
                  Detections(), np.zeros((0, K_DATA, 2)), np.zeros((0, K_DATA)))
    gt, dt = acc.to_coco(PERSON)
    assert len(gt["images"]) == 1 and gt["annotations"] == [] and dt == []
    assert acc.result()["Keypoints_Precision/mAP ByCategory/person"] == -1.0


def test_detections_without_the_class_columns_are_refused():
    acc = KeypointAccumulator([PERSON])
    with pytest.raises(ValueError, match="carry 3 keypoints each, but class 'person'.s keypoint ids go up to 5"):
        acc.add_image(10, 10, GroundTruth(np.zeros((0, 4)), []), np.zeros((0, K_DATA, 2)), np.zeros((0, K_DATA)),
                      Detections(np.zeros((1, 4)), [1.0], [0.5]), np.zeros((1, 3, 2)), np.zeros((1, 3)))


LABEL_MAP = parse_label_map_text(
    'item { id: 1 name: "person" display_name: "Person" keypoints { id: 5 label: "foot" } '
    'keypoints { id: 0 label: "nose" } keypoints { id: 2 label: "eye" } }\n'
    'item { id: 2 name: "cat" }\n'
    'item { id: 3 name: "coco_person" ' + " ".join(f'keypoints {{ id: {i} label: "k{i}" }}' for i in range(17))
    + " }\n", "label_map.pbtxt")


def _config(metrics: str, readers: str = "train_input_reader { num_keypoints: 6 }"):
    return text_format.Parse(f"eval_config {{ {metrics} }} {readers}", pipeline_pb2.TrainEvalPipelineConfig())


def _kp(class_label: str, sigmas: dict) -> str:
    entries = " ".join(f'keypoint_label_to_sigmas {{ key: "{k}" value: {v} }}' for k, v in sigmas.items())
    return f'parameterized_metric {{ coco_keypoint_metrics {{ class_label: "{class_label}" {entries} }} }}'


def test_setup_orders_keypoints_by_id_and_takes_their_sigmas():
    setup = keypoint_setup(_config(_kp("Person", {"foot": 0.089, "nose": 0.026, "eye": 0.025})), LABEL_MAP)
    [person] = setup.classes
    assert person == KeypointClass(1, "Person", (0, 2, 5), ("nose", "eye", "foot"),
                                   pytest.approx((0.026, 0.025, 0.089)))
    assert setup.num_keypoints == 6 and person.metric_names()[1] == "Keypoints_Precision/mAP@.50IOU ByCategory/Person"
    eval_reader = 'eval_input_reader { num_keypoints: 17 } train_input_reader { num_keypoints: 6 }'
    coco = keypoint_setup(_config(_kp("coco_person", {}), eval_reader), LABEL_MAP)
    assert coco.num_keypoints == 17 and coco.classes[0].sigmas == pytest.approx(tuple(COCO_KEYPOINT_SIGMAS))
    assert keypoint_setup(_config(""), LABEL_MAP) is None


@pytest.mark.parametrize("metrics, message", [
    (_kp("person", {"nose": 0.1, "eye": 0.1}), "keypoint_label_to_sigmas: no sigma for 'foot'"),
    (_kp("Person", {"nose": 0.1, "eye": 0.1, "foot": 0.1, "ear": 0.1}),
     "keypoint_label_to_sigmas: 'ear' are not keypoints of 'Person'"),
    (_kp("Person", {}), "keypoint_label_to_sigmas: is required for 'Person', whose 3 keypoints"),
    (_kp("Person", {"nose": 0.1, "eye": 0.0, "foot": 0.1}), "the sigma of 'eye' must be > 0"),
    (_kp("dog", {}), "class_label: 'dog' is not a class of the label map label_map.pbtxt"),
    (_kp("cat", {}), "class_label: the label map's item 'cat' (label_map.pbtxt, line 2) declares no `keypoints"),
    ("parameterized_metric { coco_keypoint_metrics { } }", "class_label: is required"),
])
def test_setup_errors_name_the_field(metrics, message):
    with pytest.raises(ProblemsError) as raised:
        keypoint_setup(_config(metrics), LABEL_MAP, "p.config")
    assert "p.config: eval_config.parameterized_metric[0].coco_keypoint_metrics." in str(raised.value)
    assert message in str(raised.value)


def test_setup_refuses_keypoint_ids_the_records_lack():
    with pytest.raises(ProblemsError, match="go up to 5, but the records carry 4 keypoints per object"):
        keypoint_setup(_config(_kp("Person", {"nose": 1, "eye": 1, "foot": 1}),
                               "train_input_reader { num_keypoints: 4 }"), LABEL_MAP)


def test_keypoint_metric_names_are_blessing_metrics():
    name = "Keypoints_Precision/mAP@.50IOU ByCategory/person"
    assert is_keypoint_metric(name) and not is_keypoint_metric("Keypoints_Precision/mAP@.50IOU")
    check_metric_name(name)
    with pytest.raises(ValueError, match="keypoint metric <stat> ByCategory/<class_label>"):
        check_metric_name("Keypoints_Precision/mAP@.5 ByCategory/person")
    candidate, baseline = {name: 0.50}, {name: 0.62}
    judged = blessing.judge(blessing.Scores(candidate, baseline), 0.3, 0.1, name)
    assert not judged.blessed and f"candidate {name} 0.5000 < baseline 0.6200 - max_regression" in judged.message
    assert blessing.judge(blessing.Scores(candidate, {name: 0.55}), 0.3, 0.1, name).blessed
    undefined = blessing.judge(blessing.Scores(candidate, {}), 0.3, 0.1, name)
    assert undefined.blessed and "baseline " + name + " is undefined" in undefined.message


def test_a_keypoint_blessing_metric_is_refused_for_a_model_without_keypoints():
    name = "Keypoints_Precision/mAP ByCategory/person"
    setup = keypoint_setup(_config(_kp("person", {"nose": 1, "eye": 1, "foot": 1})), LABEL_MAP, "p.config")
    with pytest.raises(ValueError, match="is a keypoint metric, but the model m has no keypoint metrics: its "
                                         "pipeline.config asks for none"):
        check_blessing_metric(name, None, True, "m")
    with pytest.raises(ValueError, match="is a keypoint metric, but the model m gives no keypoints"):
        check_blessing_metric(name, setup, False, "m")
    with pytest.raises(ValueError, match="asks for those of 'person'"):
        check_blessing_metric(name.replace("person", "cat"), setup, True, "m")
    check_blessing_metric(name, setup, True, "m")
    check_blessing_metric("DetectionBoxes_Precision/mAP", None, False, "m")


def test_report_lines_show_the_keypoint_metrics():
    metrics = {"DetectionBoxes_Precision/mAP": 0.5, "Keypoints_Precision/mAP@.50IOU ByCategory/person": 0.25,
               "Keypoints_Precision/mAP ByCategory/person": 0.125}
    lines = metric_lines(metrics, {"person": 0.5})
    assert lines[0].startswith("DetectionBoxes_Precision/mAP ") and lines[0].endswith("0.5000")
    assert "DetectionBoxes_PerformanceByCategory/mAP/person" in lines[1]
    assert lines[2].split() == ["Keypoints_Precision/mAP", "ByCategory/person", "0.1250", "(AP,", "OKS", ".50:.95,",
                                "maxDets", "20)"]
    assert lines[3].startswith("Keypoints_Precision/mAP@.50IOU ByCategory/person") and lines[3].endswith(
        "0.2500  (AP at OKS .50)")
