"""MobileNetV1/V2 and ResNet v1 backbones as the OD API builds them: Keras applications with its layers.

The OD API builds its backbones by handing `tf.keras.applications.MobileNet|V2` /
`ResNet50|101|152` a `layers=` object that replaces some layer constructors
(`object_detection/models/keras_models/{mobilenet_v1,mobilenet_v2,resnet_v1}.py`). The
`*LayersOverride` classes here make the same replacements on `tf_keras`, so the
functional model is the OD API's layer for layer: same layer names, same
`layer_with_weights-N` order in checkpoints, same padding, activation and
batch-norm settings.

MobileNetV2 (`MobileNetV2LayersOverride`):
- every conv uses `conv_hyperparams` (initializer, regularizer); without
  override_base_feature_extractor_hyperparams, truncated normal 0.09 and L2
  4e-5/2 as the OD API;
- padding is SAME everywhere (Keras' explicit ZeroPadding2D is dropped), or a
  fixed pad + VALID for kernels > 1 with use_explicit_padding;
- `Conv_1` has 1280 filters scaled by depth_multiplier when it is below 1;
- filters below min_depth are raised to it, except in `*_expand` convs;
- batch norm and activation come from `conv_hyperparams` (without override:
  epsilon 1e-3, the OD API's momentum, ReLU6).

MobileNetV1 (`MobileNetV1LayersOverride`), as MobileNetV2 but:
- every conv's filters, already scaled by alpha in the application, are
  scaled by alpha again (the OD API's override does it), after `conv_defs`
  (the FPN extractor's use_depthwise: conv_pw_12 512, conv_pw_13 256) replaced
  them, and min_depth applies to every conv;
- without conv_hyperparams the batch-norm momentum is 0.999.

ResNet v1 (`ResNetLayersOverride`, Keras' v1: stride on the first 1x1 conv):
- filters are scaled by depth_multiplier, at least min_depth;
- without conv_hyperparams, L2 weight_decay (0.0001; Faster R-CNN's feature
  extractors pass the OD API's default 0, none);
- no conv has a bias; a conv with stride > 1 and kernel > 1 gets a fixed
  pad + VALID (the 7x7 stem: 3/3), others SAME; max pooling is SAME;
- batch norm and activation come from `conv_hyperparams` (without override:
  epsilon 1e-5, momentum 0.997, ReLU).
"""

from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf
import tf_keras

from detection.networks.hyperparams import LayerHyperparams


def fixed_padding(inputs: tf.Tensor, kernel_size: int, rate: int = 1) -> tf.Tensor:
    """Pads height and width so a VALID conv of `kernel_size` gives SAME's output size (OD's ops.fixed_padding)."""
    effective = kernel_size + (kernel_size - 1) * (rate - 1)
    total = effective - 1
    begin = total // 2
    return tf.pad(inputs, [[0, 0], [begin, total - begin], [begin, total - begin], [0, 0]])


