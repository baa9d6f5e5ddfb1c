"""The normalisation every OD API CenterNet feature extractor starts with (`CenterNetFeatureExtractor.preprocess`)."""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ChannelNormalization:
    """(image - channel_means) / channel_stds, channels reversed first with bgr_ordering.

    `feature_extractor.channel_means` / `channel_stds` empty mean 0s / 1s, as in the OD API.
    """

    channel_means: tuple[float, ...] = (0.0, 0.0, 0.0)
    channel_stds: tuple[float, ...] = (1.0, 1.0, 1.0)
    bgr_ordering: bool = False

    @classmethod
    def from_proto(cls, feature_extractor) -> "ChannelNormalization":
        """From a CenterNetFeatureExtractor message."""
        return cls(tuple(feature_extractor.channel_means) or (0.0, 0.0, 0.0),
                   tuple(feature_extractor.channel_stds) or (1.0, 1.0, 1.0), feature_extractor.bgr_ordering)

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """Images [..., 3] (a batch or one image) → normalised."""
        if self.bgr_ordering:
            images = tf.reverse(images, axis=[-1])
        return (images - tf.constant(self.channel_means, images.dtype)) / tf.constant(self.channel_stds, images.dtype)
