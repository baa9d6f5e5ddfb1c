"""The OD API's CenterNet ResNet v2 feature extractor: `resnet_v2_50`.

Built as `center_net_resnet_feature_extractor.py` builds it, object for object, so a zoo checkpoint restores
by name: Keras' own ResNet50V2 (no weights, no top) as `_base_model`, a model of its conv5 block output as
`_resnet_model` (its `post_bn` is not used), and over it as `_feature_extractor_model` three times a 3x3 conv
(256, 128, 64 filters), batch norm and ReLU, then a stride-2 3x3 transposed conv of as many filters, batch norm
and ReLU: one stride-4 map of 64 channels. Preprocessing: (image - channel_means) / channel_stds, then Keras'
ResNet v2 `preprocess_input` (x / 127.5 - 1).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.architectures.center_net.preprocessing import ChannelNormalization

TYPES = {"resnet_v2_50": tf_keras.applications.ResNet50V2}


class CenterNetResnetFeatureExtractor(tf_keras.Model):
    """The OD API's CenterNetResnetFeatureExtractor (see the module doc)."""

    out_stride = 4
    num_feature_outputs = 1

    def __init__(self, resnet_type: str, normalization: ChannelNormalization):
        super().__init__()
        self._normalization = normalization
        self._base_model = TYPES[resnet_type](weights=None, include_top=False)
        self._resnet_model = tf_keras.models.Model(inputs=self._base_model.input,
                                                   outputs=self._base_model.get_layer("conv5_block3_out").output)
        out = self._resnet_model(self._base_model.input)
        for filters in (256, 128, 64):
            out = tf_keras.layers.Conv2D(filters=filters, kernel_size=3, strides=1, padding="same")(out)
            out = tf_keras.layers.ReLU()(tf_keras.layers.BatchNormalization()(out))
            out = tf_keras.layers.Conv2DTranspose(filters=filters, kernel_size=3, strides=2, padding="same")(out)
            out = tf_keras.layers.ReLU()(tf_keras.layers.BatchNormalization()(out))
        self._feature_extractor_model = tf_keras.models.Model(inputs=self._base_model.input, outputs=out)

    @property
    def classification_backbone(self) -> tf_keras.Model:
        """Keras' ResNet50V2 (what a `classification` checkpoint holds as `feature_extractor`)."""
        return self._base_model

    def preprocess(self, resized_inputs: tf.Tensor) -> tf.Tensor:
        """Resized 0..255 RGB images → the network input (see the module doc)."""
        return tf_keras.applications.resnet_v2.preprocess_input(self._normalization(resized_inputs))

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        """Network input → [the stride-4 feature map]."""
        return [self._feature_extractor_model(inputs, training=training)]
