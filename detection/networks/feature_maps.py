"""The OD API's Keras feature-map generators: FPN top-down path and SSD's extra layers.

`FpnTopDownFeatureMaps` is `feature_map_generators.KerasFpnTopDownFeatureMaps`:
the top level is a 1x1 projection (with bias, no norm, no activation); going
down, each level is the nearest-neighbour x2 upsampling of the level above
*after its smoothing* plus a 1x1 projection of the backbone map, then smoothed
by a 3x3 conv (separable with use_depthwise) + batch norm + activation.
`MultiResolutionFeatureMaps` is `KerasMultiResolutionFeatureMaps` with
`insert_1x1_conv`: the backbone maps as they are, then extra maps made by a 1x1
conv to half depth and a stride-2 3x3 conv (depthwise + 1x1 with use_depthwise).

Attribute names and list layouts are the OD API's, so both track their
variables under the object paths its checkpoints use.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Sequence

import tensorflow as tf
import tf_keras

from detection.networks.hyperparams import LayerHyperparams
from detection.networks.keras_backbones import FixedPadding

ACTIVATION_BOUND = 6.0


@dataclasses.dataclass(frozen=True)
class ExtractorOptions:
    """The `feature_extractor` fields every SSD feature extractor reads (`hp`: its conv_hyperparams)."""

    depth_multiplier: float
    min_depth: int
    pad_to_multiple: int
    hp: LayerHyperparams
    override_base_hyperparams: bool
    use_explicit_padding: bool = False
    use_depthwise: bool = False


@dataclasses.dataclass(frozen=True)
class FpnLevels:
    """`feature_extractor.fpn`: the levels the FPN makes and its depth before depth_multiplier."""

    min_level: int
    max_level: int
    additional_layer_depth: int


def pad_to_multiple(inputs: tf.Tensor, multiple: int) -> tf.Tensor:
    """Zero-pads height and width at the bottom/right up to a multiple (the OD API's ops.pad_to_multiple)."""
    if multiple <= 1:
        return inputs
    height, width = inputs.shape[1], inputs.shape[2]
    new_h, new_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
    if (new_h, new_w) == (height, width):
        return inputs
    return tf.pad(inputs, [[0, 0], [0, new_h - height], [0, new_w - width], [0, 0]])


def depth_fn(depth_multiplier: float, min_depth: int):
    """The OD API's `get_depth_fn`: max(int(depth * multiplier), min_depth)."""
    return lambda depth: max(int(depth * depth_multiplier), min_depth)


def nearest_neighbor_upsampling(inputs: tf.Tensor, scale: int = 2) -> tf.Tensor:
    """Repeats every pixel `scale` x `scale` times (the OD API's stack + reshape)."""
    shape = tf.shape(inputs)
    static = inputs.shape.as_list()
    batch = static[0] if static[0] is not None else shape[0]
    height = static[1] if static[1] is not None else shape[1]
    width = static[2] if static[2] is not None else shape[2]
    channels = static[3]
    out = tf.stack([inputs] * scale, axis=3)
    out = tf.reshape(out, [batch, height, width * scale, channels])
    out = tf.stack([out] * scale, axis=2)
    return tf.reshape(out, [batch, height * scale, width * scale, channels])


class _Fn(tf_keras.layers.Layer):
    """A weightless step of the OD API's layer lists (its `Lambda` layers)."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self._fn = fn

    def call(self, inputs):  # pylint: disable=arguments-differ
        return self._fn(inputs)

    def get_config(self):
        return {"fn": getattr(self._fn, "__name__", "lambda"), **super().get_config()}


def _clip(features):
    return tf.clip_by_value(features, -ACTIVATION_BOUND, ACTIVATION_BOUND)


def conv_block(use_depthwise: bool, kernel_size: int, padding: str, stride: int, name: str,
               hp: LayerHyperparams, depth: int) -> list:
    """The OD API's `create_conv_block`: (separable) conv, batch norm, activation."""
    if use_depthwise:
        conv = tf_keras.layers.SeparableConv2D(depth, [kernel_size, kernel_size], depth_multiplier=1,
                                               padding=padding, strides=stride, name=name + "_depthwise_conv",
                                               **hp.separable_params())
    else:
        conv = tf_keras.layers.Conv2D(depth, [kernel_size, kernel_size], padding=padding, strides=stride,
                                      name=name + "_conv", **hp.params())
    return [conv, hp.build_batch_norm(name=name + "_batchnorm"), hp.build_activation(name=name)]


def apply(layers: Sequence, inputs):
    """Applies a list of layers in order."""
    for layer in layers:
        inputs = layer(inputs)
    return inputs


class FpnTopDownFeatureMaps(tf_keras.Model):
    """The OD API's Keras FPN top-down path (see the module doc)."""

    def __init__(self, num_levels: int, depth: int, hp: LayerHyperparams, use_depthwise: bool = False,
                 use_explicit_padding: bool = False, use_bounded_activations: bool = False, name=None):
        super().__init__(name=name)
        self.top_layers, self.residual_blocks, self.top_down_blocks = [], [], []
        self.reshape_blocks, self.conv_layers = [], []
        padding = "VALID" if use_explicit_padding else "SAME"
        self.top_layers.append(tf_keras.layers.Conv2D(depth, [1, 1], strides=1, padding=padding,
                                                      name=f"projection_{num_levels}", **hp.params(use_bias=True)))
        if use_bounded_activations:
            self.top_layers.append(_Fn(_clip, name="clip_by_value"))
        for level in reversed(range(num_levels - 1)):
            residual = [tf_keras.layers.Conv2D(depth, [1, 1], padding=padding, strides=1,
                                               name=f"projection_{level + 1}", **hp.params(use_bias=True))]
            if use_bounded_activations:
                residual.append(_Fn(_clip, name="clip_by_value"))
            top_down = [_Fn(nearest_neighbor_upsampling, name="nearest_neighbor_upsampling")]
            reshape = ([_Fn(lambda pair: pair[1][:, :tf.shape(pair[0])[1], :tf.shape(pair[0])[2], :],
                            name="reshape")] if use_explicit_padding else [])
            conv = []
            if use_bounded_activations:
                conv.append(_Fn(_clip, name="clip_by_value"))
            if use_explicit_padding:
                conv.append(FixedPadding(3, name="fixed_padding"))
            conv.extend(conv_block(use_depthwise, 3, padding, 1, f"smoothing_{level + 1}", hp, depth))
            self.residual_blocks.append(residual)
            self.top_down_blocks.append(top_down)
            self.reshape_blocks.append(reshape)
            self.conv_layers.append(conv)

    def call(self, image_features, training=None):  # pylint: disable=arguments-differ
        """image_features: [(key, map)] from the finest level up → OrderedDict top_down_<key>, finest first."""
        top_down = apply(self.top_layers, image_features[-1][1])
        outputs = [(f"top_down_{image_features[-1][0]}", top_down)]
        for index, level in enumerate(reversed(range(len(image_features) - 1))):
            residual = apply(self.residual_blocks[index], image_features[level][1])
            top_down = apply(self.top_down_blocks[index], outputs[-1][1])
            for layer in self.reshape_blocks[index]:
                top_down = layer([residual, top_down])
            top_down = apply(self.conv_layers[index], top_down + residual)
            outputs.append((f"top_down_{image_features[level][0]}", top_down))
        return collections.OrderedDict(reversed(outputs))


def fpn_levels_then_coarse(fpn_outputs: dict, blocks: Sequence[str], top_block: str, coarse_layers: Sequence) -> list:
    """The FPN extractors' feature maps: the top-down outputs of `blocks`, then the coarse levels.

    Each coarse level is its stride-2 block applied to the level before it,
    starting from the top block's output.
    """
    maps = [fpn_outputs[f"top_down_{key}"] for key in blocks]
    last = fpn_outputs[f"top_down_{top_block}"]
    for layers in coarse_layers:
        last = apply(layers, last)
        maps.append(last)
    return maps


class MultiResolutionFeatureMaps(tf_keras.Model):
    """The OD API's `KerasMultiResolutionFeatureMaps` with insert_1x1_conv (see the module doc)."""

    def __init__(self, from_layer: Sequence[str], layer_depth: Sequence[int], depth: callable,
                 hp: LayerHyperparams, use_depthwise: bool = False, use_explicit_padding: bool = False,
                 name=None):
        super().__init__(name=name)
        self.from_layer = list(from_layer)
        self.convolutions = []
        base = ""
        for index, source in enumerate(self.from_layer):
            net = []
            if source:
                base = source
            else:
                half = depth(layer_depth[index] // 2)
                name_1x1 = f"{base}_1_Conv2d_{index}_1x1_{half}"
                net += [tf_keras.layers.Conv2D(half, [1, 1], padding="SAME", strides=1, name=name_1x1 + "_conv",
                                               **hp.params()),
                        hp.build_batch_norm(name=name_1x1 + "_batchnorm"), hp.build_activation(name=name_1x1)]
                out_depth = depth(layer_depth[index])
                name_s2 = f"{base}_2_Conv2d_{index}_3x3_s2_{out_depth}"
                padding = "SAME"
                if use_explicit_padding:
                    padding = "VALID"
                    net.append(FixedPadding(3, name=name_s2 + "_fixed_padding"))
                if use_depthwise:
                    net += [tf_keras.layers.DepthwiseConv2D([3, 3], depth_multiplier=1, padding=padding, strides=2,
                                                            name=name_s2 + "_depthwise_conv", **hp.params()),
                            hp.build_batch_norm(name=name_s2 + "_depthwise_batchnorm"),
                            hp.build_activation(name=name_s2 + "_depthwise"),
                            tf_keras.layers.Conv2D(out_depth, [1, 1], padding="SAME", strides=1,
                                                   name=name_s2 + "_conv", **hp.params())]
                else:
                    net.append(tf_keras.layers.Conv2D(out_depth, [3, 3], padding=padding, strides=2,
                                                      name=name_s2 + "_conv", **hp.params()))
                net += [hp.build_batch_norm(name=name_s2 + "_batchnorm"), hp.build_activation(name=name_s2)]
            self.convolutions.append(net)

    def call(self, image_features, training=None):  # pylint: disable=arguments-differ
        """image_features: {from_layer name: map} → the list of feature maps, backbone maps first."""
        maps = []
        for index, source in enumerate(self.from_layer):
            maps.append(image_features[source] if source else apply(self.convolutions[index], maps[-1]))
        return maps
