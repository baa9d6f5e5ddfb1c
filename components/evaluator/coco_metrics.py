"""COCO box metrics under the TF Object Detection API's names.

The numbers are pycocotools' (evaluate, accumulate, summarize) exactly:
`coco_fast` reimplements its box evaluation with numpy, operation for
operation, and tests/evaluator checks every metric, per-category AP and PR
curve against pycocotools to 1e-9 on randomised sets (they come out bitwise
equal). It runs >10x faster than pycocotools (bench/bench_coco_eval.py);
faster-coco-eval is kept as a second engine for cross-checks. This module adds
what pycocotools leaves to the caller: validation with a place for every
problem, the OD API metric names, per-category AP, and a streaming accumulator
that takes the normalised [ymin, xmin, ymax, xmax] boxes a detector emits.

No TensorFlow here: `detflow coco-eval` must run without it.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

from components.evaluator import coco_fast
from components.evaluator.coco_validate import validate_dt, validate_gt
from schemas.problems import ProblemsError

# Index i of COCOeval.stats is METRIC_NAMES[i] (pycocotools' summarize order).
METRIC_NAMES = (
    "DetectionBoxes_Precision/mAP",
    "DetectionBoxes_Precision/mAP@.50IOU",
    "DetectionBoxes_Precision/mAP@.75IOU",
    "DetectionBoxes_Precision/mAP (small)",
    "DetectionBoxes_Precision/mAP (medium)",
    "DetectionBoxes_Precision/mAP (large)",
    "DetectionBoxes_Recall/AR@1",
    "DetectionBoxes_Recall/AR@10",
    "DetectionBoxes_Recall/AR@100",
    "DetectionBoxes_Recall/AR@100 (small)",
    "DetectionBoxes_Recall/AR@100 (medium)",
    "DetectionBoxes_Recall/AR@100 (large)",
)
PER_CATEGORY_PREFIX = "DetectionBoxes_PerformanceByCategory/mAP/"
HEADLINE_METRIC = METRIC_NAMES[0]


def check_metric_name(metric: str) -> None:
    """Raises ValueError unless `metric` is one of the 12 COCO metrics, a per-category AP or a keypoint metric
    (`<keypoint stat> ByCategory/<class>`, see `keypoint_metrics`)."""
    from components.evaluator.coco_keypoints import BY_CATEGORY, STAT_NAMES, is_keypoint_metric

    if metric not in METRIC_NAMES and not metric.startswith(PER_CATEGORY_PREFIX) and not is_keypoint_metric(metric):
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRIC_NAMES)}, "
                         f"{PER_CATEGORY_PREFIX}<class name> or a keypoint metric <stat>{BY_CATEGORY}<class_label> "
                         f"(stats: {', '.join(STAT_NAMES)})")


@dataclasses.dataclass
class CocoResult:
    """The outcome of one COCO evaluation.

    metrics: the 12 COCO numbers by OD API name (-1 where no ground truth falls
      in that area range, as pycocotools reports it), then, when keypoints were
      collected (`CocoAccumulator.keypoints`), each keypoint class's 10 numbers
      (`keypoint_metrics`: `Keypoints_Precision/mAP ByCategory/<class>` ...).
    per_category: AP@[.5:.95] (area all, 100 detections) by category name.
    precision: by category name, interpolated precision at IoU 0.5 over
      `recall_points` (-1 where the category has no ground truth).
    recall_points: the 101 recall thresholds 0, 0.01, ..., 1.
    ap50_by_category: AP@.5 by category name (the area under `precision`).
    """

    metrics: dict[str, float]
    per_category: dict[str, float]
    precision: dict[str, np.ndarray]
    recall_points: np.ndarray
    ap50_by_category: dict[str, float]

    def to_json(self) -> dict:
        """The JSON form `detflow coco-eval --json` prints."""
        return {"metrics": dict(self.metrics), "per_category": dict(self.per_category)}


def evaluate(gt: dict, dt: list, gt_file: str = "<ground truth>", dt_file: str = "<detections>",
             validate: bool = True, engine: str = "numpy") -> CocoResult:
    """COCO box metrics of detections `dt` (results list) against `gt` (instances dict).

    Follows pycocotools exactly: `iscrowd` boxes are ignored regions, the
    ground truth's stored `area` decides its area range (w*h where absent), a
    detection's area is its w*h, at most 100 detections per image and category
    count. Neither input is modified. Raises ProblemsError (file + field) for
    malformed input when `validate` is true. `engine` "numpy" (default,
    `coco_fast`) or "faster-coco-eval" give the same numbers.
    """
    if validate:
        problems = validate_gt(gt, gt_file)
        if problems:
            raise ProblemsError(problems)
    names_by_id = {c["id"]: c["name"] for c in gt["categories"]}
    if engine == "faster-coco-eval":
        return _evaluate_faster_coco_eval(gt, dt, dt_file, validate, names_by_id)
    if engine != "numpy":
        raise ValueError(f"unknown engine {engine!r}")
    image_ids = np.array(sorted(i["id"] for i in gt["images"]), dtype=np.int64)
    category_ids = np.array(sorted(names_by_id), dtype=np.int64)
    anns = gt["annotations"]
    gt_box = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    gt_area = np.asarray([a["area"] if "area" in a else float(a["bbox"][2]) * float(a["bbox"][3])
                          for a in anns], dtype=np.float64)
    gt_cols = coco_fast.Boxes(
        image=np.searchsorted(image_ids, np.asarray([a["image_id"] for a in anns], dtype=np.int64)),
        category=np.searchsorted(category_ids, np.asarray([a["category_id"] for a in anns], dtype=np.int64)),
        box=gt_box, area=gt_area, score=np.zeros(len(anns)),
        crowd=np.asarray([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool).reshape(-1),
        ident=np.asarray([a["id"] for a in anns], dtype=np.int64))
    columns = _dt_columns(dt, gt, dt_file) if validate else None
    if columns is None:
        columns = _dt_columns_unchecked(dt)
    image_col, category_col, dt_box, dt_score = columns
    dt_cols = coco_fast.Boxes(
        image=np.searchsorted(image_ids, image_col), category=np.searchsorted(category_ids, category_col),
        box=dt_box, area=dt_box[:, 2] * dt_box[:, 3], score=dt_score,
        crowd=np.zeros(len(dt_score), dtype=bool), ident=np.zeros(len(dt_score), dtype=np.int64))
    precision, recall = coco_fast.evaluate(len(image_ids), len(category_ids), gt_cols, dt_cols)
    stats = coco_fast.summarize(precision, recall)
    return _result(stats, precision, category_ids.tolist(), coco_fast.REC_THRS, names_by_id)


def _evaluate_faster_coco_eval(gt: dict, dt: list, dt_file: str, validate: bool,
                               names_by_id: Mapping[int, str]) -> CocoResult:
    """The same evaluation through faster-coco-eval (a cross-check of the numpy engine)."""
    from faster_coco_eval import COCO, COCOeval_faster

    annotations = []
    for ann in gt["annotations"]:
        ann = dict(ann)
        if "area" not in ann:
            ann["area"] = float(ann["bbox"][2]) * float(ann["bbox"][3])
        ann.setdefault("iscrowd", 0)
        annotations.append(ann)
    images = [dict(i) for i in gt["images"]]
    categories = [dict(c) for c in gt["categories"]]
    if validate:
        _dt_columns(dt, gt, dt_file)  # raises ProblemsError on malformed results
    image_col, category_col, boxes, scores = _dt_columns_unchecked(dt)
    # What COCO.loadRes does for boxes: area = w*h, iscrowd 0, ids from 1.
    results = [{"id": i, "image_id": int(img), "category_id": int(cat), "bbox": box, "score": float(score),
                "area": box[2] * box[3], "iscrowd": 0}
               for i, (img, cat, box, score) in enumerate(zip(image_col, category_col, boxes.tolist(), scores),
                                                          start=1)]
    quiet = lambda *args, **kwargs: None  # noqa: E731
    coco_gt = COCO({"images": images, "annotations": annotations, "categories": categories},
                   print_function=quiet)
    coco_dt = COCO({"images": images, "annotations": results, "categories": categories},
                   print_function=quiet)
    coco_eval = COCOeval_faster(coco_gt, coco_dt, iouType="bbox", print_function=quiet)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return _result(coco_eval.stats, np.asarray(coco_eval.eval["precision"]), list(coco_eval.params.catIds),
                   np.asarray(coco_eval.params.recThrs, dtype=float), names_by_id)


_NUMBER_SET = {float, int}


def _dt_columns(dt, gt: dict, dt_file: str):
    """(image ids, category ids, boxes [n,4], scores) of a results list, checked.

    A fast column-wise screen; on any doubt the full validator runs and raises
    ProblemsError with every problem's place. Returns None when the input is
    valid but uses unusual number types (numpy scalars), to be converted.
    """
    if not isinstance(dt, list):
        raise ProblemsError(validate_dt(dt, (), (), dt_file))
    image_ids = {i["id"] for i in gt["images"]}
    category_ids = {c["id"] for c in gt["categories"]}
    columns = _screened_columns(dt, image_ids, category_ids)
    if columns is None:
        problems = validate_dt(dt, image_ids, category_ids, dt_file)
        if problems:
            raise ProblemsError(problems)
    return columns


def _screened_columns(dt: list, image_ids: set, category_ids: set):
    """Columns of well-formed results using C-speed set/map checks; None if anything looks off."""
    try:
        image_col = list(map(operator.itemgetter("image_id"), dt))
        category_col = list(map(operator.itemgetter("category_id"), dt))
        score_col = list(map(operator.itemgetter("score"), dt))
        bbox_col = list(map(operator.itemgetter("bbox"), dt))
    except (KeyError, TypeError, IndexError):
        return None
    if not (set(map(type, image_col)) <= {int} and set(image_col) <= image_ids
            and set(map(type, category_col)) <= {int} and set(category_col) <= category_ids
            and set(map(type, score_col)) <= _NUMBER_SET and set(map(type, bbox_col)) <= {list, tuple}
            and set(map(len, bbox_col)) <= {4}):
        return None
    flat = list(itertools.chain.from_iterable(bbox_col))
    if not set(map(type, flat)) <= _NUMBER_SET:
        return None
    boxes = np.asarray(flat, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(score_col, dtype=np.float64)
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all() and (boxes[:, 2:] >= 0).all()):
        return None
    return np.asarray(image_col, dtype=np.int64), np.asarray(category_col, dtype=np.int64), boxes, scores


def _dt_columns_unchecked(dt: list):
    return (np.asarray([int(d["image_id"]) for d in dt], dtype=np.int64),
            np.asarray([int(d["category_id"]) for d in dt], dtype=np.int64),
            np.asarray([[float(v) for v in d["bbox"]] for d in dt], dtype=np.float64).reshape(-1, 4),
            np.asarray([float(d["score"]) for d in dt], dtype=np.float64))


def _result(stats, precision: np.ndarray, cat_ids: list, recall_points: np.ndarray,
            names_by_id: Mapping[int, str]) -> CocoResult:
    """CocoResult from summarize()'s stats and the [T,R,K,A,M] precision array."""
    metrics = dict(zip(METRIC_NAMES, (float(x) for x in stats[:len(METRIC_NAMES)])))
    per_category, pr, ap50 = {}, {}, {}
    for k, cat_id in enumerate(cat_ids):
        name = names_by_id[cat_id]
        per_category[name] = mean_valid(precision[:, :, k, 0, -1])
        pr[name] = precision[0, :, k, 0, -1].copy()
        ap50[name] = mean_valid(precision[0, :, k, 0, -1])
    return CocoResult(metrics, per_category, pr, np.asarray(recall_points, dtype=float), ap50)


