"""What the rest of the trainer knows of a built detector: `ModelSpec` and `DetectorBundle`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras

from schemas.problems import ProblemsError, problem


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The network's input: fixed_shape_resizer's size, or keep_aspect_ratio_resizer's padded to a
    max_dimension square (so one SavedModel input shape serves all)."""

    height: int
    width: int
    keep_aspect_ratio: bool = False
    min_dimension: int = 0
    max_dimension: int = 0
    # SSD normalises, then resizes (its padding holds 0 of the normalised range); Faster R-CNN the other way.
    normalize_before_resize: bool = False


@dataclasses.dataclass(frozen=True)
class AnchorSpec:
    """The anchor layout a network was built with (for reports and tests; the anchors are the network's)."""

    min_level: int
    max_level: int
    num_scales: int
    aspect_ratios: tuple[float, ...]
    anchor_size: float
    box_coder_weights: tuple[float, ...] | None
    num_anchors: int = 0                                  # SSD: anchors over all feature maps
    grid_scales: tuple[float, ...] | None = None          # Faster R-CNN grid anchors
    grid_base_size: tuple[float, float] | None = None

    @property
    def num_anchors_per_location(self) -> int:
        """Anchors per feature-map cell (multiscale and grid anchors)."""
        return self.num_scales * len(self.aspect_ratios)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What inputs, losses and export need to know about a built detector.

    `training` is the family's own typed settings of targets and losses (`ssd.spec.SsdTraining`,
    `faster_rcnn.spec.FasterRcnnTraining`), read by its task.
    """

    meta_architecture: str            # the architecture plug-in's name: "ssd", "faster_rcnn", "center_net"
    feature_extractor: str
    input: InputSpec
    num_classes: int                  # label-map classes (OD API num_classes)
    mg_num_classes: int               # class columns: num_classes + 1 (column 0 = background), or num_classes without
    anchors: AnchorSpec | None         # None: an anchor-free family (CenterNet)
    score_threshold: float
    iou_threshold: float
    max_detections: int
    freeze_batchnorm: bool
    training: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the spec (nested as the spec is)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclasses.dataclass
class DetectorBundle:
    """A built detector: the tf_keras model, its spec and (Faster R-CNN) its `model.faster_rcnn` message."""

    model: tf_keras.Model
    spec: ModelSpec
    model_config: Any = None
    preprocess_fn: Any = None       # resized 0..255 images → network input; default model.preprocess

    @property
    def anchors(self) -> np.ndarray | None:
        """SSD anchors, normalised ymin, xmin, ymax, xmax [N, 4] in the OD API's order."""
        return getattr(self.model, "anchors", None)

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        """Resized float 0..255 images → the network's input (the feature extractor's normalisation)."""
        fn = self.preprocess_fn or self.model.preprocess
        return fn(tf.cast(images, tf.float32))


def config_problem(field: str, message: str) -> ProblemsError:
    """A ProblemsError naming a pipeline.config field."""
    return problem("pipeline.config", f"{field}: {message}")


def input_size(model_msg, field_prefix: str) -> InputSpec:
    """The InputSpec of a model's image_resizer."""
    resizer = model_msg.image_resizer
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind == "fixed_shape_resizer":
        r = resizer.fixed_shape_resizer
        return InputSpec(r.height, r.width)
    if kind == "keep_aspect_ratio_resizer":
        r = resizer.keep_aspect_ratio_resizer
        return InputSpec(r.max_dimension, r.max_dimension, True, r.min_dimension, r.max_dimension)
    raise config_problem(f"{field_prefix}.image_resizer", f"{kind or 'none'} is not supported "
                         "(use fixed_shape_resizer or keep_aspect_ratio_resizer)")


def all_layers(layer):
    """Every layer under `layer` (itself included), each once."""
    stack, seen = [layer], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(getattr(current, "_flatten_layers", lambda **_: [])(include_self=False, recursive=False))


def freeze_batchnorm(model: tf_keras.Model) -> int:
    """Puts every BatchNormalization layer in inference mode (OD API freeze_batchnorm); returns how many."""
    count = 0
    for layer in all_layers(model):
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False
            count += 1
    return count
