"""The OD API's BiFPN (EfficientDet's feature network): `KerasBiFpnFeatureMaps` and its blocks.

The node graph is the OD API's `_create_bifpn_node_config`: the backbone levels
min_level..input_max_level are nodes `0_up_lvl_<l>`; levels above them are made
from the level below by a 1x1 conv + batch norm (the backbone's depth differs from
num_filters) and a stride-2 max pool (kernel 3, SAME). Then, num_iterations times,
a top-down pass (`<i>_dn_lvl_<l>`, from max_level - 1 down to min_level, each
combining the level's previous node with the upsampled node above) and a
bottom-up pass (`<i>_up_lvl_<l>`, from min_level + 1 up, each combining the
previous iteration's node, the top-down node of that level (not at max_level)
and the max-pooled node below). Inputs whose depth is not num_filters get a 1x1
conv + batch norm first; upsampling is nearest-neighbour (the OD API's stack +
reshape). Nodes combine their inputs with `fast_attention` (relu weights
normalised by their sum + 1e-4), `attention` (softmax), `weighted_sum` or `sum`,
then swish-before-conv: activation, 3x3 separable conv, batch norm. The outputs
are the last node of each level.

Attribute names and nested list/tuple layouts are the OD API's (`node_input_blocks`,
`node_combine_op`, `node_post_combine_block`), so the variables sit under the
object paths of its checkpoints.
"""

from __future__ import annotations

import collections
import dataclasses

import tensorflow as tf
import tf_keras

from detection.networks.feature_maps import _Fn, nearest_neighbor_upsampling
from detection.networks.hyperparams import LayerHyperparams

COMBINE_METHODS = ("fast_attention", "attention", "weighted_sum", "sum")


@dataclasses.dataclass(frozen=True)
class BiFpnSettings:
    """`feature_extractor.bifpn`: levels, iterations, depth and how nodes combine their inputs."""

    min_level: int
    max_level: int
    num_iterations: int
    num_filters: int
    combine_method: str = "fast_attention"


def node_config(settings: BiFpnSettings, input_max_level: int) -> list[dict]:
    """The OD API's node list: name, scale, input names, and whether the node combines (see the module doc)."""
    scale = lambda level: 2 ** level  # noqa: E731
    nodes = [{"name": f"0_up_lvl_{level}", "scale": scale(level), "inputs": [f"0_up_lvl_{level - 1}"],
              "combine": False} for level in range(input_max_level + 1, settings.max_level + 1)]
    for i in range(1, settings.num_iterations + 1):
        for level in reversed(range(settings.min_level, settings.max_level)):
            first = f"{i - 1}_up_lvl_{level}" if level > settings.min_level or i == 1 else f"{i - 1}_dn_lvl_{level}"
            nodes.append({"name": f"{i}_dn_lvl_{level}", "scale": scale(level),
                          "inputs": [first, nodes[-1]["name"]], "combine": True})
        for level in range(settings.min_level + 1, settings.max_level + 1):
            inputs = [f"{i - 1}_up_lvl_{level}"] + ([f"{i}_dn_lvl_{level}"] if level < settings.max_level else [])
            nodes.append({"name": f"{i}_up_lvl_{level}", "scale": scale(level),
                          "inputs": inputs + [nodes[-1]["name"]], "combine": True})
    return nodes


def conv_block(name: str, num_filters: int, kernel_size: int, use_separable: bool, apply_batchnorm: bool,
               apply_activation: bool, hp: LayerHyperparams, activation_first: bool = False) -> list:
    """The OD API's `bifpn_utils.create_conv_block` (stride 1, SAME): conv, batch norm, activation.

    `activation_first` is its `conv_bn_act_pattern=False`: the activation moves in front of the conv.
    """
    if use_separable:
        params = hp.separable_params()
        params.update(pointwise_regularizer=params["kernel_regularizer"],
                      pointwise_initializer=params["kernel_initializer"])
        layers = [tf_keras.layers.SeparableConv2D(num_filters, kernel_size, depth_multiplier=1, padding="SAME",
                                                  strides=1, name=name + "separable_conv", **params)]
    else:
        layers = [tf_keras.layers.Conv2D(num_filters, kernel_size, padding="SAME", strides=1, name=name + "conv",
                                         **hp.params())]
    if apply_batchnorm:
        layers.append(hp.build_batch_norm(name=name + "batchnorm"))
    if apply_activation:
        activation = hp.build_activation(name=name + "activation")
        layers = [activation] + layers if activation_first else layers + [activation]
    return layers