def mean_valid(values: np.ndarray) -> float:
    """Mean of the entries > -1, or -1 if there are none (pycocotools' rule)."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """One image's ground truth as a decoded tf.Example holds it: normalised yxyx boxes [n, 4], class ids,
    and optionally crowd flags and stored areas (empty or None: see `CocoAccumulator.add_image`)."""

    boxes: ArrayLike
    classes: ArrayLike
    is_crowd: Optional[ArrayLike] = None
    area: Optional[ArrayLike] = None


@dataclasses.dataclass(frozen=True)
class Detections:
    """A detector's output for one image: normalised yxyx boxes [m, 4], class ids (floats allowed), scores."""

    boxes: ArrayLike = ()
    classes: ArrayLike = ()
    scores: ArrayLike = ()


@dataclasses.dataclass
class ImageRecord:
    """One image's boxes as the accumulator keeps them (normalised yxyx)."""

    key: object
    height: int
    width: int
    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    gt_is_crowd: np.ndarray
    gt_area: np.ndarray
    det_boxes: np.ndarray
    det_classes: np.ndarray
    det_scores: np.ndarray


class CocoAccumulator:
    """Collects a detector's outputs image by image, then computes COCO metrics.

    `categories` is a list of {"id", "name"} dicts or a {id: name} mapping
    (label-map ids, 1-based, gaps allowed). Boxes are given as the OD API emits
    them: normalised [ymin, xmin, ymax, xmax]; they become absolute COCO [x, y, w, h].
    Detections of a class id the label map lacks (a gap in its ids: the class
    head has a column for every id up to the highest) are left out, as the OD
    API's COCO evaluator does, and counted in `dropped_detections`.
    """

    def __init__(self, categories: Sequence[Mapping] | Mapping[int, str]):
        if isinstance(categories, Mapping):
            categories = [{"id": int(k), "name": str(v)} for k, v in categories.items()]
        self.categories = [{"id": int(c["id"]), "name": str(c["name"])} for c in categories]
        self._category_ids = {c["id"] for c in self.categories}
        self.images: list[ImageRecord] = []
        self.dropped_detections = 0
        self.keypoints = None       # a keypoint_metrics.KeypointAccumulator fed alongside, when keypoints count

    def add_image(self, image_id, height: int, width: int, gt: GroundTruth,
                  detections: Detections = Detections()) -> None:
        """Adds one image: its ground truth and the detections for it.

        `gt.is_crowd` defaults to 0 and `gt.area` to the box's pixel area
        (entries <= 0 also fall back to it, as a tf.Example without stored
        areas decodes to zeros). Raises ValueError on a ground-truth class id
        outside the categories — a label map that does not match the data;
        detections of such ids are left out (see the class doc).
        """
        gt_boxes = _boxes(gt.boxes)
        n = len(gt_boxes)
        det_boxes = _boxes(detections.boxes)
        det_classes = (np.rint(np.asarray(detections.classes, dtype=np.float64)).astype(np.int64)
                       .reshape(len(det_boxes)))
        det_scores = np.asarray(detections.scores, dtype=np.float64).reshape(len(det_boxes))
        known = np.isin(det_classes, np.fromiter(self._category_ids, np.int64))
        record = ImageRecord(
            key=image_id, height=int(height), width=int(width),
            gt_boxes=gt_boxes, gt_classes=np.asarray(gt.classes, dtype=np.int64).reshape(n),
            gt_is_crowd=(np.zeros(n, np.int64) if gt.is_crowd is None or len(gt.is_crowd) == 0
                         else np.asarray(gt.is_crowd, dtype=np.int64).reshape(n)),
            gt_area=(np.zeros(n) if gt.area is None or len(gt.area) == 0
                     else np.asarray(gt.area, dtype=np.float64).reshape(n)),
            det_boxes=det_boxes[known], det_classes=det_classes[known], det_scores=det_scores[known],
        )
        unknown = set(record.gt_classes.tolist()) - self._category_ids
        if unknown:
            raise ValueError(f"image {image_id!r}: ground-truth class id(s) {sorted(unknown)} are not in the "
                             f"label map (ids {sorted(self._category_ids)})")
        self.dropped_detections += int(np.count_nonzero(~known))
        self.images.append(record)

    def to_coco(self) -> tuple[dict, list]:
        """The collected images as (gt instances dict, detection results list)."""
        images, annotations, results = [], [], []
        for index, rec in enumerate(self.images, start=1):
            images.append({"id": index, "height": rec.height, "width": rec.width, "file_name": str(rec.key)})
            for box, cls, crowd, area in zip(_to_xywh(rec.gt_boxes, rec.height, rec.width),
                                             rec.gt_classes, rec.gt_is_crowd, rec.gt_area):
                annotations.append({
                    "id": len(annotations) + 1, "image_id": index, "category_id": int(cls), "bbox": box,
                    "area": float(area) if area > 0 else box[2] * box[3], "iscrowd": int(crowd),
                })
            for box, cls, score in zip(_to_xywh(rec.det_boxes, rec.height, rec.width),
                                       rec.det_classes, rec.det_scores):
                results.append({"image_id": index, "category_id": int(cls), "bbox": box, "score": float(score)})
        return {"images": images, "annotations": annotations, "categories": list(self.categories)}, results

    def result(self) -> CocoResult:
        """COCO metrics over every image added so far (with the keypoint metrics of `keypoints`, if set)."""
        gt, dt = self.to_coco()
        result = evaluate(gt, dt, validate=False)
        if self.keypoints is not None:
            result.metrics.update(self.keypoints.result())
        return result


def _boxes(boxes) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _to_xywh(boxes_yxyx: np.ndarray, height: int, width: int) -> Iterable[list[float]]:
    """Normalised [ymin, xmin, ymax, xmax] -> absolute [x, y, w, h], w/h >= 0."""
    ymin, xmin, ymax, xmax = (boxes_yxyx[:, i] for i in range(4))
    x, y = xmin * width, ymin * height
    w = np.maximum(xmax * width - x, 0.0)
    h = np.maximum(ymax * height - y, 0.0)
    return np.stack([x, y, w, h], axis=1).tolist()
