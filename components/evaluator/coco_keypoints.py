"""COCO keypoint AP (OKS) under the OD API's names, equal to pycocotools' `COCOeval(iouType="keypoints")`.

The matching and accumulation are `coco_fast`'s (pycocotools' algorithm, vectorised) with OKS as the
similarity (`coco_fast.oks`) and pycocotools' keypoint parameters: at most 20 detections per image and
category, the area ranges all / medium / large, a ground truth ignored when crowd or when its
`num_keypoints` is 0, the ground truth's `area` for its range and its OKS scale, a detection's area the
extent of its keypoints (what `COCO.loadRes` computes). The sigmas are COCO's 17 person-keypoint sigmas
unless given (one per keypoint, as the config's keypoint_label_to_std sets them).

The 10 numbers are named as the OD API's `CocoKeypointEvaluator` names them, per category:
`Keypoints_Precision/mAP ByCategory/person` ... `Keypoints_Recall/AR@100 (large) ByCategory/person`.
Its names keep the box metrics' AR@1/@10/@100 for what pycocotools computes as AR at 20 detections over
OKS .5:.95, at .5 and at .75 (`KEYPOINT_STATS` says which is which).

No TensorFlow here: `detflow coco-eval --iou-type keypoints` must run without it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from components.evaluator import coco_fast
from components.evaluator.coco_validate import is_number
from schemas.problems import Problem, ProblemsError

# (OD API name, what pycocotools' _summarizeKps computes), in stats order.
KEYPOINT_STATS = (
    ("Keypoints_Precision/mAP", "AP, OKS .50:.95, maxDets 20"),
    ("Keypoints_Precision/mAP@.50IOU", "AP at OKS .50"),
    ("Keypoints_Precision/mAP@.75IOU", "AP at OKS .75"),
    ("Keypoints_Precision/mAP (medium)", "AP, medium objects"),
    ("Keypoints_Precision/mAP (large)", "AP, large objects"),
    ("Keypoints_Recall/AR@1", "AR, OKS .50:.95, maxDets 20"),
    ("Keypoints_Recall/AR@10", "AR at OKS .50"),
    ("Keypoints_Recall/AR@100", "AR at OKS .75"),
    ("Keypoints_Recall/AR@100 (medium)", "AR, medium objects"),
    ("Keypoints_Recall/AR@100 (large)", "AR, large objects"),
)


BY_CATEGORY = " ByCategory/"
STAT_NAMES = tuple(name for name, _ in KEYPOINT_STATS)


def is_keypoint_metric(name: str) -> bool:
    """True for a name of the form `<keypoint stat> ByCategory/<class>` (the metrics `evaluate` names)."""
    stat, found, label = name.partition(BY_CATEGORY)
    return bool(found) and bool(label) and stat in STAT_NAMES


@dataclasses.dataclass(frozen=True)
class KeypointResult:
    """The 10 keypoint numbers per category (-1 where no ground truth counts), and pycocotools' stats."""

    metrics: dict           # "<OD API name> ByCategory/<category>" -> value
    stats: np.ndarray       # [10] over every category, in KEYPOINT_STATS order

    def to_json(self) -> dict:
        """The JSON form `detflow coco-eval --iou-type keypoints --json` prints."""
        return {"metrics": dict(self.metrics), "stats": [float(s) for s in self.stats]}


def _number(value) -> bool:
    return is_number(value) and math.isfinite(value)


def _keypoints_problem(where: str, keypoints, k: int) -> str | None:
    if not isinstance(keypoints, list) or len(keypoints) != 3 * k:
        return f"{where}.keypoints: expected a list of {3 * k} numbers (x, y, visibility for {k} keypoints)"
    if not all(_number(v) for v in keypoints):
        return f"{where}.keypoints: every value must be a finite number"
    return None


