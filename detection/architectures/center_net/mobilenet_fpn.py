"""The OD API's CenterNet MobileNetV2 FPN feature extractors: `mobilenet_v2_fpn`, `mobilenet_v2_fpn_sep_conv`.

Built as `center_net_mobilenet_v2_fpn_feature_extractor.py` builds them, object for object, so a zoo
checkpoint restores by name: the OD API's MobileNetV2 (`keras_models.mobilenet_v2`: no top, its default conv
and batch-norm settings, width `depth_multiplier`) as `_base_model`, a model of its `block_2_add`,
`block_5_add`, `block_9_add` and `out_relu` outputs as `_fpn_model`, and over them as
`_feature_extractor_model` a 1x1 conv (64) on `out_relu`, then three times 2x upsampling
(`upsampling_interpolation`), plus a 1x1 lateral conv of the next finer output (64, 32, 24 filters), a 3x3
conv (32, 24, 24; separable when the config sets `use_separable_conv`, to true or with the `_sep_conv` type:
as the OD API's builder reads it, the type alone does not), batch norm and ReLU: one stride-4 map of 24
channels. Preprocessing: (image - channel_means) / channel_stds, then Keras'
MobileNetV2 `preprocess_input` (x / 127.5 - 1).

The OD API builds its depth_multiplier 1.0 network with Keras' ImageNet weights (downloaded): here the
network starts from the checkpoint it restores, or `classification` from a Keras .h5 (`detflow train
--base-checkpoint`).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.architectures.center_net.preprocessing import ChannelNormalization
from detection.networks import keras_backbones

TYPES = ("mobilenet_v2_fpn", "mobilenet_v2_fpn_sep_conv")
SKIP_LAYERS = ("block_2_add", "block_5_add", "block_9_add", "out_relu")


class CenterNetMobileNetV2FpnFeatureExtractor(tf_keras.Model):
    """The OD API's CenterNetMobileNetV2FPNFeatureExtractor (see the module doc)."""

    out_stride = 4
    num_feature_outputs = 1

    def __init__(self, normalization: ChannelNormalization, depth_multiplier: float = 1.0,
                 use_separable_conv: bool = False, upsampling_interpolation: str = "nearest"):
        super().__init__()
        self._normalization = normalization
        self._base_model = keras_backbones.mobilenet_v2_application(
            (None, None, 3), alpha=depth_multiplier, min_depth=0, hyperparams=None, use_explicit_padding=False)
        self._fpn_model = tf_keras.models.Model(inputs=self._base_model.input,
                                                outputs=[self._base_model.get_layer(n).output for n in SKIP_LAYERS])
        outputs = self._fpn_model(self._base_model.input)
        top_down = tf_keras.layers.Conv2D(filters=64, kernel_size=1, strides=1, padding="same")(outputs[-1])
        num_filters = (64, 32, 24)
        conv = tf_keras.layers.SeparableConv2D if use_separable_conv else tf_keras.layers.Conv2D
        for i, filters in enumerate(num_filters):
            top_down = tf_keras.layers.UpSampling2D(2, interpolation=upsampling_interpolation)(top_down)
            residual = tf_keras.layers.Conv2D(filters=filters, kernel_size=1, strides=1,
                                              padding="same")(outputs[len(num_filters) - 1 - i])
            top_down = top_down + residual
            next_filters = num_filters[i + 1] if i + 1 <= 2 else 24
            top_down = conv(filters=next_filters, kernel_size=3, strides=1, padding="same")(top_down)
            top_down = tf_keras.layers.ReLU()(tf_keras.layers.BatchNormalization()(top_down))
        self._feature_extractor_model = tf_keras.models.Model(inputs=self._base_model.input, outputs=top_down)

    @property
    def classification_backbone(self) -> tf_keras.Model:
        """The MobileNetV2 (what a `classification` checkpoint holds as `feature_extractor`)."""
        return self._base_model

    def preprocess(self, resized_inputs: tf.Tensor) -> tf.Tensor:
        """Resized 0..255 RGB images → the network input (see the module doc)."""
        return tf_keras.applications.mobilenet_v2.preprocess_input(self._normalization(resized_inputs))

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        """Network input → [the stride-4 feature map]."""
        return [self._feature_extractor_model(inputs, training=training)]
