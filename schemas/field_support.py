"""The field table (`schemas.field_rules`) applied: a config's findings, FIELDS.md, the table's own check.

`classify(proto)` yields a Finding for every field set in a config that the
table rejects or ignores, or whose value detflow lacks; a rejected or ignored
scalar field set to its OD API default passes without one.
`python -m schemas.field_support` rewrites FIELDS.md from the table.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import sys
from typing import Iterator

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

from schemas.field_rules import (FASTER_RCNN_FEATURE_EXTRACTORS, FINE_TUNE_CHECKPOINT_TYPES, RULES,
                                 SSD_FEATURE_EXTRACTORS, FieldRule, Support)

# The table's names are importable from here too, as they were before it had its own module.
__all__ = ["FASTER_RCNN_FEATURE_EXTRACTORS", "FIELDS_MD", "FINE_TUNE_CHECKPOINT_TYPES", "RULES",
           "SSD_FEATURE_EXTRACTORS", "FieldRule", "Finding", "Support", "classify", "main", "render_markdown",
           "rule_for", "unresolved_rule_keys"]

FIELDS_MD = pathlib.Path(__file__).with_name("FIELDS.md")


@dataclasses.dataclass(frozen=True)
class Finding:
    """A field that is rejected (error) or ignored (warning); `path` has repeated indices."""

    path: str
    message: str
    is_error: bool


_BY_KEY = {rule.key: rule for rule in RULES}
_INDEX = re.compile(r"\[\d+\]")
_ENUM_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _type_key(descriptor: _descriptor.Descriptor, field_name: str) -> str:
    package = descriptor.file.package + "."
    return descriptor.full_name[len(package):] + "." + field_name


def rule_for(path: str, descriptor: _descriptor.Descriptor, field_name: str) -> FieldRule | None:
    """The rule for `field_name` of a message of type `descriptor` found at `path` (indices allowed)."""
    return _BY_KEY.get(_INDEX.sub("", path)) or _BY_KEY.get(_type_key(descriptor, field_name))


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if _ENUM_NAME.match(value) else repr(value)
    return str(value)


def _value_name(field: _descriptor.FieldDescriptor, value):
    if field.type == field.TYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value else value
    return value


def _is_default(field: _descriptor.FieldDescriptor, value) -> bool:
    if field.label == field.LABEL_REPEATED or field.type == field.TYPE_MESSAGE:
        return False
    return value == field.default_value


def classify(message: _message.Message, path: str = "") -> Iterator[Finding]:
    """Yields a Finding for every set field that is rejected, ignored, or has a value detflow lacks."""
    descriptor = message.DESCRIPTOR
    for field, value in message.ListFields():
        field_path = f"{path}.{field.name}" if path else field.name
        rule = rule_for(field_path, descriptor, field.name)
        if rule is None:
            yield Finding(field_path, "not supported by detflow", True)
            continue
        if rule.support is Support.REJECTED:
            if not _is_default(field, value):
                yield Finding(field_path, f"not supported by detflow: {rule.note}", True)
            continue
        if rule.support is Support.IGNORED:
            if not _is_default(field, value):
                yield Finding(field_path, f"ignored: {rule.note}", False)
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            continue          # a map (keypoint_label_to_std): its keys and values are the field's own
        repeated = field.label == field.LABEL_REPEATED
        items = list(value) if repeated else [value]
        for index, item in enumerate(items):
            item_path = f"{field_path}[{index}]" if repeated else field_path
            if field.type == field.TYPE_MESSAGE:
                yield from classify(item, item_path)
            elif rule.allowed and _value_name(field, item) not in rule.allowed:
                choices = ", ".join(_show(a) for a in rule.allowed)
                yield Finding(item_path, f"{_show(_value_name(field, item))} is not supported "
                                         f"by detflow (supported: {choices})", True)


def render_markdown() -> str:
    """FIELDS.md: the table for humans."""
    lines = [
        "# pipeline.config fields in detflow",
        "",
        "Generated from `schemas/field_support.py` by `python -m schemas.field_support`; do not edit.",
        "",
        "- **honoured**: detflow implements the field (limited to the listed values where there are some).",
        "- **ignored (warning)**: the field has no meaning here; `config check` prints a warning.",
        "- **rejected**: detflow does not implement it; `config check` fails naming the field.",
        "  A rejected or ignored field set to its OD API default changes nothing and passes silently.",
        "- A field not listed here is rejected as \"not supported by detflow\".",
        "",
        "Keys are dotted paths from the config root, or `Message.field` for a message",
        "that appears in several places (e.g. `Hyperparams` under every `conv_hyperparams`).",
        "",
    ]
    for support in Support:
        lines += [f"## {support.value}", "", "| field | values | note |", "|---|---|---|"]
        for rule in sorted((r for r in RULES if r.support is support), key=lambda r: r.key):
            values = ", ".join(f"`{_show(a)}`" for a in rule.allowed)
            lines.append(f"| `{rule.key}` | {values} | {rule.note} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Rewrites FIELDS.md."""
    FIELDS_MD.write_text(render_markdown())
    print(f"wrote {FIELDS_MD}")
    return 0


def unresolved_rule_keys() -> list[str]:
    """Rule keys that name no field of the schema (a typo in the table); [] when all resolve."""
    from google.protobuf import descriptor_pool
    from schemas.protos import pipeline_pb2

    pool = descriptor_pool.Default()
    bad = []
    for rule in RULES:
        parts = rule.key.split(".")
        if parts[0][0].isupper():
            type_name = ".".join(parts[:-1])
            try:
                descriptor = pool.FindMessageTypeByName("object_detection.protos." + type_name)
            except KeyError:
                bad.append(rule.key)
                continue
            if parts[-1] not in descriptor.fields_by_name:
                bad.append(rule.key)
            continue
        descriptor = pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR
        for part in parts:
            field = descriptor.fields_by_name.get(part) if descriptor else None
            if field is None:
                bad.append(rule.key)
                break
            descriptor = field.message_type
    return bad


if __name__ == "__main__":
    sys.exit(main())
