"""The detectors the latency benchmarks time, built the way `detflow train` builds them.

- `demo`: the embedded base checkpoint (SSD MobileNetV2 x0.35 FPN-lite, 128 px,
  5 classes), its trained weights restored: the network the demo fine-tunes.
- `fpnlite320`: the TF2 Detection Zoo's SSD MobileNetV2 FPN-lite 320x320 config
  (full width, 90 classes) with its initial random weights: latency does not
  depend on the values of the weights.
Either with its config's per-class NMS or, `class_agnostic=True`, with
`use_class_agnostic_nms: true` (the TFLite op's fast NMS).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FPNLITE_320_CONFIG = os.path.join(REPO, "tests", "data", "configs", "ssd_mobilenet_v2_fpnlite_320x320.config")
MODEL_NAMES = ("demo", "fpnlite320")


@dataclasses.dataclass
class BenchModel:
    """A built detector with the config text it was built from."""

    name: str
    bundle: object          # detection.architectures.registry.DetectorBundle
    config_text: str
    label_map: str | None   # the label map to export with (None: class_<id> names)
    trained: bool

    @property
    def nms(self) -> str:
        """'class-agnostic' or 'per-class' NMS."""
        return "class-agnostic" if self.bundle.model.post.class_agnostic else "per-class"

    @property
    def parameters(self) -> int:
        """Number of scalars in the model's variables."""
        return sum(int(np.prod(v.shape)) for v in self.bundle.model.variables)

    def describe(self) -> str:
        """One line: architecture, width, input size, parameters, weights."""
        spec = self.bundle.spec
        return (f"{self.name}: {spec.feature_extractor}, {spec.input.height} px, {spec.num_classes} classes, "
                f"{self.parameters / 1e6:.2f} M parameters, {'trained' if self.trained else 'random'} weights, "
                f"{self.nms} NMS")


def _with_class_agnostic_nms(text: str) -> str:
    edited = text.replace("batch_non_max_suppression {", "batch_non_max_suppression {\n        "
                                                         "use_class_agnostic_nms: true", 1)
    if edited == text:
        raise ValueError("the config has no batch_non_max_suppression block")
    return edited


def build(name: str, class_agnostic: bool = False) -> BenchModel:
    """Builds one of MODEL_NAMES, with its config's NMS or class-agnostic NMS."""
    from components.trainer import base_checkpoint  # pylint: disable=import-outside-toplevel
    from detection.architectures import registry  # pylint: disable=import-outside-toplevel
    from detection.checkpoints import restore  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel

    if name == "demo":
        path = base_checkpoint.CHECKPOINT_DIR / "pipeline.config"
        text = path.read_text()
        text = _with_class_agnostic_nms(text) if class_agnostic else text
        config = parse_pipeline_config_text(text, str(path))
        bundle = registry.build_detector(config.proto)
        restore.restore(bundle.model, base_checkpoint.checkpoint_prefix(), "full", pipeline_proto=config.proto)
        return BenchModel(name, bundle, text, str(base_checkpoint.CHECKPOINT_DIR / "label_map.pbtxt"), True)
    if name == "fpnlite320":
        with open(FPNLITE_320_CONFIG) as f:
            text = f.read()
        text = _with_class_agnostic_nms(text) if class_agnostic else text
        config = parse_pipeline_config_text(text, FPNLITE_320_CONFIG)
        return BenchModel(name, registry.build_detector(config.proto), text, None, False)
    raise ValueError(f"unknown model {name!r}: expected one of {', '.join(MODEL_NAMES)}")