def validate(gt: dict, dt: list, k: int, gt_file: str, dt_file: str) -> list[Problem]:
    """Problems of a keypoint ground truth and results list, each naming its file and entry."""
    problems = []
    for section in ("images", "annotations", "categories"):
        if not isinstance(gt.get(section), list):
            problems.append(Problem(gt_file, f"'{section}': expected a list"))
    if problems:
        return problems
    for i, ann in enumerate(gt["annotations"]):
        where = f"annotations[{i}]"
        wrong = _keypoints_problem(where, ann.get("keypoints"), k)
        for key in ("image_id", "category_id", "num_keypoints", "area"):
            if not _number(ann.get(key)):
                wrong = wrong or f"{where}.{key}: expected a number"
        if not (isinstance(ann.get("bbox"), list) and len(ann["bbox"]) == 4 and all(map(_number, ann["bbox"]))):
            wrong = wrong or f"{where}.bbox: expected [x, y, width, height]"
        if wrong:
            problems.append(Problem(gt_file, wrong))
    if not isinstance(dt, list):
        return problems + [Problem(dt_file, "expected a list of results")]
    images, categories = {i.get("id") for i in gt["images"]}, {c.get("id") for c in gt["categories"]}
    for i, det in enumerate(dt):
        where = f"[{i}]"
        wrong = _keypoints_problem(where, det.get("keypoints") if isinstance(det, dict) else None, k)
        if not wrong and not _number(det.get("score")):
            wrong = f"{where}.score: expected a number"
        if not wrong and det.get("image_id") not in images:
            wrong = f"{where}.image_id {det.get('image_id')!r} is not in the ground truth's images"
        if not wrong and det.get("category_id") not in categories:
            wrong = f"{where}.category_id {det.get('category_id')!r} is not in the ground truth's categories"
        if wrong:
            problems.append(Problem(dt_file, wrong))
    return problems


def evaluate(gt: dict, dt: list, sigmas: Sequence[float] | None = None, gt_file: str = "<ground truth>",
             dt_file: str = "<detections>") -> KeypointResult:
    """COCO keypoint metrics of results `dt` against `gt` (see the module doc); ProblemsError for bad input."""
    sigmas = np.asarray(coco_fast.COCO_KEYPOINT_SIGMAS if sigmas is None else sigmas, dtype=np.float64)
    k = len(sigmas)
    problems = validate(gt, dt, k, gt_file, dt_file)
    if problems:
        raise ProblemsError(problems)
    image_ids = np.array(sorted(i["id"] for i in gt["images"]), dtype=np.int64)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    category_ids = np.array(sorted(names), dtype=np.int64)
    anns = gt["annotations"]
    g_points = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, 3 * k)
    g_rows = np.concatenate([g_points[:, 0::3], g_points[:, 1::3], g_points[:, 2::3],
                             np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
                             np.asarray([a["area"] for a in anns], dtype=np.float64).reshape(-1, 1)], axis=1)
    gt_cols = coco_fast.Boxes(
        image=np.searchsorted(image_ids, np.asarray([a["image_id"] for a in anns], dtype=np.int64)),
        category=np.searchsorted(category_ids, np.asarray([a["category_id"] for a in anns], dtype=np.int64)),
        box=g_rows, area=np.asarray([a["area"] for a in anns], dtype=np.float64),
        score=np.zeros(len(anns)), crowd=np.asarray([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool),
        ident=np.asarray([a.get("id", n + 1) for n, a in enumerate(anns)], dtype=np.int64))
    d_points = np.asarray([d["keypoints"] for d in dt], dtype=np.float64).reshape(-1, 3 * k)
    xs, ys = d_points[:, 0::3], d_points[:, 1::3]
    dt_cols = coco_fast.Boxes(
        image=np.searchsorted(image_ids, np.asarray([d["image_id"] for d in dt], dtype=np.int64)),
        category=np.searchsorted(category_ids, np.asarray([d["category_id"] for d in dt], dtype=np.int64)),
        box=np.concatenate([xs, ys], axis=1),
        area=(xs.max(axis=1, initial=-np.inf) - xs.min(axis=1, initial=np.inf))
        * (ys.max(axis=1, initial=-np.inf) - ys.min(axis=1, initial=np.inf)) if len(dt) else np.zeros(0),
        score=np.asarray([d["score"] for d in dt], dtype=np.float64),
        crowd=np.zeros(len(dt), dtype=bool), ident=np.zeros(len(dt), dtype=np.int64))
    ignore = np.asarray([a["num_keypoints"] == 0 for a in anns], dtype=bool)
    precision, recall = coco_fast.evaluate(len(image_ids), len(category_ids), gt_cols, dt_cols,
                                           coco_fast.KEYPOINT_PARAMS, coco_fast.oks(sigmas), ignore)
    metrics = {}
    for index, category in enumerate(category_ids.tolist()):
        stats = coco_fast.summarize_keypoints(precision[:, :, index:index + 1], recall[:, index:index + 1])
        metrics.update({f"{name} ByCategory/{names[category]}": float(v)
                        for (name, _), v in zip(KEYPOINT_STATS, stats)})
    return KeypointResult(metrics, coco_fast.summarize_keypoints(precision, recall))
