"""`predict_images`: runs an exported detector (ours, or any OD API export with `serving_default`
taking `input_tensor`, or a .tflite detector of `detflow export`) on images; writes `<out>/<image stem>.png` with the
detections drawn and `<out>/detections.json`:

    {"model": ..., "min_score": ..., "box_format": "ymin,xmin,ymax,xmax",
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

from schemas.problems import Problem, ProblemsError


@dataclasses.dataclass
class PredictResult:
    """What a predict run wrote and skipped."""

    images: list[dict]
    failed: list[dict]
    json_path: str


def _class_names(export_dir: str) -> tuple[dict[int, str], dict[int, str]]:
    """(id → name, id → display name or name) from the export's label map, or a .tflite's label file."""
    from components.trainer.export import find_label_map  # pylint: disable=import-outside-toplevel
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel
    if export_dir.endswith(".tflite"):
        from components.trainer.tflite_metadata import read_labels  # pylint: disable=import-outside-toplevel
        with open(export_dir, "rb") as f:
            names = {i: name for i, name in enumerate(read_labels(f.read()), 1) if name != "???"}
        return names, dict(names)
    path = find_label_map(export_dir)
    if path is None:
        return {}, {}
    items = load_label_map(path).items
    return {i.id: i.name for i in items}, {i.id: i.display_name or i.name for i in items}


def _load(export_dir: str):
    """(tensorflow, a function uint8 [1,H,W,3] → detections with ids) of a SavedModel folder or a .tflite."""
    if export_dir.endswith(".tflite"):
        if not os.path.isfile(export_dir):
            raise ProblemsError([Problem(export_dir, "no such file")])
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        from components.trainer.tflite_export import TfliteRunner  # pylint: disable=import-outside-toplevel
        try:
            runner = TfliteRunner(export_dir)
        except (ValueError, RuntimeError) as error:
            raise ProblemsError([Problem(export_dir, f"not a TFLite detector: {error}")]) from None
        return tf, runner, lambda input_tensor: runner(input_tensor.numpy()[0])
    if not os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
        why = "no such directory" if not os.path.isdir(export_dir) else "no saved_model.pb in it"
        raise ProblemsError([Problem(export_dir, f"not an exported model: {why}")])
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    loaded = tf.saved_model.load(export_dir)
    if "serving_default" not in loaded.signatures:
        raise ProblemsError([Problem(export_dir, "the SavedModel has no serving_default signature")])
    return tf, loaded, loaded.signatures["serving_default"]


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


def predict_images(export_dir: str, image_paths: list[str], out_dir: str, min_score: float = 0.3) -> PredictResult:
    """Detects objects in each image with the export at `export_dir`; writes PNGs + detections.json."""
    from components.common.outputs import writable_dir  # pylint: disable=import-outside-toplevel
    out_dir = writable_dir(out_dir, "--out")
    run = _PredictRun(export_dir, out_dir, min_score)
    json_path = os.path.join(out_dir, "detections.json")
    try:
        for path in image_paths:
            run.predict_one(path)
    finally:  # what was done is written, whatever stopped the loop
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump({"model": export_dir, "min_score": min_score, "box_format": "ymin,xmin,ymax,xmax",
                       "images": run.done, "failed": run.failed}, f, indent=1)
    return PredictResult(images=run.done, failed=run.failed, json_path=json_path)


class _PredictRun:
    """One predict run: the loaded detector, where it writes, and what it has done and skipped."""

    def __init__(self, export_dir: str, out_dir: str, min_score: float):
        self.tf, self._loaded, self.detect = _load(export_dir)
        self.names, self.shown_names = _class_names(export_dir)
        self.out_dir, self.min_score = out_dir, min_score
        self.done, self.failed, self.used = [], [], set()

    def predict_one(self, path: str) -> None:
        """Detects, draws and records one image in `done`, or records why it was skipped in `failed`."""
        from components.common.visualize import draw_detections  # pylint: disable=import-outside-toplevel
        try:
            pixels = _read_image(path)
        except FileNotFoundError:
            self.failed.append({"image": path, "error": "no such file"})
            return
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
            self.failed.append({"image": path, "error": f"cannot decode image: {error}"})
            return
        out = {k: np.asarray(v) for k, v in self.detect(input_tensor=self.tf.constant(pixels[None])).items()}
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
