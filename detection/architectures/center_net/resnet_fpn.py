"""The OD API's CenterNet ResNet v1 FPN feature extractors: `resnet_v1_50_fpn`, `resnet_v1_101_fpn`.

Built as `center_net_resnet_v1_fpn_feature_extractor.py` builds them, object for object, so a zoo
checkpoint restores by name: Keras' own ResNet50 / ResNet101 (no weights, no top) as `_base_model`, a model
of its conv2..conv5 block outputs as `_resnet_model`, and over them a one-output FPN as
`_feature_extractor_model`: a 1x1 conv (256) on conv5, then three times nearest 2x upsampling, plus a 1x1
lateral conv of the next finer block (256, 128, 64 filters), a 3x3 conv (128, 64, 64), batch norm and ReLU.
The output has stride 4 and 64 channels. Preprocessing: (image - channel_means) / channel_stds (RGB, or BGR
with bgr_ordering), then Keras' ResNet `preprocess_input` (caffe: BGR, ImageNet means subtracted).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.architectures.center_net.preprocessing import ChannelNormalization

_OUTPUT_LAYERS = {
    "resnet_v1_50": ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    "resnet_v1_101": ("conv2_block3_out", "conv3_block4_out", "conv4_block23_out", "conv5_block3_out"),
}
_APPLICATIONS = {"resnet_v1_50": tf_keras.applications.ResNet50, "resnet_v1_101": tf_keras.applications.ResNet101}
TYPES = {"resnet_v1_50_fpn": "resnet_v1_50", "resnet_v1_101_fpn": "resnet_v1_101"}


class CenterNetResnetV1FpnFeatureExtractor(tf_keras.Model):
    """The OD API's CenterNetResnetV1FpnFeatureExtractor (see the module doc): one stride-4 feature map."""

    out_stride = 4
    num_feature_outputs = 1

    def __init__(self, resnet_type: str, normalization: ChannelNormalization):
        super().__init__()
        self._normalization = normalization
        self._base_model = _APPLICATIONS[resnet_type](weights=None, include_top=False)
        outputs = [self._base_model.get_layer(name).output for name in _OUTPUT_LAYERS[resnet_type]]
        self._resnet_model = tf_keras.models.Model(inputs=self._base_model.input, outputs=outputs)
        resnet_outputs = self._resnet_model(self._base_model.input)
        top_down = tf_keras.layers.Conv2D(filters=256, kernel_size=1, strides=1, padding="same")(resnet_outputs[-1])
        num_filters = (256, 128, 64)
        for i, filters in enumerate(num_filters):
            top_down = tf_keras.layers.UpSampling2D(2, interpolation="nearest")(top_down)
            residual = tf_keras.layers.Conv2D(filters=filters, kernel_size=1, strides=1,
                                              padding="same")(resnet_outputs[2 - i])
            top_down = top_down + residual
            next_filters = num_filters[i + 1] if i + 1 <= 2 else 64
            top_down = tf_keras.layers.Conv2D(filters=next_filters, kernel_size=3, strides=1,
                                              padding="same")(top_down)
            top_down = tf_keras.layers.BatchNormalization()(top_down)
            top_down = tf_keras.layers.ReLU()(top_down)
        self._feature_extractor_model = tf_keras.models.Model(inputs=self._base_model.input, outputs=top_down)

    @property
    def classification_backbone(self) -> tf_keras.Model:
        """Keras' ResNet (what a `classification` checkpoint holds as `feature_extractor`)."""
        return self._base_model

    def preprocess(self, resized_inputs: tf.Tensor) -> tf.Tensor:
        """Resized 0..255 RGB images → the network input (see the module doc)."""
        return tf_keras.applications.resnet.preprocess_input(self._normalization(resized_inputs))

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        """Network input → [the stride-4 feature map]."""
        return [self._feature_extractor_model(inputs, training=training)]
