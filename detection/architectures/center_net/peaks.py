"""Peaks of CenterNet heatmaps: the OD API's `top_k_feature_map_locations`."""

from __future__ import annotations

import tensorflow as tf

PEAK_EPSILON = 1e-6


def top_k_feature_map_locations(feature_map: tf.Tensor, max_pool_kernel_size: int, k: int, per_channel: bool = False):
    """The OD API's `top_k_feature_map_locations`: scores, y, x, channel of the peaks, [B, k] over all channels,
    or with `per_channel` [B, C * k], channel by channel (each padded with zero scores at (0, 0) to k)."""
    if max_pool_kernel_size and max_pool_kernel_size != 1:
        pooled = tf.nn.max_pool(feature_map, ksize=max_pool_kernel_size, strides=1, padding="SAME")
        # The OD API's |map - pooled| < PEAK_EPSILON (pooled >= map): compared tensor to tensor, because an int8
        # TFLite model quantizes the constant 1e-6 to 0 and, compared with it, finds no peak at all.
        feature_map = feature_map * tf.cast(feature_map + PEAK_EPSILON > pooled, feature_map.dtype)
    batch = tf.shape(feature_map)[0]
    width, channels = feature_map.shape[2], feature_map.shape[3]
    if per_channel:
        scores, indices = _top_k_per_channel(feature_map, k)
    else:
        flat = tf.reshape(feature_map, [batch, -1])
        if k == 1:
            scores = tf.reduce_max(flat, axis=1, keepdims=True)
            indices = tf.argmax(flat, axis=1, output_type=tf.int32)[:, None]
        else:
            scores, indices = tf.math.top_k(flat, k=tf.minimum(k, tf.shape(flat)[1]))
    return scores, indices // (width * channels), (indices // channels) % width, indices % channels


def _top_k_per_channel(feature_map: tf.Tensor, k: int):
    batch, channels = tf.shape(feature_map)[0], feature_map.shape[3]
    per_channel = tf.reshape(tf.transpose(feature_map, [0, 3, 1, 2]), [batch, channels, -1])
    if k == 1:
        scores = tf.reduce_max(per_channel, axis=2)[..., None]
        indices = tf.argmax(per_channel, axis=2, output_type=tf.int32)[..., None]
    else:
        safe_k = tf.minimum(k, tf.shape(per_channel)[-1])
        scores, indices = tf.math.top_k(per_channel, k=safe_k)
        scores = tf.pad(scores, [(0, 0), (0, 0), (0, k - safe_k)])
        indices = tf.pad(indices, [(0, 0), (0, 0), (0, k - safe_k)])
    indices = channels * indices + tf.range(channels)[None, :, None]
    return tf.reshape(scores, [batch, channels * k]), tf.reshape(indices, [batch, channels * k])
