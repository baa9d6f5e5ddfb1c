"""What an architecture plug-in declares and does (as a Model Garden `Task` does for its model).

One `Architecture` per meta-architecture family (the `model { ... }` oneof of a pipeline.config) owns:
- building the OD API's network from its part of the config (`build`), its training targets and
  losses (`task`) and how its serving signature runs the network (`prepare`, `detect`);
- its checkpoint layout: which report module each variable path belongs to (`module_of`), which
  modules depend on num_classes (`class_dependent_modules`, re-initialised by a `detection` restore
  when num_classes changes) and, where the OD API's `detection` restore takes only some modules
  (CenterNet: its feature extractor), which (`detection_modules`);
- which config fields it reads: its rows of the field table (`schemas/field_rules.py`, under
  `config_path`; FIELDS.md), and those that do not change what restored weights compute
  (`network_free_fields`, for `checkpoints/network_settings`);
- what it exports to (`exports`).

Declarations are plain class attributes, so `registry` and `config check` use them without
TensorFlow; the methods import the family's TensorFlow modules when called.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Exports:
    """What a family exports to: a SavedModel always; TFLite when `tflite` (else `tflite_refusal` says why)."""

    tflite: bool
    tflite_refusal: str = ""


class Architecture:
    """A meta-architecture family; see the module doc. Subclasses set every attribute and method."""

    name: str = ""                                   # the model oneof: model { <name> { ... } }
    feature_extractors: tuple[str, ...] = ()         # feature_extractor.type values it builds
    class_dependent_modules: frozenset[str] = frozenset()
    detection_modules: frozenset[str] | None = None     # None: every module (class-dependent ones if they fit)
    network_free_fields: frozenset[str] = frozenset()
    exports: Exports = Exports(tflite=False)

    @property
    def config_path(self) -> str:
        """Where its settings are in a pipeline.config, and the prefix of its field-table rows."""
        return f"model.{self.name}"

    def build(self, pipeline_proto) -> Any:
        """The DetectorBundle of `pipeline_proto.model.<name>`; ProblemsError names a bad field."""
        raise NotImplementedError

    def task(self, bundle) -> Any:
        """The training.tasks.DetectorTask (targets and losses) of a built detector."""
        raise NotImplementedError

    def prepare(self, bundle, images, resize) -> tuple[Any, Any]:
        """0..255 images → (network input, valid resized height/width), `resize(images)` resizing them."""
        raise NotImplementedError

    def detect(self, bundle, inputs, valid_hw) -> dict[str, Any]:
        """Post-processed detections of prepared `inputs` (OD API keys; 0-based classes, normalised boxes)."""
        raise NotImplementedError

    def module_of(self, parts: list[str]) -> str | None:
        """The report module of a variable path (split at '/', no `model/` root), or None if not its own."""
        raise NotImplementedError

    def refusal_for_checkpoint(self, model_keys: list[str]) -> str | None:
        """A reason to refuse a checkpoint whose `model/` keys are those (e.g. an old layout), or None."""
        return None


class ResizeThenNormalize(Architecture):
    """A family whose OD API meta-architecture resizes (and pads), then normalises, and whose network's
    `detect(inputs, true_image_shapes)` takes the true (unpadded) image shapes: Faster R-CNN, CenterNet."""

    def prepare(self, bundle, images, resize):
        """Resizes (and pads), then normalises."""
        resized, hw = resize(images)
        return bundle.preprocess(resized), hw

    def detect(self, bundle, inputs, valid_hw):
        """The network's detections; boxes normalised to the unpadded image, as the OD API's."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        true_shapes = tf.concat([tf.cast(valid_hw, tf.int32), tf.fill([tf.shape(valid_hw)[0], 1], 3)], axis=1)
        return bundle.model.detect(inputs, true_shapes)
