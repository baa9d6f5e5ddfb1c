"""TF OD API label maps (`StringIntLabelMap` text protos): load, validate, write.

`load_label_map(path)` / `parse_label_map_text(text, path)` return a `LabelMap`
or raise `ProblemsError` listing every problem with its line: syntax errors,
unknown fields, ids that are 0 (reserved for background, unless the item is
named 'background', which is then left out with a warning on
`LabelMap.warnings`) or negative, duplicate ids, duplicate names, empty names.
Ids need not be contiguous (COCO's 90-id map has gaps, as the OD API allows):
`check_against_config` asks num_classes to be the highest id. Only the
text-proto form is read; a leading UTF-8 BOM is skipped.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import pathlib

from google.protobuf import text_format

from schemas.problems import Problem, ProblemsError, read_user_file
from schemas.protos import string_int_label_map_pb2
from schemas.text_positions import parse_error_message, scan, strip_bom

BACKGROUND = "background"


@dataclasses.dataclass(frozen=True)
class LabelMapItem:
    """One class: its 1-based id, the name used in the data, and an optional display name."""

    id: int
    name: str
    display_name: str = ""
    line: int = dataclasses.field(default=0, compare=False)
    keypoints: tuple = ()       # (id, label) of its `keypoints { id label }`: index into the data's keypoints


@dataclasses.dataclass(frozen=True)
class LabelMap:
    """A valid label map: classes sorted by id, background excluded; `warnings` are things worth saying."""

    items: tuple[LabelMapItem, ...]
    path: str = ""
    warnings: tuple[Problem, ...] = dataclasses.field(default=(), compare=False)

    @property
    def num_classes(self) -> int:
        """How many classes the map names (ids may have gaps, so this can be less than `max_id`)."""
        return len(self.items)

    @property
    def max_id(self) -> int:
        """The highest id: the `num_classes` a config for this map must have."""
        return max((item.id for item in self.items), default=0)

    @property
    def contiguous(self) -> bool:
        """True when the ids are exactly 1..num_classes."""
        return self.max_id == self.num_classes

    @functools.cached_property
    def by_id(self) -> dict[int, LabelMapItem]:
        """Items keyed by id."""
        return {item.id: item for item in self.items}

    @functools.cached_property
    def _by_name(self) -> dict[str, LabelMapItem]:
        return {item.name: item for item in self.items}

    @property
    def names(self) -> list[str]:
        """Class names in id order."""
        return [item.name for item in self.items]

    def name_to_id(self, name: str) -> int:
        """The id of class `name`; KeyError naming the known classes if absent."""
        try:
            return self._by_name[name].id
        except KeyError:
            raise KeyError(f"class {name!r} is not in the label map ({', '.join(self.names)})") from None

    def id_to_name(self, class_id: int) -> str:
        """The name of class `class_id`; KeyError if absent."""
        try:
            return self.by_id[class_id].name
        except KeyError:
            raise KeyError(f"id {class_id} is not in the label map") from None

    @functools.cached_property
    def content_hash(self) -> str:
        """sha256 of the (id, name, display_name) triples and the keypoints declared: unchanged by whitespace,
        comments or order."""
        # Keypoints only where declared: a label map without them hashes as it always has.
        canonical = json.dumps([[i.id, i.name, i.display_name, *([[list(k) for k in i.keypoints]] if i.keypoints else [])]
                                for i in self.items], ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_proto(self) -> string_int_label_map_pb2.StringIntLabelMap:
        """The label map as a `StringIntLabelMap` message."""
        proto = string_int_label_map_pb2.StringIntLabelMap()
        for item in self.items:
            entry = proto.item.add(id=item.id, name=item.name)
            if item.display_name:
                entry.display_name = item.display_name
            for keypoint_id, label in item.keypoints:
                entry.keypoints.add(id=keypoint_id, label=label)
        return proto

    def to_text(self) -> str:
        """Canonical text proto, one `item { ... }` per class in id order."""
        return text_format.MessageToString(self.to_proto(), as_utf8=True)


def load_label_map(path: str | pathlib.Path) -> LabelMap:
    """Reads and validates the label map at `path`; raises ProblemsError."""
    path = str(path)
    return parse_label_map_text(read_user_file(path), path)


def parse_label_map_text(text: str, path: str = "<label map>") -> LabelMap:
    """Parses and validates label-map text; `path` names it in problems."""
    text = strip_bom(text)
    descriptor = string_int_label_map_pb2.StringIntLabelMap.DESCRIPTOR
    try:
        positions = scan(text, descriptor)
    except text_format.ParseError as error:
        raise ProblemsError([Problem(path, f"syntax error: {parse_error_message(error)}",
                                     error.GetLine() or 0, error.GetColumn() or 0)]) from None
    if positions.issues:
        raise ProblemsError([Problem(path, f"{i.path}: {i.message}", i.line, i.col) for i in positions.issues])
    proto = string_int_label_map_pb2.StringIntLabelMap()
    try:
        text_format.Parse(text, proto)
    except text_format.ParseError as error:
        raise ProblemsError([Problem(path, parse_error_message(error),
                                     error.GetLine() or 0, error.GetColumn() or 0)]) from None

    problems: list[Problem] = []
    warnings: list[Problem] = []
    items: list[LabelMapItem] = []
    first_id: dict[int, int] = {}
    first_name: dict[str, int] = {}

    def report(field_path: str, message: str) -> None:
        line, col = positions.of(field_path)
        problems.append(Problem(path, message, line, col))

    for index, entry in enumerate(proto.item):
        where = f"item[{index}]"
        line = positions.of(where)[0]
        name = entry.name.strip()
        if not entry.HasField("id"):
            report(where, f"item {name or index + 1!r} has no id")
            continue
        if entry.id == 0 and name == BACKGROUND:
            warnings.append(Problem(path, "item 'background' with id 0 is left out: detflow adds the background "
                                          "class itself (class ids start at 1)", *positions.of(f"{where}.id")))
            continue
        if entry.id == 0:
            report(f"{where}.id", f"id 0 is reserved for the background class (item {name!r}); ids start at 1")
        elif entry.id < 0:
            report(f"{where}.id", f"id {entry.id} is negative (item {name!r}); ids start at 1")
        elif entry.id in first_id:
            report(f"{where}.id", f"duplicate id {entry.id} (first used on line {first_id[entry.id]})")
        else:
            first_id[entry.id] = line
        if not name:
            report(f"{where}.name" if entry.HasField("name") else where, f"item with id {entry.id} has an empty name")
        elif name in first_name:
            report(f"{where}.name", f"duplicate name {name!r} (first used on line {first_name[name]})")
        else:
            first_name[name] = line
        items.append(LabelMapItem(entry.id, name, entry.display_name, line,
                                  tuple((k.id, k.label) for k in entry.keypoints)))
    if not proto.item:
        problems.append(Problem(path, "the label map has no items (expected item { id: 1 name: '...' } ...)"))
    if problems:
        raise ProblemsError(sorted(problems, key=lambda p: (p.line, p.col)))
    return LabelMap(tuple(sorted(items, key=lambda i: i.id)), path, tuple(warnings))


def check_against_config(label_map: LabelMap, pipeline_config) -> list[Problem]:
    """Problems between a label map and a PipelineConfig: ids beyond num_classes, or num_classes beyond the ids.

    Ids may have gaps (the OD API allows them), so num_classes must be the
    highest id: the class head has one column per id 1..num_classes, and a
    column above the highest id would belong to no class.
    """
    problems = []
    n = pipeline_config.num_classes
    for item in label_map.items:
        if item.id > n:
            problems.append(Problem(label_map.path, f"id {item.id} ({item.name!r}) exceeds num_classes {n} of "
                                                    f"{pipeline_config.path}: ids must be 1..num_classes",
                                    item.line))
    if 0 < label_map.max_id < n:
        spare = f"column {n}" if label_map.max_id + 1 == n else f"columns {label_map.max_id + 1}..{n}"
        problems.append(pipeline_config.problem(
            pipeline_config.num_classes_path,
            f"num_classes is {n} but the highest id in the label map {label_map.path} is {label_map.max_id}: "
            f"class-head {spare} would belong to no class (num_classes must be the highest id)"))
    return problems


def write_label_map(names: list[str], path: str | pathlib.Path) -> LabelMap:
    """Writes a label map with ids 1..n for `names` and returns it; ProblemsError for bad names."""
    text = "".join(f"item {{\n  id: {i}\n  name: {json.dumps(name, ensure_ascii=False)}\n}}\n"
                   for i, name in enumerate(names, start=1))
    label_map = parse_label_map_text(text, str(path))
    pathlib.Path(path).write_text(label_map.to_text(), encoding="utf-8")
    return label_map
