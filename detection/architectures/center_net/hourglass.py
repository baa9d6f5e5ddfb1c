"""The OD API's CenterNet Hourglass feature extractors: `hourglass_104` (the zoo's) and the smaller
`hourglass_10/20/32/52`.

Built as `keras_models/hourglass_network.py` and `center_net_hourglass_feature_extractor.py` build them, object
for object (the attribute names are the checkpoint's object paths), so a zoo checkpoint restores by name:
- a convolutional block: zero padding (3 for a 7x7 kernel, 1 for 3x3), a conv without bias, batch norm
  (epsilon 1e-5, Keras momentum 0.1), ReLU (or none);
- a residual block: a conv block, a conv and batch norm, plus the input (through a 1x1 conv block without ReLU
  when it changes the channels or the stride), then ReLU;
- the input: a 7x7 stride-2 conv block and a stride-2 residual block (stride 4), or without downsampling a 3x3
  conv block and a residual block;
- an encoder-decoder ("hourglass") per stage: the input through residual blocks, and downsampled by 2 through
  others, then the next stage (or residual blocks at the last), residual blocks back to the stage's channels,
  nearest upsampling by 2, added to the first path;
- `num_hourglasses` such hourglasses, each followed by a 3x3 conv block whose output is a feature map; between
  two, 1x1 conv blocks of the input and the output summed, ReLU and a residual block feed the next.
Hourglass-104: 128 input channels, stage channels 256, 256, 384, 384, 384, 512, 2 blocks per stage (4 at the
last), 5 stages, 2 hourglasses: two stride-4 feature maps. Preprocessing is the channel normalisation alone.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tf_keras

from detection.architectures.center_net.preprocessing import ChannelNormalization


class IdentityLayer(tf_keras.layers.Layer):
    """The OD API's identity layer (where a block has no padding, ReLU or skip conv)."""

    def call(self, inputs):  # pylint: disable=arguments-differ
        return inputs


def _batchnorm():
    # The OD API's is Keras' SyncBatchNormalization, which computes unfused: so does this (fused, a 2-stack
    # network's second output drifted 1e-3 from the OD API's). One replica's batch statistics, not synchronised.
    return tf_keras.layers.BatchNormalization(name="batchnorm", epsilon=1e-5, momentum=0.1, fused=False)


class ConvolutionalBlock(tf_keras.layers.Layer):
    """Padding, a conv without bias, batch norm and ReLU (see the module doc)."""

    def __init__(self, kernel_size: int, out_channels: int, stride: int = 1, relu: bool = True, padding="same"):
        super().__init__()
        if kernel_size > 1:
            padding = "valid"
            self.pad = tf_keras.layers.ZeroPadding2D({7: (3, 3), 3: (1, 1)}[kernel_size])
        else:
            self.pad = IdentityLayer()
        self.conv = tf_keras.layers.Conv2D(filters=out_channels, kernel_size=kernel_size, use_bias=False,
                                           strides=stride, padding=padding)
        self.norm = _batchnorm()
        self.relu = tf_keras.layers.ReLU() if relu else IdentityLayer()

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        return self.relu(self.norm(self.conv(self.pad(inputs)), training=training))


class ResidualBlock(tf_keras.layers.Layer):
    """A conv block, a conv and batch norm, plus the (skip-convolved) input, then ReLU."""

    def __init__(self, out_channels: int, skip_conv: bool = False, kernel_size: int = 3, stride: int = 1):
        super().__init__()
        self.conv_block = ConvolutionalBlock(kernel_size=kernel_size, out_channels=out_channels, stride=stride)
        self.conv = tf_keras.layers.Conv2D(filters=out_channels, kernel_size=kernel_size, use_bias=False,
                                           strides=1, padding="same")
        self.norm = _batchnorm()
        self.skip = (ConvolutionalBlock(kernel_size=1, out_channels=out_channels, stride=stride, relu=False)
                     if skip_conv else IdentityLayer())
        self.relu = tf_keras.layers.ReLU()

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        net = self.norm(self.conv(self.conv_block(inputs, training=training)), training=training)
        skip = self.skip(inputs, training=training) if isinstance(self.skip, ConvolutionalBlock) else inputs
        return self.relu(net + skip)


