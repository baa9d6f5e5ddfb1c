"""Validation of COCO ground truth (instances) and detection results.

Every problem names its file and the JSON path of the field (e.g.
`annotations[3].bbox`), so a user can find it; JSON carries no line numbers
once parsed, so `line` stays 0.
"""

from __future__ import annotations

import math
import numbers

from schemas.problems import Problem

MAX_PROBLEMS = 50


def is_number(value) -> bool:
    """A JSON number (int or float, numpy reals too), not a bool."""
    kind = type(value)
    if kind is float or kind is int:
        return True
    return kind is not bool and isinstance(value, numbers.Real)


def _is_int(value) -> bool:
    kind = type(value)
    if kind is int:
        return True
    return kind is not bool and isinstance(value, numbers.Integral)


class _Collector:
    """Collects problems for one file, stopping after MAX_PROBLEMS."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.file, message))
        else:
            self.dropped += 1

    def finish(self) -> list[Problem]:
        if self.dropped:
            self.problems.append(Problem(self.file, f"... and {self.dropped} more problems"))
        return self.problems


def _check_bbox(out: _Collector, where: str, bbox) -> bool:
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(is_number(v) for v in bbox):
        out.add(f"{where}.bbox: expected 4 numbers [x, y, width, height], got {bbox!r:.80}")
        return False
    if not all(math.isfinite(v) for v in bbox):
        out.add(f"{where}.bbox: values must be finite, got {list(bbox)!r}")
        return False
    if bbox[2] < 0 or bbox[3] < 0:
        out.add(f"{where}.bbox: width and height must be >= 0, got {list(bbox)!r}")
        return False
    return True


def validate_gt(gt, file: str = "<ground truth>") -> list[Problem]:
    """Problems in a COCO instances dict: structure, ids, bbox, area, iscrowd."""
    out = _Collector(file)
    if not isinstance(gt, dict):
        out.add(f"expected a JSON object with images, annotations, categories; got {type(gt).__name__}")
        return out.finish()
    for key in ("images", "annotations", "categories"):
        if key not in gt:
            out.add(f"missing key '{key}'")
        elif not isinstance(gt[key], list):
            out.add(f"'{key}' must be a list, got {type(gt[key]).__name__}")
    if out.problems:
        return out.finish()
    image_ids = _check_ids(out, gt["images"], "images")
    category_ids = _check_ids(out, gt["categories"], "categories")
    for i, cat in enumerate(gt["categories"]):
        if isinstance(cat, dict) and not isinstance(cat.get("name"), str):
            out.add(f"categories[{i}].name: missing or not a string")
    for i, img in enumerate(gt["images"]):
        for key in ("height", "width"):
            if isinstance(img, dict) and key in img and not is_number(img[key]):
                out.add(f"images[{i}].{key}: expected a number, got {img[key]!r:.40}")
    _check_ids(out, gt["annotations"], "annotations")
    for i, ann in enumerate(gt["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            continue
        _check_refs(out, where, ann, image_ids, category_ids, "ground truth")
        if "bbox" not in ann:
            out.add(f"{where}: missing key 'bbox'")
        else:
            _check_bbox(out, where, ann["bbox"])
        if "area" in ann and (not is_number(ann["area"]) or not math.isfinite(ann["area"]) or ann["area"] < 0):
            out.add(f"{where}.area: expected a finite number >= 0, got {ann['area']!r:.40}")
        if "iscrowd" in ann and ann["iscrowd"] not in (0, 1):
            out.add(f"{where}.iscrowd: expected 0 or 1, got {ann['iscrowd']!r:.40}")
    return out.finish()


def validate_dt(dt, image_ids, category_ids, file: str = "<detections>") -> list[Problem]:
    """Problems in a COCO results list, checked against the ground truth's ids."""
    out = _Collector(file)
    if not isinstance(dt, list):
        out.add(f"expected a JSON list of detections, got {type(dt).__name__}")
        return out.finish()
    image_ids, category_ids = set(image_ids), set(category_ids)
    for i, det in enumerate(dt):
        where = f"[{i}]"
        if not isinstance(det, dict):
            out.add(f"{where}: expected an object, got {type(det).__name__}")
            continue
        missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in det]
        if missing:
            out.add(f"{where}: missing key(s) {', '.join(repr(k) for k in missing)}")
        _check_refs(out, where, det, image_ids, category_ids, "ground truth")
        if "bbox" in det:
            _check_bbox(out, where, det["bbox"])
        if "score" in det:
            score = det["score"]
            if not is_number(score) or not math.isfinite(score):
                out.add(f"{where}.score: expected a finite number, got {score!r:.40}")
    return out.finish()


def _check_ids(out: _Collector, items: list, section: str) -> set:
    """Checks each item is an object with a unique int id; returns the ids."""
    ids = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            out.add(f"{section}[{i}]: expected an object, got {type(item).__name__}")
            continue
        if "id" not in item:
            out.add(f"{section}[{i}]: missing key 'id'")
        elif not _is_int(item["id"]):
            out.add(f"{section}[{i}].id: expected an integer, got {item['id']!r:.40}")
        elif item["id"] in ids:
            out.add(f"{section}[{i}].id: duplicate id {item['id']}")
        else:
            ids.add(item["id"])
    return ids


def _check_refs(out: _Collector, where: str, item: dict, image_ids, category_ids, against: str) -> None:
    for key, known, what in (("image_id", image_ids, "image"), ("category_id", category_ids, "category")):
        if key not in item:
            if where.startswith("annotations"):
                out.add(f"{where}: missing key '{key}'")
            continue
        value = item[key]
        if not _is_int(value):
            out.add(f"{where}.{key}: expected an integer, got {value!r:.40}")
        elif value not in known:
            out.add(f"{where}.{key}: unknown {what} id {value} (not in the {against})")
