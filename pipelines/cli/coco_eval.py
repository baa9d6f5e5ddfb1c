"""`detflow coco-eval`: COCO metrics of a detections file against a ground-truth file.

Imports no TensorFlow (the library module it calls has none either).
"""

from __future__ import annotations

import json

from schemas.problems import Problem, ProblemsError


def _load_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise ProblemsError([Problem(path, f"cannot read: {e.strerror or e}")]) from None
    except json.JSONDecodeError as e:
        raise ProblemsError([Problem(path, f"not valid JSON: {e.msg}", e.lineno, e.colno)]) from None
    except UnicodeDecodeError:
        raise ProblemsError([Problem(path, "not UTF-8 text")]) from None


def format_table(result) -> str:
    """The metrics and per-category APs as an aligned text table."""
    rows = [(name, value) for name, value in result.metrics.items()]
    from components.evaluator.coco_metrics import PER_CATEGORY_PREFIX

    rows += [(PER_CATEGORY_PREFIX + name, value) for name, value in result.per_category.items()]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:8.4f}" for name, value in rows)


def coco_eval(args) -> int:
    """Handler of `detflow coco-eval --gt GT.json --dt DT.json [--iou-type keypoints] [--json]`; the exit code."""
    from components.evaluator.coco_metrics import evaluate

    gt = _load_json(args.gt)
    dt = _load_json(args.dt)
    if getattr(args, "iou_type", "bbox") == "keypoints":
        return _keypoints(args, gt, dt)
    result = evaluate(gt, dt, gt_file=args.gt, dt_file=args.dt)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_table(result))
    return 0


def _keypoints(args, gt, dt) -> int:
    """`--iou-type keypoints`: the 10 OKS numbers per category (each with what pycocotools computes)."""
    from components.evaluator import coco_keypoints

    sigmas = None
    if args.sigmas:
        try:
            sigmas = [float(s) for s in args.sigmas.split(",")]
        except ValueError:
            raise ProblemsError([Problem("--sigmas", f"{args.sigmas!r}: expected numbers, comma-separated")]) \
                from None
    result = coco_keypoints.evaluate(gt, dt, sigmas, gt_file=args.gt, dt_file=args.dt)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    meaning = dict(coco_keypoints.KEYPOINT_STATS)
    width = max(len(name) for name in result.metrics)
    for name, value in result.metrics.items():
        print(f"{name:<{width}}  {value:8.4f}   {meaning[name.split(' ByCategory/')[0]]}")
    return 0
