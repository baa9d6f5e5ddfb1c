"""Anchors as the OD API generates them, in its order: level, row, column, then anchor within the cell.

Both generators return normalised ymin, xmin, ymax, xmax as float32 [N, 4] for
the feature-map sizes of a built network.

- `multiscale_grid_anchors` (`multiscale_anchor_generator`, RetinaNet/FPN):
  at level l, stride 2^l, base size 2^l * anchor_scale, scales
  2^(i / scales_per_octave); within a cell the aspect ratio is the outer loop
  and the scale the inner one. Centres are at i * stride + offset, the offset
  being stride / 2 along an axis whose image size is a multiple of the stride,
  else 0 (the OD API's rule: at 320 px, level 7 sits on cell corners).
- `ssd_anchors` (`ssd_anchor_generator`, the SSD paper's layout): scales
  linear from min_scale to max_scale over num_layers, the first layer with
  3 boxes ((0.1, 1), (s, 2), (s, 0.5)) when reduce_boxes_in_lowest_layer, the
  others one box per aspect ratio plus one of scale sqrt(s * s_next) at
  interpolated_scale_aspect_ratio; cells of 1 / grid size with centres at
  half a cell unless strides/offsets are given; the base size is shrunk on the
  longer image side so anchors stay square in pixels.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _tile(grid_h: int, grid_w: int, scales, aspect_ratios, base: Sequence[float], stride: Sequence[float],
          offset: Sequence[float]) -> np.ndarray:
    """The OD API's `tile_anchors`: [grid_h * grid_w * K, 4] ymin, xmin, ymax, xmax, K = len(scales)."""
    scales = np.asarray(scales, np.float32)
    ratios = np.sqrt(np.asarray(aspect_ratios, np.float32))
    heights = scales / ratios * np.float32(base[0])
    widths = scales * ratios * np.float32(base[1])
    ys = np.arange(grid_h, dtype=np.float32) * np.float32(stride[0]) + np.float32(offset[0])
    xs = np.arange(grid_w, dtype=np.float32) * np.float32(stride[1]) + np.float32(offset[1])
    cy = np.broadcast_to(ys[:, None, None], (grid_h, grid_w, len(scales)))
    cx = np.broadcast_to(xs[None, :, None], (grid_h, grid_w, len(scales)))
    h = np.broadcast_to(heights[None, None, :], cy.shape)
    w = np.broadcast_to(widths[None, None, :], cx.shape)
    boxes = np.stack([cy - 0.5 * h, cx - 0.5 * w, cy + 0.5 * h, cx + 0.5 * w], axis=-1)
    return boxes.reshape(-1, 4).astype(np.float32)


def multiscale_grid_anchors(feature_shapes: Sequence[tuple[int, int]], image_height: int, image_width: int, *,
                            min_level: int, anchor_scale: float, aspect_ratios: Sequence[float],
                            scales_per_octave: int, normalize: bool = True) -> np.ndarray:
    """Anchors of `multiscale_anchor_generator` for the feature maps of levels min_level, min_level + 1, ..."""
    scales = [2 ** (float(s) / scales_per_octave) for s in range(scales_per_octave)]
    # Aspect ratio outer, scale inner (the OD API's meshgrid(scales, aspect_ratios)).
    grid_scales = [s for _ in aspect_ratios for s in scales]
    grid_ratios = [a for a in aspect_ratios for _ in scales]
    out = []
    for index, (grid_h, grid_w) in enumerate(feature_shapes):
        level = min_level + index
        stride = 2 ** level
        offset = (stride / 2.0 if image_height % stride == 0 else 0.0,
                  stride / 2.0 if image_width % stride == 0 else 0.0)
        base = (stride * anchor_scale, stride * anchor_scale)
        boxes = _tile(grid_h, grid_w, grid_scales, grid_ratios, base, (stride, stride), offset)
        if normalize:
            boxes = boxes * np.array([1 / image_height, 1 / image_width] * 2, np.float32)
        out.append(boxes)
    return np.concatenate(out).astype(np.float32)


def grid_anchors(grid_height: int, grid_width: int, scales: Sequence[float], aspect_ratios: Sequence[float],
                 base_size: Sequence[float] = (256.0, 256.0), stride: Sequence[float] = (16.0, 16.0),
                 offset: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Anchors of `grid_anchor_generator` (Faster R-CNN) in pixels, not clipped: [grid_h * grid_w * A, 4].

    Centres at i * stride + offset (the OD API's default offset 0: cell corners); within a cell
    the aspect ratio is the outer loop and the scale the inner one (its meshgrid(scales, aspect_ratios)).
    """
    grid_scales = [float(s) for _ in aspect_ratios for s in scales]
    grid_ratios = [float(a) for a in aspect_ratios for _ in scales]
    return _tile(grid_height, grid_width, grid_scales, grid_ratios, base_size, stride, offset)


def ssd_box_specs(num_layers: int, min_scale: float, max_scale: float, scales: Sequence[float],
                  aspect_ratios: Sequence[float], interpolated_scale_aspect_ratio: float,
                  reduce_boxes_in_lowest_layer: bool) -> list[list[tuple[float, float]]]:
    """(scale, aspect ratio) of each box of each layer (the OD API's `create_ssd_anchors`)."""
    if scales:
        scales = [float(s) for s in scales] + [1.0]
    else:
        scales = [min_scale + (max_scale - min_scale) * i / (num_layers - 1) for i in range(num_layers)] + [1.0]
    specs = []
    for layer, (scale, scale_next) in enumerate(zip(scales[:-1], scales[1:])):
        if layer == 0 and reduce_boxes_in_lowest_layer:
            specs.append([(0.1, 1.0), (scale, 2.0), (scale, 0.5)])
            continue
        layer_specs = [(scale, float(a)) for a in aspect_ratios]
        if interpolated_scale_aspect_ratio > 0.0:
            layer_specs.append((math.sqrt(scale * scale_next), interpolated_scale_aspect_ratio))
        specs.append(layer_specs)
    return specs


def ssd_anchors(feature_shapes: Sequence[tuple[int, int]], image_height: int, image_width: int,
                box_specs: list[list[tuple[float, float]]], base_anchor_size: tuple[float, float] = (1.0, 1.0),
                strides: Sequence[tuple[int, int]] | None = None,
                offsets: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
    """Anchors of `ssd_anchor_generator` (normalised) for the given feature-map sizes."""
    if strides:
        norm_strides = [(s[0] / image_height, s[1] / image_width) for s in strides]
    else:
        norm_strides = [(np.float32(1.0) / np.float32(h), np.float32(1.0) / np.float32(w))
                        for h, w in feature_shapes]
    if offsets:
        norm_offsets = [(o[0] / image_height, o[1] / image_width) for o in offsets]
    else:
        norm_offsets = [(0.5 * s[0], 0.5 * s[1]) for s in norm_strides]
    shortest = min(image_height, image_width)
    base = (shortest / image_height * base_anchor_size[0], shortest / image_width * base_anchor_size[1])
    out = []
    for (grid_h, grid_w), specs, stride, offset in zip(feature_shapes, box_specs, norm_strides, norm_offsets):
        scales, ratios = zip(*specs)
        out.append(_tile(grid_h, grid_w, scales, ratios, base, stride, offset))
    return np.concatenate(out).astype(np.float32)