class FixedPadding(tf_keras.layers.Layer):
    """`fixed_padding` as a layer."""

    def __init__(self, kernel_size: int, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size

    def call(self, inputs):  # pylint: disable=arguments-differ
        return fixed_padding(inputs, self.kernel_size)

    def get_config(self):
        return {"kernel_size": self.kernel_size, **super().get_config()}


def _make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def _kernel(kernel_size) -> int:
    return kernel_size[0] if isinstance(kernel_size, (tuple, list)) else int(kernel_size)


def _stride(strides) -> int:
    return strides[0] if isinstance(strides, (tuple, list)) else int(strides or 1)


class _Override:
    """Falls through to tf_keras.layers for every constructor it does not replace."""

    def __getattr__(self, item):
        return getattr(tf_keras.layers, item)

    @staticmethod
    def ZeroPadding2D(*_, **__):  # noqa: N802 (Keras' name)  pylint: disable=invalid-name
        """Keras' explicit paddings are dropped: the convolutions pad themselves."""
        return lambda x: x


class MobileNetV2LayersOverride(_Override):
    """Layer constructors for `tf_keras.applications.MobileNetV2` (see the module doc)."""

    def __init__(self, hyperparams: LayerHyperparams | None, alpha: float, min_depth: int,
                 use_explicit_padding: bool, default_batchnorm_momentum: float = 0.9997):
        self._hp = hyperparams
        self._alpha = alpha
        self._min_depth = min_depth
        self._explicit = use_explicit_padding
        self._momentum = default_batchnorm_momentum

    def _conv_kwargs(self, kwargs: dict) -> dict:
        if self._hp is not None:
            kwargs = {**kwargs, **{k: v for k, v in self._hp.params().items()
                                   if k in ("kernel_regularizer", "kernel_initializer")}}
        else:
            kwargs = {**kwargs, "kernel_regularizer": tf_keras.regularizers.l2(0.00004 * 0.5),
                      "kernel_initializer": tf_keras.initializers.TruncatedNormal(stddev=0.09)}
        kwargs["padding"] = "same"
        return kwargs

    def _padded(self, make, kernel_size: int, kwargs: dict):
        if self._explicit and kernel_size > 1:
            kwargs["padding"] = "valid"
            name = kwargs.get("name")

            def padded(features):
                return make(**kwargs)(FixedPadding(kernel_size, name=f"{name}_fixed_padding")(features))
            return padded
        return make(**kwargs)

    def Conv2D(self, filters, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """Keras' Conv2D with the OD API's filters, hyperparameters and padding."""
        name = kwargs.get("name", "")
        if name == "Conv_1":
            filters = 1280
            if self._alpha < 1.0:
                filters = _make_divisible(filters * self._alpha, 8)
        if self._min_depth and filters < self._min_depth and not name.endswith("expand"):
            filters = self._min_depth
        if self._hp is not None:
            # The OD API's params(**kwargs): the application's use_bias is kept, the activation dropped.
            kwargs = {**kwargs, "activation": None}
        kwargs = self._conv_kwargs(kwargs)
        return self._padded(lambda **kw: tf_keras.layers.Conv2D(filters, **kw),
                            _kernel(kwargs.get("kernel_size")), kwargs)

    def DepthwiseConv2D(self, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """Keras' DepthwiseConv2D with the OD API's hyperparameters and padding."""
        if self._hp is not None:
            kwargs = {**kwargs, "activation": None}
        kwargs = self._conv_kwargs(kwargs)
        kwargs["depthwise_regularizer"] = kwargs.pop("kernel_regularizer")
        kwargs["depthwise_initializer"] = kwargs.pop("kernel_initializer")
        return self._padded(lambda **kw: tf_keras.layers.DepthwiseConv2D(**kw),
                            _kernel(kwargs.get("kernel_size")), kwargs)

    def BatchNormalization(self, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """The config's batch norm (only the name is taken from the application)."""
        name = kwargs.get("name")
        if self._hp is not None:
            return self._hp.build_batch_norm(name=name)
        return tf_keras.layers.BatchNormalization(epsilon=1e-3, momentum=self._momentum, name=name)

    def ReLU(self, *_, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """The config's activation (ReLU6 without override)."""
        name = kwargs.get("name")
        if self._hp is not None:
            return self._hp.build_activation(name=name)
        return tf_keras.layers.ReLU(max_value=6.0, name=name)


class MobileNetV1LayersOverride(MobileNetV2LayersOverride):
    """Layer constructors for `tf_keras.applications.MobileNet` (see the module doc)."""

    def __init__(self, hyperparams: LayerHyperparams | None, alpha: float, min_depth: int,
                 use_explicit_padding: bool, conv_defs: dict[str, int] | None = None):
        super().__init__(hyperparams, alpha, min_depth, use_explicit_padding, default_batchnorm_momentum=0.999)
        self._conv_defs = dict(conv_defs or {})

    def Conv2D(self, filters, kernel_size, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """Keras' Conv2D with the OD API's filters (see the module doc), hyperparameters and padding."""
        filters = int(self._conv_defs.get(kwargs.get("name", ""), filters) * self._alpha)
        if self._min_depth and filters < self._min_depth:
            filters = self._min_depth
        if self._hp is not None:
            kwargs = {**kwargs, "activation": None}
        kwargs = self._conv_kwargs({**kwargs, "kernel_size": kernel_size})
        return self._padded(lambda **kw: tf_keras.layers.Conv2D(filters, **kw), _kernel(kernel_size), kwargs)

    def DepthwiseConv2D(self, kernel_size, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """Keras' DepthwiseConv2D (its kernel size given by position here) as for MobileNetV2."""
        return super().DepthwiseConv2D(kernel_size=kernel_size, **kwargs)


class ResNetLayersOverride(_Override):
    """Layer constructors for `tf_keras.applications.ResNet50|101|152` (see the module doc)."""

    def __init__(self, hyperparams: LayerHyperparams | None, depth_multiplier: float, min_depth: int,
                 weight_decay: float = 0.0001):
        self._hp = hyperparams
        self._depth_multiplier = depth_multiplier
        self._min_depth = min_depth
        self._weight_decay = weight_decay

    def Conv2D(self, filters, kernel_size, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """Keras' Conv2D without bias, scaled filters and the OD API's padding."""
        filters = max(int(filters * self._depth_multiplier), self._min_depth)
        if self._hp is not None:
            kwargs = {**kwargs, **self._hp.params()}
        else:
            regularizer = tf_keras.regularizers.l2(self._weight_decay) if self._weight_decay else None
            kwargs = {**kwargs, "kernel_regularizer": regularizer,
                      "kernel_initializer": tf_keras.initializers.VarianceScaling()}
        kwargs["use_bias"] = False
        kwargs["padding"] = "same"
        kernel, stride = _kernel(kernel_size), _stride(kwargs.get("strides"))
        if stride > 1 and kernel > 1:
            kwargs["padding"] = "valid"
            name = kwargs.get("name")

            def padded(features):
                return tf_keras.layers.Conv2D(filters, kernel_size, **kwargs)(
                    FixedPadding(kernel, name=f"{name}_fixed_padding")(features))
            return padded
        return tf_keras.layers.Conv2D(filters, kernel_size, **kwargs)

    def Activation(self, *_, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """The config's activation (ReLU without override)."""
        name = kwargs.get("name")
        if self._hp is not None:
            return self._hp.build_activation(name=name)
        return tf_keras.layers.ReLU(name=name)

    def BatchNormalization(self, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """The config's batch norm (without override: epsilon 1e-5, momentum 0.997, scaled)."""
        name = kwargs.get("name")
        if self._hp is not None:
            return self._hp.build_batch_norm(name=name)
        return tf_keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.997, scale=True, name=name)

    @staticmethod
    def MaxPooling2D(pool_size, **kwargs):  # noqa: N802  pylint: disable=invalid-name
        """Max pooling with SAME padding."""
        kwargs["padding"] = "same"
        return tf_keras.layers.MaxPooling2D(pool_size, **kwargs)

    MaxPool2D = MaxPooling2D


RESNET_APPLICATIONS = {50: "ResNet50", 101: "ResNet101", 152: "ResNet152"}
RESNET_OUTPUT_LAYERS = {
    50: ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    101: ("conv2_block3_out", "conv3_block4_out", "conv4_block23_out", "conv5_block3_out"),
    152: ("conv2_block3_out", "conv3_block8_out", "conv4_block36_out", "conv5_block3_out"),
}


def mobilenet_v2_application(input_shape: Sequence[int | None], *, alpha: float, min_depth: int,
                             hyperparams: LayerHyperparams | None, use_explicit_padding: bool) -> tf_keras.Model:
    """The OD API's whole MobileNetV2 (`keras_models.mobilenet_v2`, no top, no weights)."""
    override = MobileNetV2LayersOverride(hyperparams, alpha, min_depth, use_explicit_padding)
    return tf_keras.applications.MobileNetV2(input_shape=tuple(input_shape), alpha=alpha, include_top=False,
                                             weights=None, layers=override)


def mobilenet_v2(input_shape: Sequence[int | None], output_layers: Sequence[str] | Callable, *, alpha: float,
                 min_depth: int, hyperparams: LayerHyperparams | None, use_explicit_padding: bool,
                 name: str = "classification_backbone") -> tf_keras.Model:
    """The OD API's MobileNetV2, cut at `output_layers` (names, or a function of the layer names)."""
    full = mobilenet_v2_application(input_shape, alpha=alpha, min_depth=min_depth, hyperparams=hyperparams,
                                    use_explicit_padding=use_explicit_padding)
    if callable(output_layers):
        output_layers = output_layers([layer.name for layer in full.layers])
    outputs = [full.get_layer(n).output for n in output_layers]
    return tf_keras.Model(inputs=full.inputs, outputs=outputs, name=name)


def mobilenet_v1(input_shape: Sequence[int | None], output_layers: Sequence[str], *, alpha: float, min_depth: int,
                 hyperparams: LayerHyperparams | None, use_explicit_padding: bool,
                 conv_defs: dict[str, int] | None = None, name: str = "classification_backbone") -> tf_keras.Model:
    """The OD API's MobileNetV1, cut at `output_layers`."""
    override = MobileNetV1LayersOverride(hyperparams, alpha, min_depth, use_explicit_padding, conv_defs)
    full = tf_keras.applications.MobileNet(input_shape=tuple(input_shape), alpha=alpha, include_top=False,
                                           weights=None, layers=override)
    outputs = [full.get_layer(n).output for n in output_layers]
    return tf_keras.Model(inputs=full.inputs, outputs=outputs, name=name)


def resnet_v1(depth: int, input_shape: Sequence[int | None], *, depth_multiplier: float, min_depth: int,
              hyperparams: LayerHyperparams | None, name: str = "classification_backbone") -> tf_keras.Model:
    """The OD API's ResNet v1 `depth` (50/101/152) with its four block outputs."""
    override = ResNetLayersOverride(hyperparams, depth_multiplier, min_depth)
    full = getattr(tf_keras.applications, RESNET_APPLICATIONS[depth])(
        input_shape=tuple(input_shape), include_top=False, weights=None, layers=override)
    outputs = [full.get_layer(n).output for n in RESNET_OUTPUT_LAYERS[depth]]
    return tf_keras.Model(inputs=full.inputs, outputs=outputs, name=name)


def mobilenet_v2_fpn_outputs(model_layer_names: Sequence[str]) -> list[str]:
    """MobileNetV2 layers the OD API's FPN extractor takes: block 2/5/12 outputs and out_relu."""
    out = []
    for block in (2, 5, 12):
        add, project = f"block_{block}_add", f"block_{block}_project_BN"
        out.append(add if add in model_layer_names else project)
    return out + ["out_relu"]
