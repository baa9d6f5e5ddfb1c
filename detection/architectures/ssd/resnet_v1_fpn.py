"""SSD ResNet v1 FPN feature extractors of the OD API: `ssd_resnet{50,101,152}_v1_fpn_keras` (RetinaNet).

Preprocessing subtracts the VGG channel means (123.68, 116.779, 103.939), no
scaling. The backbone is the OD API's Keras ResNet v1 (`keras_backbones.resnet_v1`)
with block 1..4 outputs for levels 2..5; an FPN of depth
max(int(additional_layer_depth * depth_multiplier), min_depth) over levels
fpn.min_level..min(fpn.max_level, 5), then stride-2 3x3 `bottom_up_block*`
convs (regular, never separable) from the level-5 output up to fpn.max_level.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.networks import keras_backbones
from detection.networks.feature_maps import (ExtractorOptions, FpnLevels, FpnTopDownFeatureMaps, depth_fn,
                                             fpn_levels_then_coarse, pad_to_multiple)

VGG_MEANS = (123.68, 116.779, 103.939)
DEPTHS = {"ssd_resnet50_v1_fpn_keras": 50, "ssd_resnet101_v1_fpn_keras": 101, "ssd_resnet152_v1_fpn_keras": 152}
BLOCKS = ("block1", "block2", "block3", "block4")


def resnet_preprocess(resized_inputs: tf.Tensor) -> tf.Tensor:
    """Subtracts the VGG channel means (the OD API's ResNet preprocessing)."""
    return resized_inputs - tf.constant([[VGG_MEANS]], resized_inputs.dtype)


class SsdResNetV1FpnFeatureExtractor(tf_keras.Model):
    """The OD API's SSDResNetV1FpnKerasFeatureExtractor (see the module doc)."""

    def __init__(self, input_shape, resnet_depth: int, options: ExtractorOptions, fpn: FpnLevels, name=None):
        super().__init__(name=name or f"ResNet{resnet_depth}V1_FPN")
        o, hp = options, options.hp
        self._pad_to_multiple = o.pad_to_multiple
        self._fpn_min_level = fpn.min_level
        self.classification_backbone = keras_backbones.resnet_v1(
            resnet_depth, (None, None, input_shape[-1]), depth_multiplier=o.depth_multiplier, min_depth=o.min_depth,
            hyperparams=hp if o.override_base_hyperparams else None)
        depth = depth_fn(o.depth_multiplier, o.min_depth)(fpn.additional_layer_depth)
        self._base_fpn_max_level = min(fpn.max_level, 5)
        self._num_levels = self._base_fpn_max_level + 1 - fpn.min_level
        self._fpn_features_generator = FpnTopDownFeatureMaps(num_levels=self._num_levels, depth=depth, hp=hp,
                                                             name="FeatureMaps")
        self._coarse_feature_layers = []
        for i in range(self._base_fpn_max_level, fpn.max_level):
            name = f"bottom_up_block{i}"
            self._coarse_feature_layers.append([
                tf_keras.layers.Conv2D(depth, [3, 3], padding="SAME", strides=2, name=name + "_conv", **hp.params()),
                hp.build_batch_norm(name=name + "_batchnorm"), hp.build_activation(name=name)])

    preprocess = staticmethod(resnet_preprocess)

    def call(self, preprocessed_inputs, training=None):  # pylint: disable=arguments-differ
        """Preprocessed images → the feature maps, finest first."""
        features = dict(zip(BLOCKS, self.classification_backbone(
            pad_to_multiple(preprocessed_inputs, self._pad_to_multiple))))
        blocks = [f"block{level - 1}" for level in range(self._fpn_min_level, self._base_fpn_max_level + 1)]
        fpn = self._fpn_features_generator([(key, features[key]) for key in blocks])
        return fpn_levels_then_coarse(fpn, blocks, f"block{self._base_fpn_max_level - 1}",
                                      self._coarse_feature_layers)
