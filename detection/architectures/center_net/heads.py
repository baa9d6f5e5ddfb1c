"""CenterNet's prediction heads as the OD API builds them (`center_net_meta_arch.make_prediction_net`)."""

from __future__ import annotations

import dataclasses

import tf_keras


def make_prediction_net(num_out_channels: int, kernel_sizes=(3,), num_filters=(256,), bias_fill=None,
                        use_depthwise: bool = False) -> tf_keras.Sequential:
    """The OD API's `make_prediction_net`: [conv + ReLU] per (kernel size, filters), then a 1x1 conv."""
    conv = tf_keras.layers.SeparableConv2D if use_depthwise else tf_keras.layers.Conv2D
    out_conv = tf_keras.layers.Conv2D(num_out_channels, kernel_size=1)
    if bias_fill is not None:
        out_conv.bias_initializer = tf_keras.initializers.constant(bias_fill)
    layers = []
    for kernel_size, filters in zip(kernel_sizes, num_filters):
        layers += [conv(filters, kernel_size=kernel_size, padding="same"), tf_keras.layers.ReLU()]
    return tf_keras.Sequential(layers + [out_conv])


@dataclasses.dataclass(frozen=True)
class HeadParams:
    """A head's intermediate convs: kernel sizes and filters (`CenterNet.PredictionHeadParams`)."""

    kernel_sizes: tuple[int, ...] = (3,)
    num_filters: tuple[int, ...] = (256,)

    @classmethod
    def from_proto(cls, has_params: bool, params) -> "HeadParams":
        """The message's lists, or the OD API's default (one 3x3 conv of 256) when it is not set."""
        return cls(tuple(params.kernel_sizes), tuple(params.num_filters)) if has_params else cls()
