"""The OD API's Keras SSD box predictors, with its heads.

`WeightSharedConvolutionalBoxPredictor` (RetinaNet-style, one set of tower convs
for every level, batch norm per level): a box tower (or one `PredictionTower`
shared by both heads with share_prediction_tower) and a class tower of
num_layers_before_predictor convs of `depth` (separable with use_depthwise, no
bias under a centred batch norm), then a box conv of A*4 and a class conv of
A*(num_classes+1) outputs, kernel_size, with bias; the class bias starts at
class_prediction_bias_init. Feature maps of other depths first get a 1x1
projection. `ConvolutionalBoxPredictor` (SSD): per level, optional 1x1 convs,
then a box and a class conv of kernel_size (depthwise + 1x1 with use_depthwise).

Outputs are the OD API's: box encodings [B, N, 4] and class logits
[B, N, num_classes + 1] (background first; num_classes without add_background_class), anchors ordered by level, row,
column, anchor. Attribute names and layouts are the OD API's, so the variables
sit under the object paths of its checkpoints.
"""

from __future__ import annotations

import collections
import dataclasses

import tensorflow as tf
import tf_keras

from detection.networks.feature_maps import apply
from detection.networks.hyperparams import LayerHyperparams

BOX_ENCODINGS = "box_encodings"
CLASS_PREDICTIONS = "class_predictions_with_background"


@dataclasses.dataclass(frozen=True)
class HeadOptions:
    """The fields both box predictor messages share (and name alike): their tower and heads' settings."""

    num_layers_before_predictor: int = 0
    kernel_size: int = 1
    class_prediction_bias_init: float = 0.0
    use_depthwise: bool = False
    box_code_size: int = 4
    use_dropout: bool = False
    dropout_keep_probability: float = 0.8
    add_background_class: bool = True          # model.ssd's: the class head's num_classes + 1 columns, or num_classes

    @classmethod
    def from_proto(cls, message, add_background_class: bool = True) -> "HeadOptions":
        """From a `weight_shared_convolutional_box_predictor` or `convolutional_box_predictor` message."""
        return cls(**{f.name: getattr(message, f.name) for f in dataclasses.fields(cls)
                      if f.name != "add_background_class"}, add_background_class=add_background_class)


class _Head(tf_keras.Model):
    """A head: its layers, then a reshape to [B, -1, slots] (box encodings clipped to a range if given)."""

    def __init__(self, attribute: str, slots: int, layers: list, name: str,
                 clip_range: tuple[float, float] | None = None):
        super().__init__(name=name)
        setattr(self, attribute, layers)
        self._attribute = attribute
        self._slots = slots
        self._clip_range = clip_range

    def call(self, features, training=None):  # pylint: disable=arguments-differ
        out = features
        for layer in getattr(self, self._attribute):
            out = layer(out, training=training) if isinstance(layer, tf_keras.layers.Dropout) else layer(out)
        if self._clip_range is not None:
            out = tf.clip_by_value(out, *self._clip_range)
        return tf.reshape(out, [tf.shape(features)[0], -1, self._slots])


def _dropout(use_dropout: bool, keep_probability: float) -> list:
    """The OD API's class-head dropout, first in the head's layer list (it shifts the conv's index)."""
    return [tf_keras.layers.Dropout(rate=1.0 - keep_probability)] if use_dropout else []


def _conv(depth: int, kernel_size: int, use_depthwise: bool, name: str, params: dict, **extra):
    if use_depthwise:
        return tf_keras.layers.SeparableConv2D(depth, [kernel_size, kernel_size], padding="SAME",
                                               depth_multiplier=1, strides=1, name=name, **params, **extra)
    return tf_keras.layers.Conv2D(depth, [kernel_size, kernel_size], padding="SAME", name=name, **params, **extra)


