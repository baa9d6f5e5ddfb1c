"""The embedded sample dataset: a deterministic generator of small detection datasets.

Nothing is downloaded. Each image is rendered from its own seeded numpy RNG
(`SeedSequence([seed, span, index])`), so the same arguments give identical bytes,
and image `i` does not depend on how many images are asked for.

Images (drawn by `sample_data.drawing`) look like a small real dataset: textured
backgrounds (gradients, cloudy noise, planks, tiles) with clutter that is not an object (lines, arcs, blobs, specks);
objects of distinct shapes *and* textures, rotated, coloured from a per-class palette
with jitter, with soft edges and drop shadows; objects that overlap (no object keeps
less than ~45% of itself visible), touch the image border, are small, medium or large
for the image (at 128 px, COCO's absolute area ranges see them as small or medium),
and a few negative images with no object at all.

Annotations are COCO instances JSON. `bbox` is the full (amodal) box of the object,
clipped to the image; `area` is the object's visible pixel count, as COCO computes it
from a segmentation mask.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import pathlib
import re
from typing import Sequence

import numpy as np
from PIL import Image

from sample_data import drawing as sample_drawing

DEMO_CLASSES = ("hex_nut", "washer", "bolt", "bracket", "gear")
PRETRAIN_CLASSES = ("disc", "bar", "triangle", "cross", "star")


@dataclasses.dataclass
class SampleDataset:
    """Where a generated dataset lies and what it holds."""

    root: pathlib.Path
    images_dir: pathlib.Path
    annotations: pathlib.Path
    label_map: pathlib.Path
    num_images: int
    num_boxes: int
    classes: tuple[str, ...]


def label_map_text(classes: Sequence[str], keypoints: Sequence[str] = ()) -> str:
    """A StringIntLabelMap text proto for `classes`, ids 1..N in order; each class declares `keypoints` (ids
    0..K-1, the data's order) when given."""
    items = []
    declared = "".join(f"  keypoints {{\n    id: {k}\n    label: '{label}'\n  }}\n" for k, label in enumerate(keypoints))
    for i, name in enumerate(classes, start=1):
        display = name.replace("_", " ").capitalize()
        items.append(f"item {{\n  id: {i}\n  name: '{name}'\n  display_name: '{display}'\n{declared}}}\n")
    return "".join(items)


# With keypoints: each object's extreme points (COCO keypoints, 1-based skeleton around them); a horizontal flip
# swaps left and right (keypoint_flip_permutation).
KEYPOINT_NAMES = sample_drawing.EXTREME_POINTS
KEYPOINT_SKELETON = [[1, 3], [3, 2], [2, 4], [4, 1]]
KEYPOINT_FLIP_PERMUTATION = (0, 1, 3, 2)


def _coco_keypoints(o: dict) -> dict:
    """An object's COCO `keypoints` ([x, y, v] x K: 2 visible, 1 hidden under a later object) and num_keypoints."""
    flat = []
    for (x, y), visible in zip(o["extremes"], o["extremes_visible"]):
        flat += [round(x, 2), round(y, 2), 2 if visible else 1]
    return {"keypoints": flat, "num_keypoints": len(o["extremes"])}


@dataclasses.dataclass(frozen=True)
class ImageMix:
    """What the images hold: objects per image, how many are negatives, and how many are JPEG.

    An image has no objects with probability `negative_fraction` when
    `min_objects` is 0, else between max(1, min_objects) and `max_objects`
    objects (fewer when no place leaves every object >=45% visible).
    `jpeg_fraction` of the images (drawn per image) are JPEG, the rest PNG.
    """

    min_objects: int = 0
    max_objects: int = 4
    jpeg_fraction: float = 0.2
    negative_fraction: float = 0.06


def generate(out_dir, num_images: int = 300, classes: Sequence[str] = DEMO_CLASSES,
             image_size: tuple[int, int] = (128, 128), seed: int = 0, span: int = 0,
             mix: ImageMix = ImageMix(), keypoints: bool = False) -> SampleDataset:
    """Writes `num_images` images, `annotations.json` (COCO) and `label_map.pbtxt` under `out_dir`.

    `image_size` is (height, width); `mix` says what the images hold (see ImageMix). With `keypoints`, every
    object has COCO keypoints: its extreme points (KEYPOINT_NAMES), each visible (2) or hidden under a later
    object (1); the categories name them and the label map declares them. The images are the same either way.
    """
    classes = tuple(classes)
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct and non-empty, got {classes}")
    if mix.min_objects > mix.max_objects or mix.min_objects < 0:
        raise ValueError(f"need 0 <= min_objects <= max_objects, got {mix.min_objects}, {mix.max_objects}")
    h, w = image_size
    root = pathlib.Path(out_dir)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    coco = {"info": {"description": "detflow generated sample data", "version": "1.0",
                     "seed": seed, "span": span},
            "licenses": [], "images": [], "annotations": [],
            "categories": [{"id": i, "name": n, "supercategory": "object",
                            **({"keypoints": list(KEYPOINT_NAMES), "skeleton": KEYPOINT_SKELETON} if keypoints else {})}
                           for i, n in enumerate(classes, 1)]}
    for index in range(num_images):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, span, index])))
        if mix.min_objects == 0 and rng.random() < mix.negative_fraction:
            count = 0
        else:
            count = int(rng.integers(max(1, mix.min_objects), mix.max_objects + 1))
        pixels, objects = sample_drawing.render_image(rng, classes, h, w, count)
        is_jpeg = rng.random() < mix.jpeg_fraction
        file_name = f"{index:06d}.{'jpg' if is_jpeg else 'png'}"
        buf = io.BytesIO()
        if is_jpeg:
            Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
        else:
            Image.fromarray(pixels).save(buf, format="PNG", compress_level=3)
        (images_dir / file_name).write_bytes(buf.getvalue())
        image_id = index + 1
        coco["images"].append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        for o in objects:
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": image_id, "category_id": o["class"] + 1,
                "bbox": o["bbox"], "area": float(o["visible"]), "iscrowd": 0,
                **(_coco_keypoints(o) if keypoints else {})})
    # A smaller run into the same folder must not leave images of an earlier run behind.
    written = {im["file_name"] for im in coco["images"]}
    for stale in images_dir.iterdir():
        if re.fullmatch(r"\d{6}\.(png|jpg)", stale.name) and stale.name not in written:
            stale.unlink()
    annotations = root / "annotations.json"
    annotations.write_text(json.dumps(coco, indent=1, sort_keys=True) + "\n")
    label_map = root / "label_map.pbtxt"
    label_map.write_text(label_map_text(classes, KEYPOINT_NAMES if keypoints else ()))
    return SampleDataset(root=root, images_dir=images_dir, annotations=annotations, label_map=label_map,
                         num_images=num_images, num_boxes=len(coco["annotations"]), classes=classes)


