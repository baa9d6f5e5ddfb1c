"""`predict_images`: runs any detector `model_runner.load_model` reads (detflow and OD API SavedModel exports,
TFLite detectors with or without a signature or metadata) on images; writes `<out>/<image stem>.png` with the
detections drawn and `<out>/detections.json`:

    {"model": ..., "model_kind": ..., "labels": where the class names came from, "min_score": ...,
     "box_format": "ymin,xmin,ymax,xmax",
     "images": [{"image": path, "output": png, "width": W, "height": H,
                 "detections": [{"class_id": 1, "class_name": "cat", "display_name": "Cat", "score": 0.9,
                                 "box": [normalised], "box_pixels": [pixels]}]}],
     "failed": [{"image": path, "error": why}]}

Unreadable, undecodable or oversized images (more pixels than Pillow's
decompression-bomb limit) are named, counted and skipped, and the rest are
still written; a missing model or an --out that cannot be written is a
ProblemsError (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
from PIL import Image, UnidentifiedImageError


@dataclasses.dataclass
class PredictResult:
    """What a predict run wrote and skipped."""

    images: list[dict]
    failed: list[dict]
    json_path: str
    model_kind: str = ""
    labels: str = ""


def _read_image(path: str) -> np.ndarray:
    with Image.open(path) as image:
        pixels = image.size[0] * image.size[1]
        if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
            raise ValueError(f"{image.size[0]}x{image.size[1]} is {pixels} pixels, more than the "
                             f"{Image.MAX_IMAGE_PIXELS} Pillow decodes safely (a decompression bomb?)")
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _output_name(path: str, used: set[str]) -> str:
    stem = os.path.splitext(os.path.basename(path))[0] or "image"
    name, n = f"{stem}.png", 1
    while name in used:
        n += 1
        name = f"{stem}_{n}.png"
    used.add(name)
    return name


def predict_images(export_dir: str, image_paths: list[str], out_dir: str, min_score: float = 0.3,
                   label_map: str | None = None) -> PredictResult:
    """Detects objects in each image with the model at `export_dir`; writes PNGs + detections.json.

    `label_map` names the classes (default: what the model carries, see `model_runner.labels_for`).
    """
    from detection.outputs import writable_dir  # pylint: disable=import-outside-toplevel
    out_dir = writable_dir(out_dir, "--out")
    run = _PredictRun(export_dir, out_dir, min_score, label_map)
    json_path = os.path.join(out_dir, "detections.json")
    try:
        for path in image_paths:
            run.predict_one(path)
    finally:  # what was done is written, whatever stopped the loop
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump({"model": export_dir, "model_kind": run.detector.kind, "labels": run.labels.source,
                       "min_score": min_score, "box_format": "ymin,xmin,ymax,xmax",
                       "images": run.done, "failed": run.failed}, f, indent=1)
    return PredictResult(images=run.done, failed=run.failed, json_path=json_path, model_kind=run.detector.kind,
                         labels=run.labels.source)


class _PredictRun:
    """One predict run: the loaded detector, where it writes, and what it has done and skipped."""

    def __init__(self, export_dir: str, out_dir: str, min_score: float, label_map: str | None):
        from detection.serving import model_runner  # pylint: disable=import-outside-toplevel
        self.detector = model_runner.load_model(export_dir)
        self.labels = model_runner.labels_for(self.detector, label_map)
        self.names, self.shown_names = self.labels.names, self.labels.shown
        self.out_dir, self.min_score = out_dir, min_score
        self.done, self.failed, self.used = [], [], set()

    def predict_one(self, path: str) -> None:
        """Detects, draws and records one image in `done`, or records why it was skipped in `failed`."""
        from detection.visualize import draw_detections  # pylint: disable=import-outside-toplevel
        try:
            pixels = _read_image(path)
        except FileNotFoundError:
            self.failed.append({"image": path, "error": "no such file"})
            return
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
            self.failed.append({"image": path, "error": f"cannot decode image: {error}"})
            return
        out = self.detector(pixels[None])
        count = int(out["num_detections"][0])
        boxes = out["detection_boxes"][0, :count]
        scores = out["detection_scores"][0, :count]
        classes = out["detection_classes"][0, :count].astype(int)
        height, width = pixels.shape[:2]
        keep = scores >= self.min_score
        output = os.path.join(self.out_dir, _output_name(path, self.used))
        draw_detections(pixels, boxes[keep], classes[keep], scores[keep], self.shown_names,
                        min_score=self.min_score).save(output)
        scale = np.array([height, width, height, width], np.float64)
        names, shown = self.names, self.shown_names
        detections = [{"class_id": int(c), "class_name": names.get(int(c), f"id {int(c)}"),
                       "display_name": shown.get(int(c), f"id {int(c)}"),
                       "score": round(float(s), 5), "box": [round(float(v), 5) for v in b],
                       "box_pixels": [round(float(v), 2) for v in b * scale]}
                      for b, c, s in zip(boxes[keep], classes[keep], scores[keep])]
        self.done.append({"image": path, "output": output, "width": width, "height": height,
                          "detections": detections})
