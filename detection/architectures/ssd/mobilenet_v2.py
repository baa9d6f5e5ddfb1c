"""SSD MobileNetV2 feature extractors of the OD API: `ssd_mobilenet_v2_fpn_keras` and `ssd_mobilenet_v2_keras`.

Both preprocess as the OD API's MobileNet extractors: (2 / 255) * x - 1.

`ssd_mobilenet_v2_fpn_keras` (the zoo's FPN-lite 320/640): the backbone gives
block 2, 5 and 12 outputs and `out_relu` (levels 2..5); an FPN of depth
max(int(additional_layer_depth * depth_multiplier), min_depth) over levels
fpn.min_level..min(fpn.max_level, 5), then stride-2 3x3 `bottom_up_Conv2d_*`
blocks on the level-5 output up to fpn.max_level. Separable convs with
use_depthwise. As in the OD API, the backbone maps are taken by position from
the end (with max_level < 5 the levels get deeper maps than their names say).

`ssd_mobilenet_v2_keras` (the zoo's ssd_mobilenet_v2_320x320): the block-13
expansion output (stride 16) and `out_relu` (stride 32), then extra layers of
depths 512, 256, 256, 128 (scaled by depth_multiplier, at least min_depth),
each a 1x1 conv to half depth and a stride-2 3x3 conv, num_layers maps in all.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.networks import keras_backbones
from detection.networks.feature_maps import (ExtractorOptions, FpnLevels, FpnTopDownFeatureMaps,
                                             MultiResolutionFeatureMaps, conv_block, depth_fn, fpn_levels_then_coarse,
                                             pad_to_multiple)
from detection.networks.keras_backbones import FixedPadding

FPN_FEATURE_BLOCKS = ("layer_4", "layer_7", "layer_14", "layer_19")   # levels 2, 3, 4, 5
NUM_LAYERS = 19


def mobilenet_preprocess(resized_inputs: tf.Tensor) -> tf.Tensor:
    """0..255 → -1..1, the OD API's MobileNet preprocessing."""
    return (2.0 / 255.0) * resized_inputs - 1.0


class SsdMobileNetV2FpnFeatureExtractor(tf_keras.Model):
    """The OD API's SSDMobileNetV2FpnKerasFeatureExtractor (see the module doc).

    Subclasses change the backbone (`_backbone`), the names of its four maps for levels 2..5
    (`feature_blocks`) and the number the coarse `bottom_up_Conv2d_*` layers count on from
    (`num_backbone_layers`): the OD API's MobileNetV1 FPN extractor is this class with its backbone.
    """

    feature_blocks = FPN_FEATURE_BLOCKS
    num_backbone_layers = NUM_LAYERS

    def __init__(self, input_shape, options: ExtractorOptions, fpn: FpnLevels,
                 name="SSDMobileNetV2FpnKerasFeatureExtractor"):
        super().__init__(name=name)
        o, hp = options, options.hp
        self._pad_to_multiple = o.pad_to_multiple
        self._fpn_min_level, self._fpn_max_level = fpn.min_level, fpn.max_level
        self.classification_backbone = self._backbone((None, None, input_shape[-1]), o)
        depth = depth_fn(o.depth_multiplier, o.min_depth)(fpn.additional_layer_depth)
        self._base_fpn_max_level = min(fpn.max_level, 5)
        self._num_levels = self._base_fpn_max_level + 1 - fpn.min_level
        self._fpn_features_generator = FpnTopDownFeatureMaps(
            num_levels=self._num_levels, depth=depth, hp=hp, use_depthwise=o.use_depthwise,
            use_explicit_padding=o.use_explicit_padding, name="FeatureMaps")
        padding = "VALID" if o.use_explicit_padding else "SAME"
        self._coarse_feature_layers = []
        for i in range(self._base_fpn_max_level + 1, fpn.max_level + 1):
            layers = [FixedPadding(3, name="fixed_padding")] if o.use_explicit_padding else []
            layers += conv_block(o.use_depthwise, 3, padding, 2,
                                 f"bottom_up_Conv2d_{i - self._base_fpn_max_level + self.num_backbone_layers}", hp,
                                 depth)
            self._coarse_feature_layers.append(layers)

    @staticmethod
    def _backbone(input_shape, o: ExtractorOptions) -> tf_keras.Model:
        return keras_backbones.mobilenet_v2(
            input_shape, keras_backbones.mobilenet_v2_fpn_outputs, alpha=o.depth_multiplier, min_depth=o.min_depth,
            use_explicit_padding=o.use_explicit_padding, hyperparams=o.hp if o.override_base_hyperparams else None)

    preprocess = staticmethod(mobilenet_preprocess)

    def call(self, preprocessed_inputs, training=None):  # pylint: disable=arguments-differ
        """Preprocessed images → the feature maps, finest first."""
        image_features = self.classification_backbone(pad_to_multiple(preprocessed_inputs, self._pad_to_multiple))
        names = self.feature_blocks
        blocks = [names[level - 2] for level in range(self._fpn_min_level, self._base_fpn_max_level + 1)]
        start = len(names) - self._num_levels
        fpn = self._fpn_features_generator([(key, image_features[start + i]) for i, key in enumerate(blocks)])
        return fpn_levels_then_coarse(fpn, blocks, names[self._base_fpn_max_level - 2], self._coarse_feature_layers)


class SsdMobileNetV2FeatureExtractor(tf_keras.Model):
    """The OD API's SSDMobileNetV2KerasFeatureExtractor (see the module doc)."""

    def __init__(self, input_shape, options: ExtractorOptions, num_layers: int = 6,
                 name="SSDMobileNetV2KerasFeatureExtractor"):
        super().__init__(name=name)
        o = options
        self._pad_to_multiple = o.pad_to_multiple
        self.classification_backbone = keras_backbones.mobilenet_v2(
            (None, None, input_shape[-1]), ("block_13_expand_relu", "out_relu"), alpha=o.depth_multiplier,
            min_depth=o.min_depth, use_explicit_padding=o.use_explicit_padding,
            hyperparams=o.hp if o.override_base_hyperparams else None)
        self.feature_map_generator = MultiResolutionFeatureMaps(
            from_layer=["layer_15/expansion_output", "layer_19", "", "", "", ""][:num_layers],
            layer_depth=[-1, -1, 512, 256, 256, 128][:num_layers], depth=depth_fn(o.depth_multiplier, o.min_depth),
            hp=o.hp, use_depthwise=o.use_depthwise, use_explicit_padding=o.use_explicit_padding, name="FeatureMaps")

    preprocess = staticmethod(mobilenet_preprocess)

    def call(self, preprocessed_inputs, training=None):  # pylint: disable=arguments-differ
        """Preprocessed images → the feature maps, finest first."""
        expansion, top = self.classification_backbone(pad_to_multiple(preprocessed_inputs, self._pad_to_multiple))
        return self.feature_map_generator({"layer_15/expansion_output": expansion, "layer_19": top})