class InputBlock(tf_keras.layers.Layer):
    """The OD API's InputDownsampleBlock (7x7 stride 2, then a stride-2 residual block) or InputConvBlock."""

    def __init__(self, initial_channels: int, residual_channels: int, downsample: bool):
        super().__init__()
        self.conv_block = ConvolutionalBlock(kernel_size=7 if downsample else 3, out_channels=initial_channels,
                                             stride=2 if downsample else 1)
        self.residual_block = ResidualBlock(out_channels=residual_channels, stride=2 if downsample else 1,
                                            skip_conv=True)

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        return self.residual_block(self.conv_block(inputs, training=training), training=training)


def repeated_residual_blocks(out_channels: int, num_blocks: int, initial_stride: int = 1,
                             residual_channels: int | None = None, initial_skip_conv: bool = False) -> list:
    """The OD API's `_make_repeated_residual_blocks`: `num_blocks` residual blocks, the last to `out_channels`."""
    residual_channels = out_channels if residual_channels is None else residual_channels
    blocks = []
    for i in range(num_blocks - 1):
        stride = initial_stride if i == 0 else 1
        blocks.append(ResidualBlock(out_channels=residual_channels, stride=stride,
                                    skip_conv=stride > 1 or (i == 0 and initial_skip_conv)))
    if num_blocks == 1:
        stride, skip_conv = initial_stride, initial_stride > 1
    else:
        stride, skip_conv = 1, residual_channels != out_channels
    blocks.append(ResidualBlock(out_channels=out_channels, skip_conv=skip_conv, stride=stride))
    return blocks


def _apply(blocks, inputs, training):
    for block in blocks:
        inputs = block(inputs, training=training)
    return inputs


class EncoderDecoderBlock(tf_keras.layers.Layer):
    """One hourglass stage and, inside it, the next ones (see the module doc)."""

    def __init__(self, num_stages: int, channel_dims, blocks_per_stage, stagewise_downsample: bool = True,
                 encoder_decoder_shortcut: bool = True):
        super().__init__()
        out_channels, downsampled = channel_dims[0], channel_dims[1]
        self.encoder_decoder_shortcut = encoder_decoder_shortcut
        if encoder_decoder_shortcut:
            self.merge_features = tf_keras.layers.Add()
            self.encoder_block1 = repeated_residual_blocks(out_channels, blocks_per_stage[0])
        stride = 2 if stagewise_downsample else 1
        self.encoder_block2 = repeated_residual_blocks(downsampled, blocks_per_stage[0], initial_stride=stride,
                                                       initial_skip_conv=out_channels != downsampled)
        if num_stages > 1:
            self.inner_block = [EncoderDecoderBlock(num_stages - 1, channel_dims[1:], blocks_per_stage[1:],
                                                    stagewise_downsample, encoder_decoder_shortcut)]
        else:
            self.inner_block = repeated_residual_blocks(downsampled, blocks_per_stage[1])
        self.decoder_block = repeated_residual_blocks(out_channels, blocks_per_stage[0],
                                                      residual_channels=downsampled)
        self.upsample = tf_keras.layers.UpSampling2D(stride)

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        down = _apply(self.encoder_block2, inputs, training)
        up = self.upsample(_apply(self.decoder_block, _apply(self.inner_block, down, training), training))
        if self.encoder_decoder_shortcut:
            return self.merge_features([_apply(self.encoder_block1, inputs, training), up])
        return up


@dataclasses.dataclass(frozen=True)
class HourglassShape:
    """An hourglass network's sizes (the OD API's `hourglass_*` functions)."""

    input_channel_dims: int
    channel_dims_per_stage: tuple[int, ...]
    blocks_per_stage: tuple[int, ...]
    num_hourglasses: int = 1
    initial_downsample: bool = True

    @property
    def num_stages(self) -> int:
        """Encoder-decoder stages: one fewer than the stage channels."""
        return len(self.channel_dims_per_stage) - 1


