"""A label map checked against the pipeline.config, the class names in the data and what conversion dropped.

`count_classes(files_by_split)` streams gzipped TFRecords of OD API tf.Examples
and counts boxes per class name (`image/object/class/text`) and images per split,
in constant memory. `validate(label_map, counts, images, config)` turns that into
a `ValidationReport`: classes in the data but not in the map and a num_classes
that is not the map's highest id are errors (ids may have gaps); classes of the
map with no boxes in a split and a dropped `background` item are warnings. With
the ExampleGen's conversion report and a `DataPolicy`, two more errors stop a run
before it trains on the wrong classes: more boxes dropped than
`max_dropped_box_share` (unknown classes, bad boxes), and a class of the map with
no box in the training split (unless `allow_empty_classes`). No TFX here;
TensorFlow is imported only to read records.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re

from schemas import example_format
from schemas.label_map import LabelMap, check_against_config
from schemas.problems import Problem

Counts = dict[str, dict[str, int]]

_BATCH = 256
_UNKNOWN_NAME = re.compile(r"class '([^']*)' is not in the label map")


@dataclasses.dataclass(frozen=True)
class DataPolicy:
    """How much of the converted data a run may lose before it refuses to train."""

    max_dropped_box_share: float = 0.05
    allow_empty_classes: bool = False


def dropped_boxes_line(conversion: dict) -> str | None:
    """'85 of 99 boxes dropped: unknown_class 85 (e.g. 'screw', 'nail'); ...' or None when none were dropped."""
    dropped = {k: v for k, v in (conversion.get("dropped_boxes") or {}).items() if v}
    total_dropped = sum(dropped.values())
    if not total_dropped:
        return None
    kept = sum((conversion.get("boxes") or {}).values())
    names = sorted({m.group(1) for p in conversion.get("first_problems") or conversion.get("problems") or []
                    if (m := _UNKNOWN_NAME.search(p.get("detail", "")))})
    parts = []
    for reason, n in sorted(dropped.items(), key=lambda kv: -kv[1]):
        part = f"{reason} {n}"
        if reason == "unknown_class" and names:
            part += " (e.g. " + ", ".join(repr(x) for x in names[:5]) + ")"
        parts.append(part)
    return f"{total_dropped} of {kept + total_dropped} boxes dropped: " + "; ".join(parts)


def _policy_errors(label_map: LabelMap, counts: Counts, conversion: dict | None, policy: DataPolicy) -> list[Problem]:
    errors = []
    where = label_map.path
    if conversion:
        dropped = sum((conversion.get("dropped_boxes") or {}).values())
        total = dropped + sum((conversion.get("boxes") or {}).values())
        share = dropped / total if total else 0.0
        if share > policy.max_dropped_box_share:
            allow = math.ceil(share * 100) / 100
            errors.append(Problem(where, f"{dropped_boxes_line(conversion)}: {share:.0%} of the boxes, more than "
                                         f"the {policy.max_dropped_box_share:.0%} allowed. Fix the label map or "
                                         f"the annotations (report.json of the ImageExampleGen names each box), or "
                                         f"allow it with --max-dropped-boxes {allow:.2f}"))
    if not policy.allow_empty_classes and "train" in counts:
        for item in label_map.items:
            if counts["train"].get(item.name, 0) == 0:
                errors.append(Problem(where, f"class {item.name!r} (id {item.id}) has no box in the training "
                                             "split: the model would never learn it. Add data, take it out of the "
                                             "label map, or allow it with --allow-empty-classes", item.line))
    return errors


def _keypoint_errors(label_map: LabelMap, data_names: list | None) -> list[Problem]:
    """A class's `keypoints { id label }` against the data's keypoint names (the ExampleGen's report): each id
    indexes the data's keypoints and must name the same keypoint."""
    errors = []
    for item in label_map.items:
        if not item.keypoints or data_names is None:
            continue
        for kid, label in item.keypoints:
            if not 0 <= kid < len(data_names):
                errors.append(Problem(label_map.path, f"class {item.name!r}: keypoint id {kid} ({label!r}) is not "
                                                      f"one of the data's {len(data_names)} keypoints (ids 0.."
                                                      f"{len(data_names) - 1})", item.line))
            elif data_names[kid] != label:
                errors.append(Problem(label_map.path, f"class {item.name!r}: keypoint id {kid} is {label!r} here but "
                                                      f"{data_names[kid]!r} in the data", item.line))
    return errors


def count_classes(files_by_split: dict[str, list[str]]) -> tuple[Counts, dict[str, int]]:
    """(boxes per class name per split, images per split) of TFRecord files (gzipped when named .gz)."""
    import tensorflow as tf

    spec = {example_format.CLASS_TEXT: tf.io.VarLenFeature(tf.string)}
    counts: Counts = {}
    images: dict[str, int] = {}
    for split, files in sorted(files_by_split.items()):
        counter: collections.Counter = collections.Counter()
        n_images = 0
        if files:
            dataset = example_format.records_dataset(sorted(files)).batch(_BATCH)
            for batch in dataset:
                parsed = tf.io.parse_example(batch, spec)
                n_images += int(tf.shape(batch)[0])
                counter.update(v.decode("utf-8") for v in parsed[example_format.CLASS_TEXT].values.numpy())
        counts[split] = dict(sorted(counter.items()))
        images[split] = n_images
    return counts, images


@dataclasses.dataclass
class ValidationReport:
    """What the validator found; `errors` fail the run, `warnings` are recorded."""

    label_map: LabelMap
    counts: Counts
    images: dict[str, int]
    errors: list[Problem]
    warnings: list[Problem]

    @property
    def valid(self) -> bool:
        """True when there are no errors."""
        return not self.errors

    def to_json(self) -> dict:
        """The report as validation.json content."""
        return {
            "valid": self.valid,
            "content_hash": self.label_map.content_hash,
            "num_classes": self.label_map.num_classes,
            "max_id": self.label_map.max_id,
            "classes": [{"id": i.id, "name": i.name, "display_name": i.display_name}
                        for i in self.label_map.items],
            "images": self.images,
            "counts": self.counts,
            "errors": [str(p) for p in self.errors],
            "warnings": [str(p) for p in self.warnings],
        }

    def error_message(self) -> str:
        """The errors as one readable block, for the exception that fails the run."""
        lines = [f"label map validation failed ({len(self.errors)} problem(s)):"]
        lines += [f"  {p}" for p in self.errors]
        return "\n".join(lines)


def validate(label_map: LabelMap, counts: Counts, images: dict[str, int], pipeline_config=None,
             conversion: dict | None = None, policy: DataPolicy | None = None) -> ValidationReport:
    """Checks the map against the data's class names per split, the config and, with a policy, the data lost.

    `conversion` is the ExampleGen's report (boxes kept per split, dropped boxes and
    skipped images by reason, the first problems).
    """
    errors: list[Problem] = []
    warnings: list[Problem] = list(label_map.warnings)
    known = set(label_map.names)
    where = label_map.path
    for split, per_class in counts.items():
        for name, n in per_class.items():
            if name not in known:
                errors.append(Problem(where, f"class {name!r} has {n} box(es) in split {split!r} but is not in "
                                             f"the label map ({', '.join(label_map.names)})"))
        for item in label_map.items:
            if per_class.get(item.name, 0) == 0:
                warnings.append(Problem(where, f"class {item.name!r} (id {item.id}) has no boxes in split "
                                               f"{split!r} ({images.get(split, 0)} images)", item.line))
    if pipeline_config is not None:
        errors += check_against_config(label_map, pipeline_config)
    errors += _keypoint_errors(label_map, (conversion or {}).get("keypoint_names"))
    if conversion and not conversion.get("keypoint_names"):
        warnings += [Problem(where, f"class {i.name!r} declares {len(i.keypoints)} keypoint(s); the data has none",
                             i.line) for i in label_map.items if i.keypoints]
    if policy is not None:
        errors += _policy_errors(label_map, counts, conversion, policy)
        empty = {e.line for e in errors if "has no box in the training split" in e.message}
        warnings = [w for w in warnings if not (w.line in empty and "in split 'train'" in w.message)]
    return ValidationReport(label_map, counts, images, errors, warnings)