def resample_block(name: str, input_scale: int, input_channels: int | None, output_scale: int,
                   output_channels: int, hp: LayerHyperparams) -> list:
    """One node input's layers: a 1x1 conv + batch norm when the depths differ, then max pool or upsample."""
    layers = []
    if input_channels != output_channels:
        layers += conv_block(name + "1x1_pre_sample/", output_channels, 1, use_separable=False,
                             apply_batchnorm=True, apply_activation=False, hp=hp)
    if input_scale < output_scale:
        stride = output_scale // input_scale
        layers.append(tf_keras.layers.MaxPooling2D(pool_size=stride + 1, strides=stride, padding="SAME",
                                                   name=name + f"downsample_max_x{stride}"))
    elif input_scale > output_scale:
        scale = input_scale // output_scale
        layers.append(_Fn(lambda x, s=scale: nearest_neighbor_upsampling(x, s),
                          name=name + f"nearest_neighbor_upsampling_x{scale}"))
    return layers


class BiFpnCombine(tf_keras.layers.Layer):
    """The OD API's BiFPNCombineLayer: a node's inputs combined by `combine_method` (see the module doc)."""

    def __init__(self, combine_method: str, **kwargs):
        super().__init__(**kwargs)
        self.combine_method = combine_method

    def build(self, input_shape):
        if self.combine_method == "sum":
            self._combine_op = tf_keras.layers.Add()
        else:
            self.per_input_weights = self.add_weight(name="bifpn_combine_weights", shape=(len(input_shape), 1),
                                                     initializer="ones", trainable=True)
        super().build(input_shape)

    def call(self, inputs):  # pylint: disable=arguments-differ
        if self.combine_method == "sum":
            return self._combine_op(inputs)
        weights = self.per_input_weights
        if self.combine_method == "fast_attention":
            positive = tf.nn.relu(weights)
            weights = positive / (tf.reduce_sum(positive) + 0.0001)
        elif self.combine_method == "attention":
            weights = tf.nn.softmax(weights)
        return tf.squeeze(tf.linalg.matmul(tf.stack(inputs, axis=-1), weights), axis=[-1])


def _first(inputs):
    return inputs[0]


class BiFpnFeatureMaps(tf_keras.Model):
    """The OD API's KerasBiFpnFeatureMaps (see the module doc); called on [(name, backbone map), ...]."""

    def __init__(self, settings: BiFpnSettings, input_max_level: int, hp: LayerHyperparams, name="bifpn"):
        super().__init__(name=name)
        nodes = node_config(settings, input_max_level)
        inputs = [{"name": f"0_up_lvl_{level}", "scale": 2 ** level, "channels": None}
                  for level in range(settings.min_level, input_max_level + 1)]
        self.bifpn_node_config = nodes
        self.bifpn_output_node_names = [node["name"] for node in nodes[-(settings.max_level - settings.min_level + 1):]]
        self.node_input_blocks = []
        self.node_combine_op = []
        self.node_post_combine_block = []
        known = list(inputs)
        names = [node["name"] for node in known]
        for node in nodes:
            blocks = []
            for input_name in node["inputs"]:
                index = names.index(input_name)
                blocks.append((index, resample_block(f"{node['name']}/input_{input_name}/", known[index]["scale"],
                                                     known[index]["channels"], node["scale"],
                                                     settings.num_filters, hp)))
            self.node_input_blocks.append(blocks)
            self.node_combine_op.append(BiFpnCombine(settings.combine_method, name=node["name"] + "/combine")
                                        if len(blocks) > 1 else _first)
            self.node_post_combine_block.append(
                conv_block(node["name"] + "/post_combine/", settings.num_filters, 3, use_separable=True,
                           apply_batchnorm=True, apply_activation=True, hp=hp, activation_first=True)
                if node["combine"] else [])
            known.append({"name": node["name"], "scale": node["scale"], "channels": settings.num_filters})
            names.append(node["name"])

    def call(self, feature_pyramid):  # pylint: disable=arguments-differ
        """[(name, map), ...] of the backbone levels, finest first → OrderedDict of the output levels."""
        feature_maps = [pair[1] for pair in feature_pyramid]
        outputs = {}
        for index, node in enumerate(self.bifpn_node_config):
            results = []
            for input_index, block in self.node_input_blocks[index]:
                result = feature_maps[input_index]
                for layer in block:
                    result = layer(result)
                results.append(result)
            result = self.node_combine_op[index](results)
            for layer in self.node_post_combine_block[index]:
                result = layer(result)
            feature_maps.append(result)
            if node["name"] in self.bifpn_output_node_names:
                outputs[node["name"]] = result
        return collections.OrderedDict((name, outputs[name]) for name in self.bifpn_output_node_names)
