"""Layer hyperparameters from an OD API `Hyperparams` message, as the OD API's Keras builders read them.

`LayerHyperparams` is what `hyperparams_builder.KerasLayerHyperparams` gives the
OD API's Keras layers: the initializer, the regularizer (an L2 weight is halved,
as the OD API converts Slim weights to Keras), the activation applied as its own
layer, batch normalisation when `batch_norm` is set (an identity otherwise) and
`use_bias = force_use_bias or not (batch_norm and batch_norm.center)`.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from schemas.protos import hyperparams_pb2


class _Identity(tf_keras.layers.Layer):
    """The identity as a layer (the OD API's `Lambda(tf.identity)`)."""

    def call(self, inputs):  # pylint: disable=arguments-differ
        return tf.identity(inputs)


def _initializer(message):
    kind = message.WhichOneof("initializer_oneof")
    if kind == "truncated_normal_initializer":
        c = message.truncated_normal_initializer
        return tf_keras.initializers.TruncatedNormal(mean=c.mean, stddev=c.stddev)
    if kind == "random_normal_initializer":
        c = message.random_normal_initializer
        return tf_keras.initializers.RandomNormal(mean=c.mean, stddev=c.stddev)
    if kind == "variance_scaling_initializer":
        c = message.variance_scaling_initializer
        mode = hyperparams_pb2.VarianceScalingInitializer.Mode.Name(c.mode).lower()
        distribution = "uniform" if c.uniform else "truncated_normal"
        return tf_keras.initializers.VarianceScaling(scale=c.factor, mode=mode, distribution=distribution)
    if kind == "keras_initializer_by_name":
        return message.keras_initializer_by_name
    return None  # Keras' default (glorot_uniform), as the OD API leaves it


def _regularizer(message):
    if message.WhichOneof("regularizer_oneof") == "l2_regularizer":
        return tf_keras.regularizers.l2(float(message.l2_regularizer.weight * 0.5))
    if message.WhichOneof("regularizer_oneof") == "l1_regularizer":
        return tf_keras.regularizers.l1(float(message.l1_regularizer.weight))
    return None


def activation_layer(activation: int, name: str) -> tf_keras.layers.Layer:
    """The layer for a `Hyperparams.Activation` value."""
    if activation == hyperparams_pb2.Hyperparams.RELU_6:
        return tf_keras.layers.ReLU(max_value=6.0, name=name)
    if activation == hyperparams_pb2.Hyperparams.RELU:
        return tf_keras.layers.ReLU(name=name)
    if activation == hyperparams_pb2.Hyperparams.SWISH:
        return tf_keras.layers.Activation(tf.nn.swish, name=name)
    return _Identity(name=name)


class LayerHyperparams:
    """Conv/BN/activation settings of one `conv_hyperparams` (see the module doc)."""

    def __init__(self, message: hyperparams_pb2.Hyperparams | None):
        message = message if message is not None else hyperparams_pb2.Hyperparams()
        self.message = message
        self.batch_norm = message.batch_norm if message.HasField("batch_norm") else None
        self.activation = message.activation
        self.force_use_bias = message.force_use_bias
        self._regularizer = _regularizer(message.regularizer)

    @property
    def use_batch_norm(self) -> bool:
        """True when the message sets `batch_norm`."""
        return self.batch_norm is not None

    def use_bias(self) -> bool:
        """Whether convolutions carry a bias (none when a centred batch norm follows)."""
        return self.force_use_bias or not (self.use_batch_norm and self.batch_norm.center)

    def params(self, **overrides) -> dict:
        """Keyword arguments for a Keras conv layer: initializer, regularizer, no activation, use_bias."""
        # A fresh initializer per layer: one unseeded tf_keras initializer reused gives every layer the
        # same values.
        out = {"kernel_regularizer": self._regularizer, "kernel_initializer": _initializer(self.message.initializer)}
        out["activation"] = None
        out["use_bias"] = self.use_bias()
        out.update(overrides)
        return out

    def separable_params(self, **overrides) -> dict:
        """`params` plus the depthwise initializer and regularizer (the OD API's separable convs)."""
        out = self.params(**overrides)
        out["depthwise_regularizer"] = out["kernel_regularizer"]
        out["depthwise_initializer"] = out["kernel_initializer"]
        return out

    def regularizer_weight(self) -> float | None:
        """The regularizer's weight as the Keras layers apply it (an L2 weight halved); None without one."""
        for attribute in ("l1", "l2"):
            if hasattr(self._regularizer, attribute):
                return float(getattr(self._regularizer, attribute))
        return None

    def build_batch_norm(self, name: str) -> tf_keras.layers.Layer:
        """BatchNormalization with the message's decay, epsilon, center and scale, or the identity."""
        if not self.use_batch_norm:
            return _Identity(name=name)
        bn = self.batch_norm
        return tf_keras.layers.BatchNormalization(momentum=bn.decay, epsilon=bn.epsilon, center=bn.center,
                                                  scale=bn.scale, name=name)

    def build_activation(self, name: str) -> tf_keras.layers.Layer:
        """The message's activation as a layer."""
        return activation_layer(self.activation, name)