def generate_span(out_dir, span: int, **kwargs) -> SampleDataset:
    """Writes a scheduled 'new data drop' to `out_dir/span-{span}/`: same classes, new images.

    The images differ per span (the span is part of every image's seed); the label map
    is written into the span folder too, so each drop stands alone.
    """
    if span < 0:
        raise ValueError(f"span must be >= 0, got {span}")
    return generate(pathlib.Path(out_dir) / f"span-{span}", span=span, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sample_data OUT --num-images N [--classes pretrain|demo] [--seed S]`."""
    parser = argparse.ArgumentParser(prog="python -m sample_data", description=__doc__.splitlines()[0])
    parser.add_argument("out", metavar="OUT")
    parser.add_argument("--num-images", type=int, default=300)
    parser.add_argument("--classes", default="demo",
                        help="'demo', 'pretrain', or a comma-separated list of class names")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=128, help="image height and width in pixels")
    parser.add_argument("--span", type=int, help="write OUT/span-SPAN/ (a scheduled data drop)")
    parser.add_argument("--keypoints", action="store_true",
                        help="annotate each object's extreme points (top, bottom, left, right) as COCO keypoints")
    args = parser.parse_args(argv)
    named = {"demo": DEMO_CLASSES, "pretrain": PRETRAIN_CLASSES}
    classes = named.get(args.classes) or tuple(c.strip() for c in args.classes.split(",") if c.strip())
    kwargs = dict(num_images=args.num_images, classes=classes, seed=args.seed, image_size=(args.size, args.size),
                  keypoints=args.keypoints)
    ds = generate_span(args.out, args.span, **kwargs) if args.span is not None else generate(args.out, **kwargs)
    print(f"{ds.num_images} images, {ds.num_boxes} boxes, classes {', '.join(ds.classes)}\n"
          f"  images:      {ds.images_dir}\n  annotations: {ds.annotations}\n  label map:   {ds.label_map}")
    return 0