def _single(nc_in: int, dims: tuple[int, ...], blocks: tuple[int, ...]) -> HourglassShape:
    return HourglassShape(nc_in, dims, blocks)


# The OD API's CenterNet hourglass types: hourglass_104 (the zoo's) and the single-stack ones of
# center_net_hourglass_feature_extractor.py (num_channels 32, 48, 48, 64).
SHAPES = {
    "hourglass_104": HourglassShape(128, (256, 256, 384, 384, 384, 512), (2, 2, 2, 2, 2, 4), num_hourglasses=2),
    "hourglass_10": _single(32, (64, 64), (1, 1)),
    "hourglass_20": _single(48, (96, 96, 144), (1, 2, 2)),
    "hourglass_32": _single(48, (96, 96, 144, 144), (2, 2, 2, 2)),
    "hourglass_52": _single(64, (128, 128, 192, 192, 192, 256), (2, 2, 2, 2, 2, 4)),
}
TYPES = tuple(SHAPES)


class HourglassNetwork(tf_keras.Model):
    """The OD API's HourglassNetwork: its feature maps, one per hourglass (see the module doc)."""

    def __init__(self, shape: HourglassShape):
        super().__init__()
        self.num_hourglasses = shape.num_hourglasses
        self.initial_downsample = shape.initial_downsample
        first = shape.channel_dims_per_stage[0]
        block = InputBlock(shape.input_channel_dims, first, shape.initial_downsample)
        if shape.initial_downsample:
            self.downsample_input = block
        else:
            self.conv_input = block
        self.hourglass_network, self.output_conv = [], []
        for _ in range(shape.num_hourglasses):
            self.hourglass_network.append(EncoderDecoderBlock(shape.num_stages, shape.channel_dims_per_stage,
                                                              shape.blocks_per_stage))
            self.output_conv.append(ConvolutionalBlock(kernel_size=3, out_channels=first))
        self.intermediate_conv1, self.intermediate_conv2, self.intermediate_residual = [], [], []
        for _ in range(shape.num_hourglasses - 1):
            self.intermediate_conv1.append(ConvolutionalBlock(kernel_size=1, out_channels=first, relu=False))
            self.intermediate_conv2.append(ConvolutionalBlock(kernel_size=1, out_channels=first, relu=False))
            self.intermediate_residual.append(ResidualBlock(out_channels=first))
        self.intermediate_relu = tf_keras.layers.ReLU()

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        block = self.downsample_input if self.initial_downsample else self.conv_input
        inputs = block(inputs, training=training)
        outputs = []
        for i in range(self.num_hourglasses):
            output = self.output_conv[i](self.hourglass_network[i](inputs, training=training), training=training)
            outputs.append(output)
            if i < self.num_hourglasses - 1:
                secondary = (self.intermediate_conv1[i](inputs, training=training)
                             + self.intermediate_conv2[i](output, training=training))
                inputs = self.intermediate_residual[i](self.intermediate_relu(secondary), training=training)
        return outputs


class CenterNetHourglassFeatureExtractor(tf_keras.Model):
    """The OD API's CenterNetHourglassFeatureExtractor: the network as `_network`, its feature maps at stride 4."""

    out_stride = 4

    def __init__(self, hourglass_type: str, normalization: ChannelNormalization):
        super().__init__()
        self._normalization = normalization
        self._network = HourglassNetwork(SHAPES[hourglass_type])
        self.num_feature_outputs = SHAPES[hourglass_type].num_hourglasses

    @property
    def classification_backbone(self):
        """None: the OD API's hourglass extractors have no classification backbone (no `classification` restore)."""
        return None

    def preprocess(self, resized_inputs: tf.Tensor) -> tf.Tensor:
        """Resized 0..255 RGB images → the network input: the channel normalisation alone."""
        return self._normalization(resized_inputs)

    def call(self, inputs, training=None):  # pylint: disable=arguments-differ
        """Network input → the feature maps, one per hourglass."""
        return self._network(inputs, training=training)
