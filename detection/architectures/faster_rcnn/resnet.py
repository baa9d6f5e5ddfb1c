"""The OD API's Faster R-CNN ResNet v1 feature extractor (`faster_rcnn_resnet_keras_feature_extractor`).

`faster_rcnn_resnet{50,101,152}_keras` cut the OD API's Keras ResNet v1
(`keras_backbones.resnet_v1`'s application: stride on the first 1x1 conv, the
stem padded 3/3 then VALID, no conv bias, batch norm epsilon 1e-5, ReLU) in two:

- the proposal features: the image to `conv4_blockN_out` (stride 16, 1024
  channels), a functional model over the backbone's own input;
- the box classifier features: `conv4_blockN_out` to `conv5_block3_out`, the
  same layers re-applied to a new input (the OD API's
  `model_util.extract_submodel`), run on each max-pooled crop.

Both are functional models whose weighted layers are numbered as in the OD
API's checkpoints (`layer_with_weights-N`). Preprocessing subtracts the VGG
channel means, without scaling.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.networks.keras_backbones import RESNET_APPLICATIONS, ResNetLayersOverride

CHANNEL_MEANS = (123.68, 116.779, 103.939)
DEPTHS = {"faster_rcnn_resnet50_keras": 50, "faster_rcnn_resnet101_keras": 101, "faster_rcnn_resnet152_keras": 152}
CONV4_LAST_LAYERS = {50: "conv4_block6_out", 101: "conv4_block23_out", 152: "conv4_block36_out"}


def vgg_preprocess(resized_images: tf.Tensor) -> tf.Tensor:
    """Resized 0..255 RGB → minus the VGG channel means (the OD API's Faster R-CNN ResNet preprocessing)."""
    return tf.cast(resized_images, tf.float32) - tf.constant([[list(CHANNEL_MEANS)]], tf.float32)


def resnet_v1_full(depth: int) -> tf_keras.Model:
    """The OD API's Keras ResNet v1 `depth` without top, on images of any size (its classification backbone)."""
    # The OD API's Faster R-CNN feature extractors build it with weight_decay 0 (no fasterrcnn proto field sets it).
    override = ResNetLayersOverride(None, 1.0, 16, weight_decay=0.0)
    return getattr(tf_keras.applications, RESNET_APPLICATIONS[depth])(
        input_shape=(None, None, 3), include_top=False, weights=None, layers=override)


def extract_submodel(model: tf_keras.Model, inputs, outputs, name: str | None = None) -> tf_keras.Model:
    """A functional model of `model`'s layers between the tensors `inputs` and `outputs` (shared weights).

    The OD API's `model_util.extract_submodel`: walks back from `outputs`, re-applying each layer
    to a fresh Input standing for `inputs`.
    """
    producer = {}
    for layer in model.layers:
        producer[id(layer.output)] = (layer, layer.input)
    fresh = tf_keras.layers.Input(shape=inputs.shape[1:], dtype=inputs.dtype)
    memo = {id(inputs): fresh}

    def walk(tensor):
        if id(tensor) in memo:
            return memo[id(tensor)]
        layer, layer_inputs = producer[id(tensor)]
        if isinstance(layer_inputs, list):
            out = layer([walk(t) for t in layer_inputs])
        else:
            out = layer(walk(layer_inputs))
        memo[id(tensor)] = out
        return out

    return tf_keras.Model(inputs=fresh, outputs=walk(outputs), name=name)


class FasterRcnnResNetFeatureExtractor:
    """The two halves of the OD API's ResNet v1 for Faster R-CNN (see the module doc).

    Not a Keras layer on purpose: the detector tracks the two halves under the OD API's
    attribute names, and the full classification backbone stays untracked so no variable
    gets a second, differently numbered checkpoint path.
    """

    def __init__(self, feature_extractor_type: str):
        self.depth = DEPTHS[feature_extractor_type]
        self.classification_backbone = resnet_v1_full(self.depth)
        conv4 = self.classification_backbone.get_layer(CONV4_LAST_LAYERS[self.depth]).output
        conv5 = self.classification_backbone.get_layer("conv5_block3_out").output
        self.proposal_features = tf_keras.Model(inputs=self.classification_backbone.inputs, outputs=conv4,
                                                name="FirstStageFeatureExtractor")
        self.box_classifier_features = extract_submodel(self.classification_backbone, conv4, conv5,
                                                        name="SecondStageFeatureExtractor")

    @staticmethod
    def preprocess(resized_images: tf.Tensor) -> tf.Tensor:
        """See `vgg_preprocess`."""
        return vgg_preprocess(resized_images)
