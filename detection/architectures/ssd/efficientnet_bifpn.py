"""SSD EfficientNet BiFPN feature extractors of the OD API (EfficientDet D0-D7): `ssd_efficientnet-b{0..7}_bifpn_keras`.

Preprocessing: (x / 255 - ImageNet mean) / ImageNet std, per channel. The backbone is
Model Garden's EfficientNet (`official.legacy.image_classification.efficientnet`), the
very code the OD API builds it with, so its layers, names and checkpoint paths are the
OD API's: `EfficientNet.from_name(version, overrides={'rescale_input': False})` (plus
the config's regularizer weight as `weight_decay` with
override_base_feature_extractor_hyperparams), its endpoints per level (2: stack_1, 3:
stack_2, 4: stack_4, 5: stack_6) feeding the BiFPN (`detection/networks/bifpn.py`) of
levels bifpn.min_level..bifpn.max_level. Without a `bifpn` message each type has the OD
API's defaults (D0: 3 iterations of 64 filters ... D6/D7: 8 of 384 with `sum`).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.networks.bifpn import BiFpnFeatureMaps, BiFpnSettings
from detection.networks.feature_maps import ExtractorOptions, pad_to_multiple
from official.legacy.image_classification.efficientnet import efficientnet_model

LEVEL_ENDPOINTS = {1: "stack_0/block_0/project_bn", 2: "stack_1/block_1/add", 3: "stack_2/block_1/add",
                   4: "stack_4/block_2/add", 5: "stack_6/block_0/project_bn"}
# type -> (EfficientNet version, BiFPN iterations, filters, combine method): the OD API's defaults per D-level.
EFFICIENTDETS = {
    "ssd_efficientnet-b0_bifpn_keras": ("efficientnet-b0", 3, 64, "fast_attention"),
    "ssd_efficientnet-b1_bifpn_keras": ("efficientnet-b1", 4, 88, "fast_attention"),
    "ssd_efficientnet-b2_bifpn_keras": ("efficientnet-b2", 5, 112, "fast_attention"),
    "ssd_efficientnet-b3_bifpn_keras": ("efficientnet-b3", 6, 160, "fast_attention"),
    "ssd_efficientnet-b4_bifpn_keras": ("efficientnet-b4", 7, 224, "fast_attention"),
    "ssd_efficientnet-b5_bifpn_keras": ("efficientnet-b5", 7, 288, "fast_attention"),
    "ssd_efficientnet-b6_bifpn_keras": ("efficientnet-b6", 8, 384, "sum"),
    "ssd_efficientnet-b7_bifpn_keras": ("efficientnet-b7", 8, 384, "sum"),
}
CHANNEL_OFFSET = [0.485, 0.456, 0.406]
CHANNEL_SCALE = [0.229, 0.224, 0.225]


def bifpn_settings(feature_extractor) -> BiFpnSettings:
    """The BiFPN a feature_extractor message asks for: its `bifpn` message, else the type's defaults."""
    _, iterations, filters, combine = EFFICIENTDETS[feature_extractor.type]
    if not feature_extractor.HasField("bifpn"):
        return BiFpnSettings(3, 7, iterations, max(filters, feature_extractor.min_depth), combine)
    b = feature_extractor.bifpn
    return BiFpnSettings(b.min_level, b.max_level, b.num_iterations, max(b.num_filters, feature_extractor.min_depth),
                         b.combine_method)


def efficientnet_preprocess(resized_inputs: tf.Tensor) -> tf.Tensor:
    """0..255 → ImageNet-normalised, the OD API's EfficientNet preprocessing."""
    return ((resized_inputs / 255.0) - [[CHANNEL_OFFSET]]) / [[CHANNEL_SCALE]]


class SsdEfficientNetBiFpnFeatureExtractor(tf_keras.Model):
    """The OD API's SSDEfficientNetBiFPNKerasFeatureExtractor (see the module doc)."""

    def __init__(self, extractor_type: str, options: ExtractorOptions, bifpn: BiFpnSettings, name=None):
        super().__init__(name=name or extractor_type)
        version = EFFICIENTDETS[extractor_type][0]
        self._pad_to_multiple = options.pad_to_multiple
        self._backbone_max_level = min(max(LEVEL_ENDPOINTS), bifpn.max_level)
        self._output_layer_alias = [f"level_{level}" for level in range(bifpn.min_level, self._backbone_max_level + 1)]
        overrides = {"rescale_input": False}
        if options.override_base_hyperparams:
            overrides["weight_decay"] = options.hp.regularizer_weight()
        base = efficientnet_model.EfficientNet.from_name(model_name=version, overrides=overrides)
        outputs = [base.get_layer(LEVEL_ENDPOINTS[level]).output
                   for level in range(bifpn.min_level, self._backbone_max_level + 1)]
        self._efficientnet = tf_keras.Model(inputs=base.inputs, outputs=outputs)
        self.classification_backbone = base
        self._bifpn_stage = BiFpnFeatureMaps(bifpn, self._backbone_max_level, options.hp, name="bifpn")

    preprocess = staticmethod(efficientnet_preprocess)

    def call(self, preprocessed_inputs, training=None):  # pylint: disable=arguments-differ
        """Preprocessed images → the BiFPN's maps, finest first."""
        maps = self._efficientnet(pad_to_multiple(preprocessed_inputs, self._pad_to_multiple))
        maps = maps if isinstance(maps, (list, tuple)) else [maps]
        return list(self._bifpn_stage(list(zip(self._output_layer_alias, maps))).values())
