"""Synthetic COCO ground truth + detections, for parity tests and the benchmark.

The sets are built to reach every branch of COCO matching: many classes, crowd
boxes, stored areas that differ from w*h, images with no objects, images with
no detections, more than 100 detections in an image, tied scores, and boxes in
all three area ranges.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class CaseMix:
    """How often the hard cases occur: fractions of boxes (crowd, stored area) and of
    images (no objects, no detections), and the detection count of the one heavy image."""

    crowd_fraction: float = 0.1
    empty_image_fraction: float = 0.1
    no_det_image_fraction: float = 0.1
    custom_area_fraction: float = 0.2
    heavy_image_dets: int = 150


def synthetic_coco(seed: int, num_images: int = 50, num_classes: int = 8, dets_per_image: int = 30,
                   mix: CaseMix = CaseMix()) -> tuple[dict, list]:
    """Returns (gt instances dict, detection results list) drawn from `seed`.

    Detections are jittered copies of ground-truth boxes (true positives at a
    range of IoUs) mixed with random boxes (false positives); scores are rounded
    to two decimals so ties happen. The first image that has objects gets
    `mix.heavy_image_dets` detections, more than COCO's maxDets=100.
    """
    rng = np.random.default_rng(seed)
    categories = [{"id": c, "name": f"class_{c}"} for c in _category_ids(rng, num_classes)]
    cat_ids = [c["id"] for c in categories]
    images, annotations, results = [], [], []
    heavy_done = False
    for i in range(num_images):
        image_id = int(1000 + 3 * i)
        width, height = int(rng.integers(64, 800)), int(rng.integers(64, 800))
        images.append({"id": image_id, "width": width, "height": height, "file_name": f"{image_id}.jpg"})
        gt_boxes = []
        if rng.random() >= mix.empty_image_fraction:
            for _ in range(int(rng.integers(1, 12))):
                box = _random_box(rng, width, height)
                cat = int(rng.choice(cat_ids))
                crowd = int(rng.random() < mix.crowd_fraction)
                area = box[2] * box[3]
                if rng.random() < mix.custom_area_fraction:
                    # Stored areas differ from w*h; some sit exactly on the
                    # small/medium/large bounds, which COCO treats as inclusive.
                    area = float(rng.choice([area * rng.uniform(0.2, 1.5), 32.0 ** 2, 96.0 ** 2]))
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": cat,
                    "bbox": box, "area": area, "iscrowd": crowd,
                })
                gt_boxes.append((box, cat))
        if rng.random() < mix.no_det_image_fraction:
            continue
        n_dets = int(rng.integers(0, 2 * dets_per_image + 1))
        if gt_boxes and not heavy_done:
            n_dets, heavy_done = mix.heavy_image_dets, True
        for _ in range(n_dets):
            if gt_boxes and rng.random() < 0.6:
                box, cat = gt_boxes[int(rng.integers(len(gt_boxes)))]
                box = _jitter(rng, box, width, height)
                if rng.random() < 0.15:
                    cat = int(rng.choice(cat_ids))
            else:
                box, cat = _random_box(rng, width, height), int(rng.choice(cat_ids))
            score = round(float(rng.random()), 2)
            results.append({"image_id": image_id, "category_id": cat, "bbox": box, "score": score})
    gt = {"images": images, "annotations": annotations, "categories": categories}
    return gt, results


def _category_ids(rng: np.random.Generator, num_classes: int) -> list[int]:
    """Sparse, non-contiguous ids, as real label maps often have."""
    return sorted(int(x) for x in rng.choice(np.arange(1, 4 * num_classes + 1), num_classes, replace=False))


def _random_box(rng: np.random.Generator, width: int, height: int) -> list[float]:
    """A box whose size spans the small, medium and large COCO area ranges."""
    scale = rng.choice([0.05, 0.15, 0.4, 0.8])
    w = float(max(1.0, rng.uniform(0.3, 1.0) * scale * width))
    h = float(max(1.0, rng.uniform(0.3, 1.0) * scale * height))
    x = float(rng.uniform(0, width - w))
    y = float(rng.uniform(0, height - h))
    return [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]


def _jitter(rng: np.random.Generator, box: list[float], width: int, height: int) -> list[float]:
    x, y, w, h = box
    s = rng.uniform(0.0, 0.3)
    x = min(max(0.0, x + rng.normal(0, s) * w), width - 1)
    y = min(max(0.0, y + rng.normal(0, s) * h), height - 1)
    w = max(1.0, w * (1 + rng.normal(0, s)))
    h = max(1.0, h * (1 + rng.normal(0, s)))
    return [round(float(x), 2), round(float(y), 2), round(float(w), 2), round(float(h), 2)]
