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
no box in the training split (unless `allow_empty_classes`).

A CenterNet config's keypoint tasks are checked against the label maps
(`keypoint_task_errors`): the keypoint label map (`keypoint_label_map_path`,
found by `schemas.config_paths`) has the item `keypoint_class_name` declaring
keypoints; that item is a class of the training label map (same id, same name
or display name); `keypoint_label_to_std` names its keypoints; its keypoint ids
are below `train_input_reader.num_keypoints`; and, with the data's keypoint
names, its labels name the data's keypoints at the same ids. No TFX here;
TensorFlow is imported only to read records and the keypoint label map.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re

from schemas import config_paths, example_format
from schemas.label_map import LabelMap, LabelMapItem, check_against_config, parse_label_map_text
from schemas.problems import Problem, ProblemsError

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
    if data_names is None:
        return []
    return [p for item in label_map.items for p in _item_keypoint_errors(item, label_map.path, data_names)]


def _item_keypoint_errors(item: LabelMapItem, path: str, data_names: list) -> list[Problem]:
    """One item's `keypoints { id label }` against the data's keypoint names."""
    errors = []
    for kid, label in item.keypoints:
        if not 0 <= kid < len(data_names):
            errors.append(Problem(path, f"class {item.name!r}: keypoint id {kid} ({label!r}) is not one of the "
                                        f"data's {len(data_names)} keypoints (ids 0..{len(data_names) - 1})",
                                  item.line))
        elif data_names[kid] != label:
            errors.append(Problem(path, f"class {item.name!r}: keypoint id {kid} is {label!r} here but "
                                        f"{data_names[kid]!r} in the data", item.line))
    return errors


def _read_keypoint_label_map(config) -> LabelMap | list[Problem]:
    """The keypoint label map a CenterNet config names (as given, else beside the config), or its problems."""
    import tensorflow as tf

    field = "model.center_net.keypoint_label_map_path"
    given = config.proto.model.center_net.keypoint_label_map_path
    path = config_paths.resolve(given, config.path, tf.io.gfile.exists)
    if not tf.io.gfile.exists(path):
        looked = " or ".join(config_paths.candidates(given, config.path))
        return [config.problem(field, f"the keypoint label map is not there (looked at {looked})")]
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return parse_label_map_text(f.read().decode("utf-8"), path)
    except UnicodeDecodeError as error:
        return [config.problem(field, f"cannot read the keypoint label map {path}: {error}")]
    except ProblemsError as error:
        return error.problems


def _names(item: LabelMapItem) -> str:
    return repr(item.name) + (f" (display name {item.display_name!r})" if item.display_name else "")


def _class_errors(item: LabelMapItem, keypoint_map: LabelMap, label_map: LabelMap) -> list[Problem]:
    """The keypoint item's class against the training label map: the same id, named by its name or display name."""
    train = label_map.by_id.get(item.id)
    if train is not None and ({item.name, item.display_name} - {""}) & ({train.name, train.display_name} - {""}):
        return []
    same_name = [i for i in label_map.items if item.name in (i.name, i.display_name)]
    elsewhere = f"; {item.name!r} is id {same_name[0].id} there" if same_name else ""
    where = f"the keypoint label map's item {_names(item)} has id {item.id}"
    if train is None:
        ids = ", ".join(str(i.id) for i in label_map.items)
        return [Problem(keypoint_map.path, f"{where}, which is no class of the training label map {label_map.path} "
                                           f"(ids {ids}){elsewhere}", item.line)]
    return [Problem(keypoint_map.path, f"{where}, which is class {_names(train)} in the training label map "
                                       f"{label_map.path}:{train.line}: the names differ (a keypoint item is its "
                                       "class: the same id, named by the class's name or display name), so its "
                                       f"keypoints would be learnt on {train.name!r} boxes{elsewhere}", item.line)]


def _task_errors(index: int, task, keypoint_map: LabelMap, label_map: LabelMap, config,
                 data_names: list | None) -> list[Problem]:
    """One keypoint_estimation_task against the keypoint label map, the training label map, num_keypoints and the
    data's keypoint names."""
    field = f"model.center_net.keypoint_estimation_task[{index}]"
    item = next((i for i in keypoint_map.items if i.name == task.keypoint_class_name), None)
    if item is None:
        return [config.problem(f"{field}.keypoint_class_name", f"{task.keypoint_class_name!r} is not an item of the "
                                                               f"keypoint label map {keypoint_map.path} (its items: "
                                                               f"{', '.join(keypoint_map.names)})")]
    if not item.keypoints:
        return [config.problem(f"{field}.keypoint_class_name", f"the keypoint label map's item {item.name!r} "
                                                               f"({keypoint_map.path}:{item.line}) declares no "
                                                               "keypoints { id label }")]
    errors = _class_errors(item, keypoint_map, label_map)
    labels = [label for _, label in item.keypoints]
    unknown = sorted(set(task.keypoint_label_to_std) - set(labels))
    if unknown:
        errors.append(config.problem(f"{field}.keypoint_label_to_std",
                                     f"{', '.join(map(repr, unknown))} "
                                     f"{'is not a keypoint' if len(unknown) == 1 else 'are not keypoints'} of "
                                     f"{item.name!r} in {keypoint_map.path}:{item.line} ({', '.join(labels)})"))
    n = config.proto.train_input_reader.num_keypoints
    beyond = [f"id {kid} ({label!r})" for kid, label in item.keypoints if not 0 <= kid < n]
    if beyond:
        errors.append(config.problem("train_input_reader.num_keypoints",
                                     f"is {n}: the records carry keypoints 0..{n - 1}, but item {item.name!r} of "
                                     f"{keypoint_map.path}:{item.line} declares {', '.join(beyond)}"))
    trained = label_map.by_id.get(item.id)
    if data_names is not None and not (trained and trained.keypoints == item.keypoints):
        errors += _item_keypoint_errors(item, keypoint_map.path, data_names)   # else _keypoint_errors says it
    return errors


def keypoint_task_errors(label_map: LabelMap, config, data_names: list | None = None) -> list[Problem]:
    """A CenterNet config's keypoint tasks against its keypoint label map, the training `label_map` and the data's
    keypoint names (None: unknown); [] for a config without keypoint tasks. See the module doc."""
    if config.meta_architecture != "center_net" or not config.model.keypoint_estimation_task:
        return []
    keypoint_map = _read_keypoint_label_map(config)
    if not isinstance(keypoint_map, LabelMap):
        return keypoint_map
    return [p for i, task in enumerate(config.model.keypoint_estimation_task)
            for p in _task_errors(i, task, keypoint_map, label_map, config, data_names)]


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
    data_keypoints = (conversion or {}).get("keypoint_names")
    if pipeline_config is not None:
        errors += check_against_config(label_map, pipeline_config)
        errors += keypoint_task_errors(label_map, pipeline_config, data_keypoints)
    errors += _keypoint_errors(label_map, data_keypoints)
    if conversion and not conversion.get("keypoint_names"):
        warnings += [Problem(where, f"class {i.name!r} declares {len(i.keypoints)} keypoint(s); the data has none",
                             i.line) for i in label_map.items if i.keypoints]
    if policy is not None:
        errors += _policy_errors(label_map, counts, conversion, policy)
        empty = {e.line for e in errors if "has no box in the training split" in e.message}
        warnings = [w for w in warnings if not (w.line in empty and "in split 'train'" in w.message)]
    return ValidationReport(label_map, counts, images, errors, warnings)
