"""Benchmark: detflow's COCO evaluation vs pycocotools on the same synthetic set.

500 images, 10 classes, 50,000 detections, in one process. Every side starts
from the same in-memory dicts and does everything a user waits for (index,
match, accumulate, summarize); detflow also validates its input. Shown:
detflow's numpy engine (`coco_fast`), the same API on faster-coco-eval, and
pycocotools' COCO + loadRes + evaluate + accumulate + summarize. Prints the
wall-time ratios and the largest absolute difference over the 12 metrics and
every per-category AP.

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
from components.evaluator.synthetic import CaseMix, synthetic_coco

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


def make_set(seed: int = 0) -> tuple[dict, list]:
    """The benchmark set: exactly NUM_DETECTIONS detections over NUM_IMAGES images."""
    gt, dt = synthetic_coco(seed, num_images=NUM_IMAGES, num_classes=NUM_CLASSES, dets_per_image=110,
                            mix=CaseMix(no_det_image_fraction=0.0))
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
    runs = {"detflow": lambda: evaluate(gt, dt),
            "faster-coco-eval": lambda: evaluate(gt, dt, engine="faster-coco-eval"),
            "pycocotools": lambda: pycocotools_evaluate(gt, dt)}
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    results = {}
    for _ in range(args.repeats):  # interleaved, so background load hits all three alike
        for name, run in runs.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            results[name] = run()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    for name in runs:
        print(f"{name:>17}: wall {min(wall[name]):.3f} s, cpu {min(cpu[name]):.3f} s  (best of {args.repeats})")
    for label, table in (("wall", wall), ("cpu", cpu)):
        base = min(table["pycocotools"])
        print(f"speed-up vs pycocotools ({label} time): detflow {base / min(table['detflow']):.1f}x, "
              f"faster-coco-eval {base / min(table['faster-coco-eval']):.1f}x")
    ours, fast, theirs = results["detflow"], results["faster-coco-eval"], results["pycocotools"]
    print(f"max |metric difference| faster-coco-eval vs pycocotools: {max_difference(fast, theirs, gt):.3g}")
    print(f"max |metric difference| detflow vs pycocotools: {max_difference(ours, theirs, gt):.3g}")
    print(f"mAP: {ours.metrics[METRIC_NAMES[0]]:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
