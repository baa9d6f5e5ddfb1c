"""The SSD family (`model.ssd`): the OD API's SSD networks (MobileNetV2, MobileNetV2 FPN-lite, ResNet v1 FPN).

`network.py` builds them layer for layer as the OD API does (`mobilenet_v2.py`, `resnet_v1_fpn.py`: the
feature extractors), `task.py` holds their targets and losses.
"""

from __future__ import annotations

from detection.architectures.base import Architecture, Exports
from schemas.field_rules import SSD_FEATURE_EXTRACTORS

# detflow 0.1 wrote Model Garden RetinaNet checkpoints under these keys.
_OLD_LAYOUT = ("_backbone/", "_decoder/", "_head/")


def _head_module(attribute: str, key: str) -> str:
    if attribute == "_box_prediction_head":
        return "head_box"
    if attribute == "_prediction_heads":
        return "head_class" if key == "class_predictions_with_background" else "head_box"
    if attribute == "_head_scope_conv_layers":
        return {"BoxPredictionTower": "head_box_tower", "ClassPredictionTower": "head_class_tower"}.get(
            key, "head_shared_tower")
    if attribute == "_base_tower_layers_for_heads":
        return "head_class_tower" if key == "class_predictions_with_background" else "head_box_tower"
    if attribute == "_additional_projection_layers":
        return "head_projection"
    return "head_tower"


class SsdArchitecture(Architecture):
    """`model.ssd`; see the package doc."""

    name = "ssd"
    feature_extractors = SSD_FEATURE_EXTRACTORS
    class_dependent_modules = frozenset({"head_class"})
    exports = Exports(tflite=True)

    def build(self, pipeline_proto):
        from detection.architectures.ssd import network  # pylint: disable=import-outside-toplevel
        return network.build_ssd(pipeline_proto)

    def task(self, bundle):
        from detection.architectures.ssd.task import SsdTask  # pylint: disable=import-outside-toplevel
        return SsdTask(bundle)

    def prepare(self, bundle, images, resize):
        """Normalises, then resizes (the OD API's SSD order)."""
        return resize(bundle.preprocess(images))

    def detect(self, bundle, inputs, valid_hw):
        """The network's post-processing, boxes clipped to the unpadded part of the input."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        spec = bundle.spec
        size = tf.constant([spec.input.height, spec.input.width], tf.float32)
        window = tf.concat([tf.zeros_like(valid_hw), valid_hw / size], axis=1)
        return bundle.model.postprocess(bundle.model(inputs, training=False), clip_window=window)

    def module_of(self, parts):
        """`_feature_extractor/...` (FPN, BiFPN and extra layers; EfficientDet's backbone, which its checkpoints
        hold under `_feature_extractor/_efficientnet/`) and `_box_predictor/<head>/<key>/...`."""
        if parts[0] == "_feature_extractor":
            return "backbone" if parts[1:2] == ["_efficientnet"] else "feature_maps"
        if parts[0] == "_box_predictor" and len(parts) > 2:
            return _head_module(parts[1], parts[2])
        return None

    def refusal_for_checkpoint(self, model_keys):
        if any(k.startswith(_OLD_LAYOUT) for k in model_keys):
            return ("this checkpoint was written by detflow 0.1, whose SSD networks were Model Garden's "
                    "RetinaNet (keys model/_backbone, model/_decoder, model/_head): their FPN, preprocessing "
                    "and anchor order compute another function than the OD API networks detflow builds now, "
                    "so its weights cannot be carried over. Fine-tune from a TF2 Detection Zoo checkpoint or "
                    "the embedded base checkpoint (`detflow init` writes a config for it) and train again; "
                    "the old export's SavedModel still serves (`detflow predict`)")
        return None


ARCHITECTURE = SsdArchitecture()
