"""The OD API's `ssd_mobilenet_v1_fpn_keras` (the zoo's SSD MobileNet V1 FPN 640x640, a RetinaNet on MobileNetV1).

The MobileNetV2 FPN extractor's structure (mobilenet_v2.SsdMobileNetV2FpnFeatureExtractor) on the OD API's
MobileNetV1 (keras_backbones.mobilenet_v1): levels 2..5 from `conv_pw_3/5/11/13_relu`
(`Conv2d_{3,5,11,13}_pointwise`), an FPN of depth max(int(additional_layer_depth * depth_multiplier),
min_depth) up to level 5, then stride-2 `bottom_up_Conv2d_{14..}` blocks; with use_depthwise the
backbone's last two pointwise convs have 512 and 256 filters (the OD API's conv_defs) and the FPN's
convs are separable. Preprocessing: (2 / 255) * x - 1.
"""

from __future__ import annotations

import tf_keras

from detection.architectures.ssd.mobilenet_v2 import SsdMobileNetV2FpnFeatureExtractor
from detection.networks import keras_backbones
from detection.networks.feature_maps import ExtractorOptions, FpnLevels

BACKBONE_OUTPUTS = ("conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_11_relu", "conv_pw_13_relu")
DEPTHWISE_CONV_DEFS = {"conv_pw_12": 512, "conv_pw_13": 256}


class SsdMobileNetV1FpnFeatureExtractor(SsdMobileNetV2FpnFeatureExtractor):
    """The OD API's SSDMobileNetV1FpnKerasFeatureExtractor (see the module doc)."""

    feature_blocks = ("Conv2d_3_pointwise", "Conv2d_5_pointwise", "Conv2d_11_pointwise", "Conv2d_13_pointwise")
    num_backbone_layers = 13

    def __init__(self, input_shape, options: ExtractorOptions, fpn: FpnLevels,
                 name="SSDMobileNetV1FpnKerasFeatureExtractor"):
        super().__init__(input_shape, options, fpn, name=name)

    @staticmethod
    def _backbone(input_shape, o: ExtractorOptions) -> tf_keras.Model:
        return keras_backbones.mobilenet_v1(
            input_shape, BACKBONE_OUTPUTS, alpha=o.depth_multiplier, min_depth=o.min_depth,
            use_explicit_padding=o.use_explicit_padding, hyperparams=o.hp if o.override_base_hyperparams else None,
            conv_defs=DEPTHWISE_CONV_DEFS if o.use_depthwise else None)
