"""A label map checked against the pipeline.config and the class names in the data.

`count_classes(files_by_split)` streams gzipped TFRecords of OD API tf.Examples
and counts boxes per class name (`image/object/class/text`) and images per split,
in constant memory. `validate(label_map, counts, images, config)` turns that into
a `ValidationReport`: classes in the data but not in the map and a num_classes
that is not the map's highest id are errors (ids may have gaps); classes of the
map with no boxes in a split and a dropped `background` item are warnings.
No TFX here; TensorFlow is imported only to read records.
"""

from __future__ import annotations

import collections
import dataclasses

from schemas import example_format
from schemas.label_map import LabelMap, check_against_config
from schemas.problems import Problem

Counts = dict[str, dict[str, int]]

_BATCH = 256


def count_classes(files_by_split: dict[str, list[str]]) -> tuple[Counts, dict[str, int]]:
    """(boxes per class name per split, images per split) of gzipped TFRecord files."""
    import tensorflow as tf

    spec = {example_format.CLASS_TEXT: tf.io.VarLenFeature(tf.string)}
    counts: Counts = {}
    images: dict[str, int] = {}
    for split, files in sorted(files_by_split.items()):
        counter: collections.Counter = collections.Counter()
        n_images = 0
        if files:
            dataset = tf.data.TFRecordDataset(sorted(files), compression_type="GZIP").batch(_BATCH)
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


def validate(label_map: LabelMap, counts: Counts, images: dict[str, int], pipeline_config=None) -> ValidationReport:
    """Checks the map against the data's class names per split and against the config."""
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
    return ValidationReport(label_map, counts, images, errors, warnings)
