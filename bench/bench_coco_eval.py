"""Benchmark: detflow's COCO evaluation vs pycocotools on the same synthetic set.

500 images, 10 classes, about 50,000 detections, in one process. Both sides
start from the same in-memory dicts and do everything a user waits for
(load, match, accumulate, summarize); ours also validates its input. Prints
the wall-time ratio and the largest absolute difference over the 12 metrics
and every per-category AP.

    .venv/bin/python -m bench.bench_coco_eval [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import time

import numpy as np

from components.evaluator.coco_metrics import METRIC_NAMES, evaluate, mean_valid
from components.evaluator.synthetic import synthetic_coco

NUM_IMAGES, NUM_CLASSES, NUM_DETECTIONS = 500, 10, 50_000


def pycocotools_evaluate(gt: dict, dt: list):
    """pycocotools' evaluate+accumulate+summarize; returns its COCOeval."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([dict(d) for d in dt])
        coco_eval = COCOeval(coco_gt, coco_dt, "bbox")
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval


def phase_times(gt: dict, dt: list) -> tuple[float, float]:
    """Seconds of the evaluate+accumulate+summarize calls alone (objects already
    loaded), for faster-coco-eval and for pycocotools."""
    from faster_coco_eval import COCO as FastCOCO, COCOeval_faster
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = lambda *a, **k: None  # noqa: E731
    fast_gt = FastCOCO(copy.deepcopy(gt), print_function=quiet)
    fast_eval = COCOeval_faster(fast_gt, fast_gt.loadRes([dict(d) for d in dt]), iouType="bbox",
                                print_function=quiet)
    start = time.perf_counter()
    fast_eval.evaluate()
    fast_eval.accumulate()
    fast_eval.summarize()
    fast_s = time.perf_counter() - start
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes([dict(d) for d in dt]), "bbox")
        start = time.perf_counter()
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
        slow_s = time.perf_counter() - start
    return fast_s, slow_s


def make_set(seed: int = 0) -> tuple[dict, list]:
    """The benchmark set: exactly NUM_DETECTIONS detections over NUM_IMAGES images."""
    gt, dt = synthetic_coco(seed, num_images=NUM_IMAGES, num_classes=NUM_CLASSES, dets_per_image=110,
                            no_det_image_fraction=0.0)
    if len(dt) < NUM_DETECTIONS:
        raise RuntimeError(f"synthetic set too small: {len(dt)} detections")
    return gt, dt[:NUM_DETECTIONS]


def max_difference(ours, theirs, gt: dict) -> float:
    """Largest |ours - pycocotools| over the 12 metrics and per-category APs."""
    diffs = [abs(ours.metrics[name] - float(theirs.stats[i])) for i, name in enumerate(METRIC_NAMES)]
    names = {c["id"]: c["name"] for c in gt["categories"]}
    precision = np.asarray(theirs.eval["precision"])
    for k, cat_id in enumerate(theirs.params.catIds):
        diffs.append(abs(ours.per_category[names[cat_id]] - mean_valid(precision[:, :, k, 0, -1])))
    return max(diffs)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints timings, ratio and max metric difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each side")
    args = parser.parse_args(argv)
    gt, dt = make_set()
    print(f"set: {len(gt['images'])} images, {len(gt['categories'])} classes, "
          f"{len(gt['annotations'])} ground-truth boxes, {len(dt)} detections")
    ours_times, theirs_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = evaluate(gt, dt)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = pycocotools_evaluate(gt, dt)
        theirs_times.append(time.perf_counter() - start)
    ours_s, theirs_s = min(ours_times), min(theirs_times)
    print(f"detflow (faster-coco-eval): {ours_s:.3f} s   pycocotools: {theirs_s:.3f} s   "
          f"(best of {args.repeats})")
    print(f"speed-up, end to end from dicts (ours validates too): {theirs_s / ours_s:.1f}x")
    phases = [phase_times(gt, dt) for _ in range(args.repeats)]
    fast_s, slow_s = min(p[0] for p in phases), min(p[1] for p in phases)
    print(f"evaluate+accumulate+summarize only: faster-coco-eval {fast_s:.3f} s   pycocotools {slow_s:.3f} s"
          f"   speed-up {slow_s / fast_s:.1f}x")
    print(f"max |metric difference|: {max_difference(ours, theirs, gt):.3g}")
    print(f"mAP: {ours.metrics[METRIC_NAMES[0]]:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
