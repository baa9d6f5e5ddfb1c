"""The registry of architecture plug-ins, and the one entry point from a pipeline.config to a network.

Adding a family: a folder beside `ssd/` whose `__init__.py` defines `ARCHITECTURE` (an
`base.Architecture`), its field-table rows in `schemas/field_rules.py`, and one line in `ARCHITECTURES`.
`tests/detection/test_registry.py` checks every registered family declares what it must.
"""

from __future__ import annotations

from detection.architectures import center_net, faster_rcnn, ssd
from detection.architectures.base import Architecture
from detection.networks.spec import config_problem

ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    ssd.ARCHITECTURE,
    faster_rcnn.ARCHITECTURE,
    center_net.ARCHITECTURE,
)}


# Without a family, each family's layout in turn: SSD's, which claims every `_feature_extractor/...`, last.
_NARROWEST_CLAIMS_FIRST = sorted(ARCHITECTURES.values(), key=lambda a: a.name == "ssd")


def architecture(name: str) -> Architecture:
    """The plug-in of a meta-architecture name ('ssd', 'faster_rcnn'); ProblemsError for any other."""
    if name not in ARCHITECTURES:
        raise config_problem("model", f"{name or 'no model'} is not supported (use "
                             f"{' or '.join(ARCHITECTURES)})")
    return ARCHITECTURES[name]


def architecture_for(pipeline_proto) -> Architecture:
    """The plug-in of the `model { ... }` a TrainEvalPipelineConfig names."""
    return architecture(pipeline_proto.model.WhichOneof("model") or "")


def build_detector(pipeline_proto):
    """Builds the detector `pipeline_proto.model` describes (a TrainEvalPipelineConfig): a DetectorBundle.

    Raises ProblemsError naming the field for anything not supported. Built with AutoGraph off:
    tf_keras converts every layer's `call` while it builds, which took 9/10 of a build; these layers
    have no data-dependent Python control flow, so the model is the same.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    return tf.autograph.experimental.do_not_convert(architecture_for(pipeline_proto).build)(pipeline_proto)


def task_for(bundle):
    """The training.tasks.DetectorTask of a built detector (its architecture's)."""
    return architecture(bundle.spec.meta_architecture).task(bundle)


def module_of(path: str, family: str | None = None) -> str:
    """Report module of a variable path (checkpoint key or object path): backbone, feature_maps, head_class, ...

    The OD API's conventions first (a classification checkpoint's `feature_extractor/`, a detection
    model's `_feature_extractor/classification_backbone/`), then the layout of `family` (a registered
    name; every family's in turn when None), then the layout's top attribute.
    """
    parts = path.split("/")
    if parts[0] == "model":
        parts = parts[1:]
    if parts[0] == "feature_extractor" or parts[:2] == ["_feature_extractor", "classification_backbone"]:
        return "backbone"
    for plugin in ([ARCHITECTURES[family]] if family in ARCHITECTURES else _NARROWEST_CLAIMS_FIRST):
        module = plugin.module_of(parts)
        if module:
            return module
    return _old_layout_module(parts)


def _old_layout_module(parts: list[str]) -> str:
    """detflow 0.1's Model Garden layouts (`head/...`, `detection_head/...`), named to report them."""
    top = parts[0].lstrip("_")
    if top == "head" and len(parts) > 1:
        for prefix, module in (("_classifier", "head_class"), ("_box_regressor", "head_box"),
                               ("_cls_", "head_class_tower"), ("_box_", "head_box_tower")):
            if parts[1].startswith(prefix):
                return module
        return "head_other"
    if top == "detection_head":
        joined = "/".join(parts)
        return ("detection_head_class" if "_classifier" in joined else
                "detection_head_box" if "_box_regressor" in joined else "detection_head_tower")
    return top


def class_dependent(module: str) -> bool:
    """True for a module whose shapes follow num_classes in some registered family."""
    return any(module in family.class_dependent_modules for family in ARCHITECTURES.values())
