"""What the rest of the trainer knows of a built detector: `ModelSpec` and `DetectorBundle`."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras

from schemas.problems import ProblemsError, problem


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What inputs, losses and export need to know about a built detector."""

    meta_architecture: str            # "ssd" or "faster_rcnn"
    feature_extractor: str
    input_height: int                 # model input (fixed_shape_resizer, or
    input_width: int                  # max_dimension square for keep-aspect)
    keep_aspect_ratio: bool
    min_dimension: int
    max_dimension: int
    num_classes: int                  # label-map classes (OD API num_classes)
    mg_num_classes: int               # num_classes + 1 (class 0 = background)
    min_level: int
    max_level: int
    num_scales: int
    aspect_ratios: tuple[float, ...]
    anchor_size: float
    box_coder_weights: tuple[float, ...] | None
    matched_threshold: float
    unmatched_threshold: float
    focal_gamma: float
    focal_alpha: float
    huber_delta: float                # weighted_smooth_l1 delta
    classification_weight: float
    localization_weight: float
    score_threshold: float
    iou_threshold: float
    max_detections: int
    freeze_batchnorm: bool
    grid_anchor_scales: tuple[float, ...] | None = None      # faster_rcnn grid anchors
    grid_anchor_base_size: tuple[float, float] | None = None
    # faster_rcnn first stage (RPN) loss weights and anchor sampling; second stage box sharing
    rpn_localization_weight: float = 1.0
    rpn_objectness_weight: float = 1.0
    rpn_minibatch_size: int = 256
    rpn_positive_fraction: float = 0.5
    second_stage_batch_size: int = 64             # proposals sampled per image for the second stage's losses
    second_stage_positive_fraction: float = 0.25
    class_agnostic_box: bool = False
    # ssd
    normalize_loc_loss_by_codesize: bool = False
    num_anchors: int = 0

    @property
    def num_anchors_per_location(self) -> int:
        """Anchors per feature-map cell (multiscale and grid anchors)."""
        return self.num_scales * len(self.aspect_ratios)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the spec."""
        d = dataclasses.asdict(self)
        d["aspect_ratios"] = list(self.aspect_ratios)
        for key in ("box_coder_weights", "grid_anchor_scales", "grid_anchor_base_size"):
            d[key] = list(d[key]) if d[key] else None
        return d


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


def input_size(model_msg, field_prefix: str) -> tuple[int, int, bool, int, int]:
    """(height, width, keep_aspect_ratio, min_dimension, max_dimension) of a model's image_resizer."""
    resizer = model_msg.image_resizer
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind == "fixed_shape_resizer":
        r = resizer.fixed_shape_resizer
        return r.height, r.width, False, 0, 0
    if kind == "keep_aspect_ratio_resizer":
        r = resizer.keep_aspect_ratio_resizer
        # Padded to a max_dimension square so one SavedModel input shape serves all.
        return r.max_dimension, r.max_dimension, True, r.min_dimension, r.max_dimension
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