class WeightSharedConvolutionalBoxPredictor(tf_keras.Model):
    """The OD API's WeightSharedConvolutionalBoxPredictor (see the module doc)."""

    def __init__(self, num_classes: int, num_anchors: int, hp: LayerHyperparams, depth: int, heads: HeadOptions,
                 share_prediction_tower: bool = False, box_encodings_clip_range: tuple[float, float] | None = None,
                 name="WeightSharedConvolutionalBoxPredictor"):
        super().__init__(name=name)
        self.num_classes = num_classes
        slots = num_classes + int(heads.add_background_class)
        self._hp, self._depth, self._num_layers = hp, depth, heads.num_layers_before_predictor
        self._kernel_size, self._share, self._use_depthwise = heads.kernel_size, share_prediction_tower, \
            heads.use_depthwise
        self._apply_batch_norm = hp.use_batch_norm
        # The OD API gives the heads' separable convs no depthwise initializer/regularizer
        # (apply_conv_hyperparams_to_heads is off).
        params = lambda: hp.params(use_bias=True)  # noqa: E731
        code = heads.box_code_size
        self._box_prediction_head = _Head("_box_encoder_layers", code, [_conv(
            num_anchors * code, heads.kernel_size, heads.use_depthwise, "BoxPredictor", params())],
            name="WeightSharedConvolutionalBoxHead", clip_range=box_encodings_clip_range)
        init = tf_keras.initializers.Constant(heads.class_prediction_bias_init)
        self._prediction_heads = {CLASS_PREDICTIONS: _Head("_class_predictor_layers", slots, _dropout(
            heads.use_dropout, heads.dropout_keep_probability) + [_conv(
                num_anchors * slots, heads.kernel_size, heads.use_depthwise, "ClassPredictor", params(),
                bias_initializer=init)], name="WeightSharedConvolutionalClassHead")}
        self._additional_projection_layers = []
        self._base_tower_layers_for_heads = {BOX_ENCODINGS: [], CLASS_PREDICTIONS: []}
        self._head_scope_conv_layers = {}
        self._built_for = None

    def _tower(self, scope: str, feature_index: int) -> list:
        use_bias = not (self._apply_batch_norm and not self._hp.force_use_bias)
        if scope not in self._head_scope_conv_layers:
            params = self._hp.separable_params if self._use_depthwise else self._hp.params
            self._head_scope_conv_layers[scope] = [
                _conv(self._depth, self._kernel_size, self._use_depthwise, f"{scope}/conv2d_{i}",
                      params(use_bias=use_bias)) for i in range(self._num_layers)]
        layers = []
        for i, conv in enumerate(self._head_scope_conv_layers[scope]):
            layers.append(conv)
            if self._apply_batch_norm:
                layers.append(self._hp.build_batch_norm(name=f"{scope}/conv2d_{i}/BatchNorm/feature_{feature_index}"))
            layers.append(self._hp.build_activation(name=f"{scope}/conv2d_{i}/activation_{feature_index}"))
        return layers

    def build_for(self, feature_channels: list[int]) -> None:
        """Creates the per-level layers for feature maps of these depths (the OD API's `build`)."""
        if self._built_for is not None:
            return
        self._built_for = list(feature_channels)
        different = len(set(feature_channels)) > 1
        target = max(set(feature_channels), key=feature_channels.count) if different else -1
        counter = 0 if different else -1
        use_bias = not (self._apply_batch_norm and not self._hp.force_use_bias)
        for index in range(len(feature_channels)):
            projection = []
            if counter >= 0:
                projection.append(tf_keras.layers.Conv2D(target, [1, 1], strides=1, padding="SAME",
                                                         name=f"ProjectionLayer/conv2d_{counter}",
                                                         **self._hp.params(use_bias=use_bias)))
                if self._apply_batch_norm:
                    projection.append(self._hp.build_batch_norm(name=f"ProjectionLayer/conv2d_{counter}/BatchNorm"))
                counter += 1
            self._additional_projection_layers.append(projection)
            box_scope = "PredictionTower" if self._share else "BoxPredictionTower"
            self._base_tower_layers_for_heads[BOX_ENCODINGS].append(self._tower(box_scope, index))
            # Built even when shared, as the OD API does (its convs then never run and hold no variables).
            self._base_tower_layers_for_heads[CLASS_PREDICTIONS].append(self._tower("ClassPredictionTower", index))

    def call(self, feature_maps, training=None):  # pylint: disable=arguments-differ
        """feature_maps: list, finest first → {box_encodings: [B,N,4], class_predictions_with_background}."""
        self.build_for([int(f.shape[-1]) for f in feature_maps])
        boxes, classes = [], []
        for index, feature in enumerate(feature_maps):
            feature = apply(self._additional_projection_layers[index], feature)
            box_tower = apply(self._base_tower_layers_for_heads[BOX_ENCODINGS][index], feature)
            boxes.append(self._box_prediction_head(box_tower))
            class_tower = box_tower if self._share else apply(
                self._base_tower_layers_for_heads[CLASS_PREDICTIONS][index], feature)
            classes.append(self._prediction_heads[CLASS_PREDICTIONS](class_tower))
        return {BOX_ENCODINGS: tf.concat(boxes, axis=1), CLASS_PREDICTIONS: tf.concat(classes, axis=1)}


