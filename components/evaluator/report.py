"""The pictures of an evaluation (PR curves, confusion matrix, eval images with boxes) and its summary.txt."""

from __future__ import annotations

import os
import re
from typing import Mapping, Sequence

import numpy as np

from components.evaluator.coco_keypoints import KEYPOINT_STATS
from components.evaluator.coco_metrics import METRIC_NAMES, PER_CATEGORY_PREFIX, CocoAccumulator, CocoResult
from components.evaluator.keypoint_metrics import metrics_by_class

SUMMARY_FILE = "summary.txt"
PR_CURVES_FILE = "pr_curves.png"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"
EXAMPLES_DIR = "examples"


def write_plots(out_dir: str, result: CocoResult, accumulator: CocoAccumulator,
                categories: Mapping[int, str], drawn: Sequence) -> list[str]:
    """Writes pr_curves.png, confusion_matrix.png and examples/*.png under `out_dir`; returns the paths."""
    from detection import visualize

    os.makedirs(os.path.join(out_dir, EXAMPLES_DIR), exist_ok=True)
    paths = [os.path.join(out_dir, PR_CURVES_FILE), os.path.join(out_dir, CONFUSION_MATRIX_FILE)]
    visualize.plot_pr_curves(result.precision, result.recall_points, result.ap50_by_category, paths[0],
                             title="Precision-recall at IoU 0.5")
    ids = sorted(categories)
    # The confusion matrix indexes classes 1..C; label-map ids may be sparse.
    index = {cat_id: i for i, cat_id in enumerate(ids, start=1)}
    images = accumulator.images
    matrix = visualize.confusion_matrix(
        [r.gt_boxes for r in images], [[index[c] for c in r.gt_classes] for r in images],
        [r.det_boxes for r in images], [[index[c] for c in r.det_classes] for r in images],
        [r.det_scores for r in images], num_classes=len(ids), iou_threshold=0.5, score_threshold=0.5)
    visualize.plot_confusion_matrix(matrix, [categories[i] for i in ids], paths[1],
                                    title="Confusion matrix (IoU 0.5, score >= 0.5)")
    for n, image in enumerate(drawn):
        picture = visualize.draw_detections(
            image.image, image.detections["detection_boxes"], image.detections["detection_classes"],
            image.detections["detection_scores"], dict(categories), min_score=0.3,
            gt_boxes=image.gt_boxes, gt_classes=np.asarray(image.gt_classes))
        path = os.path.join(out_dir, EXAMPLES_DIR, f"{n:03d}_{_safe_name(image.key)}.png")
        picture.save(path)
        paths.append(path)
    return paths


def metric_lines(metrics: Mapping[str, float], per_category: Mapping[str, float]) -> list[str]:
    """The box metrics, the per-category APs and each keypoint class's metrics (with what pycocotools computes
    for each: `coco_keypoints.KEYPOINT_STATS`) as aligned text lines."""
    meaning = dict(KEYPOINT_STATS)
    rows = [(name, metrics[name], "") for name in METRIC_NAMES if name in metrics]
    rows += [(PER_CATEGORY_PREFIX + name, value, "") for name, value in sorted(per_category.items())]
    for label, stats in metrics_by_class(metrics).items():
        rows += [(f"{stat} ByCategory/{label}", value, meaning[stat]) for stat, value in stats.items()]
    width = max((len(name) for name, _, _ in rows), default=0)
    return [f"{name:<{width}}  {value:8.4f}" + (f"  ({note})" if note else "") for name, value, note in rows]


def write_summary(out_dir: str, document: Mapping) -> str:
    """Writes summary.txt under `out_dir`: the judged metric and verdict, then the candidate's `metric_lines`."""
    judgement = document.get("judgement") or {}
    verdict = "BLESSED" if judgement.get("blessed") else "NOT BLESSED"
    lines = [f"{verdict} on {document['metric']}: " + "; ".join(judgement.get("reasons") or []), "",
             f"Candidate on {document['num_images']} images of split {document['eval_split']!r}:",
             *metric_lines(document["metrics"], document["per_category"])]
    path = os.path.join(out_dir, SUMMARY_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "image"
