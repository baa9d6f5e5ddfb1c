"""The conversion report: exact counts, and the first problems in full.

The same accumulator serves `detflow convert` (one process) and the Beam
ExampleGen (one per worker, merged with `merge`), and serialises to the
report.json both write.
"""

from __future__ import annotations

import collections
import json

MAX_PROBLEMS = 1000


class Report:
    """Accumulates images, boxes, skips, clipped boxes, classes per split and problems."""

    def __init__(self, max_problems: int = MAX_PROBLEMS):
        self.max_problems = max_problems
        self.images = collections.Counter()
        self.boxes = collections.Counter()
        self.skipped_images = collections.Counter()
        self.dropped_boxes = collections.Counter()
        self.reported = collections.Counter()
        self.clipped_boxes = 0
        self.classes = collections.defaultdict(collections.Counter)
        self.problems = []
        self.problem_count = 0
        self.keypoint_names: list = []     # the dataset's keypoint names, when it has keypoints

    def add_problem(self, kind: str, reason: str, file: str, detail: str) -> None:
        """Counts one problem; `kind` is "image", "box" or "note" (kept, only reported)."""
        if kind == "image":
            self.skipped_images[reason] += 1
        elif kind == "box":
            self.dropped_boxes[reason] += 1
        else:
            self.reported[reason] += 1
        self.problem_count += 1
        if len(self.problems) < self.max_problems:
            self.problems.append({"file": file, "reason": reason, "detail": detail})

    def add_result(self, result, split: str | None) -> None:
        """Adds a ConversionResult of `convert.record_to_example`; `split` is None when skipped."""
        for p in result.problems:
            self.add_problem(p.kind, p.reason, p.file, p.detail)
        self.clipped_boxes += result.clipped_boxes
        if result.keypoint_names:
            self.keypoint_names = list(result.keypoint_names)
        if split is not None:
            self.images[split] += 1
            self.boxes[split] += len(result.class_names)
            self.classes[split].update(result.class_names)

    def merge(self, other: "Report") -> "Report":
        """Adds `other` into this report (problem list still capped) and returns self."""
        self.images.update(other.images)
        self.boxes.update(other.boxes)
        self.skipped_images.update(other.skipped_images)
        self.dropped_boxes.update(other.dropped_boxes)
        self.reported.update(other.reported)
        self.clipped_boxes += other.clipped_boxes
        self.keypoint_names = self.keypoint_names or other.keypoint_names
        for split, counts in other.classes.items():
            self.classes[split].update(counts)
        room = self.max_problems - len(self.problems)
        self.problems.extend(other.problems[:max(room, 0)])
        self.problem_count += other.problem_count
        return self

    @property
    def has_problems(self) -> bool:
        """True when anything was skipped, dropped, clipped or reported."""
        return self.problem_count > 0

    def to_dict(self, splits=("train", "eval")) -> dict:
        """The report.json document (problems sorted by file for a stable output)."""
        names = list(splits) + sorted(set(self.images) - set(splits))
        keypoints = {"keypoint_names": list(self.keypoint_names)} if self.keypoint_names else {}
        return {**keypoints,
            "images": {s: self.images.get(s, 0) for s in names},
            "boxes": {s: self.boxes.get(s, 0) for s in names},
            "skipped_images": dict(sorted(self.skipped_images.items())),
            "dropped_boxes": dict(sorted(self.dropped_boxes.items())),
            "clipped_boxes": self.clipped_boxes,
            "reported": dict(sorted(self.reported.items())),
            "classes": {s: dict(sorted(self.classes.get(s, {}).items())) for s in names},
            "problem_count": self.problem_count,
            "problems_truncated": self.problem_count > len(self.problems),
            "problems": sorted(self.problems, key=lambda p: (p["file"], p["reason"], p["detail"])),
        }

    @classmethod
    def from_dict(cls, doc: dict, max_problems: int = MAX_PROBLEMS) -> "Report":
        """Rebuilds a Report from `to_dict` output (to merge shards written by workers)."""
        r = cls(max_problems)
        r.images.update(doc["images"])
        r.boxes.update(doc["boxes"])
        r.skipped_images.update(doc["skipped_images"])
        r.dropped_boxes.update(doc["dropped_boxes"])
        r.reported.update(doc.get("reported", {}))
        r.clipped_boxes = doc["clipped_boxes"]
        r.keypoint_names = list(doc.get("keypoint_names", []))
        for split, counts in doc.get("classes", {}).items():
            r.classes[split].update(counts)
        r.problems = list(doc["problems"][:max_problems])
        r.problem_count = doc.get("problem_count", len(doc["problems"]))
        return r

    def to_json(self, splits=("train", "eval")) -> str:
        """report.json text."""
        return json.dumps(self.to_dict(splits), indent=2, sort_keys=False) + "\n"

    def summary_lines(self, max_problems: int = 20) -> list:
        """A few human lines: counts per split, skips by reason, then the first problems."""
        d = self.to_dict()
        lines = [f"images: {d['images']}  boxes: {d['boxes']}"]
        if d["skipped_images"]:
            lines.append(f"skipped images: {d['skipped_images']}")
        if d["dropped_boxes"]:
            lines.append(f"dropped boxes: {d['dropped_boxes']}")
        if d["clipped_boxes"]:
            lines.append(f"clipped boxes: {d['clipped_boxes']}")
        if d["reported"]:
            lines.append(f"reported: {d['reported']}")
        for p in d["problems"][:max_problems]:
            lines.append(f"  {p['file']}: {p['reason']}: {p['detail']}")
        if self.problem_count > max_problems:
            lines.append(f"  ... {self.problem_count - max_problems} more problems in report.json")
        return lines