class ConvolutionalBoxPredictor(tf_keras.Model):
    """The OD API's ConvolutionalBoxPredictor (see the module doc)."""

    def __init__(self, num_classes: int, num_anchors_per_level: list[int], hp: LayerHyperparams, heads: HeadOptions,
                 min_depth: int = 0, max_depth: int = 0, name="BoxPredictor"):
        super().__init__(name=name)
        self.num_classes = num_classes
        slots = num_classes + int(heads.add_background_class)
        self._hp, self._num_layers = hp, heads.num_layers_before_predictor
        self._min_depth, self._max_depth = min_depth, max_depth
        code, kernel, depthwise = heads.box_code_size, heads.kernel_size, heads.use_depthwise
        boxes, classes = [], []
        for index, anchors in enumerate(num_anchors_per_level):
            boxes.append(_Head("_box_encoder_layers", code, self._head_layers(
                anchors * code, kernel, depthwise, "BoxEncodingPredictor"), name=f"ConvolutionalBoxHead_{index}"))
            classes.append(_Head("_class_predictor_layers", slots, _dropout(
                heads.use_dropout, heads.dropout_keep_probability) + self._head_layers(
                anchors * slots, kernel, depthwise, "ClassPredictor",
                bias_initializer=tf_keras.initializers.Constant(heads.class_prediction_bias_init)),
                name=f"ConvolutionalClassHead_{index}"))
        self._prediction_heads = {BOX_ENCODINGS: boxes, CLASS_PREDICTIONS: classes}
        self._shared_nets = []

    def _head_layers(self, outputs: int, kernel_size: int, use_depthwise: bool, name: str, **extra) -> list:
        hp = self._hp
        if use_depthwise:
            return [tf_keras.layers.DepthwiseConv2D([kernel_size, kernel_size], padding="SAME", depth_multiplier=1,
                                                    strides=1, name=name + "_depthwise", **hp.params()),
                    hp.build_batch_norm(name=name + "_depthwise_batchnorm"),
                    hp.build_activation(name=name + "_depthwise_activation"),
                    tf_keras.layers.Conv2D(outputs, [1, 1], name=name, **hp.params(use_bias=True))]
        return [tf_keras.layers.Conv2D(outputs, [kernel_size, kernel_size], padding="SAME", name=name,
                                       **hp.params(use_bias=True), **extra)]

    def build_for(self, feature_channels: list[int]) -> None:
        """Creates the optional 1x1 convs of each level (the OD API's `build`)."""
        if self._shared_nets:
            return
        for stack, channels in enumerate(feature_channels):
            depth = max(min(channels, self._max_depth), self._min_depth)
            net = []
            if depth > 0 and self._num_layers > 0:
                for i in range(self._num_layers):
                    name = f"SharedConvolutions_{stack}/Conv2d_{i}_1x1_{depth}"
                    net += [tf_keras.layers.Conv2D(depth, [1, 1], name=name, padding="SAME", **self._hp.params()),
                            self._hp.build_batch_norm(name=name + "_norm"),
                            self._hp.build_activation(name=name + "_activation")]
            self._shared_nets.append(net)

    def call(self, feature_maps, training=None):  # pylint: disable=arguments-differ
        """feature_maps: list, finest first → {box_encodings: [B,N,4], class_predictions_with_background}."""
        self.build_for([int(f.shape[-1]) for f in feature_maps])
        out = collections.defaultdict(list)
        for index, feature in enumerate(feature_maps):
            feature = apply(self._shared_nets[index], feature)
            for key in (BOX_ENCODINGS, CLASS_PREDICTIONS):
                out[key].append(self._prediction_heads[key][index](feature))
        return {key: tf.concat(value, axis=1) for key, value in out.items()}
