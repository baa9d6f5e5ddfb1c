"""`predict_images`: runs any detector `model_runner.load_model` reads (detflow and OD API SavedModel exports,
TFLite detectors with or without a signature or metadata) on images; writes `<out>/<image stem>.png` with the
detections drawn and `<out>/detections.json`:

    {"model": ..., "model_kind": ..., "labels": where the class names came from, "min_score": ...,
     "box_format": "ymin,xmin,ymax,xmax",
     "images": [{"image": path, "output": png, "width": W, "height": H,
                 "detections": [{"class_id": 1, "class_name": "cat", "display_name": "Cat", "score": 0.9,
                                 "box": [normalised], "box_pixels": [pixels]}]}],
     "failed": [{"image": path, "error": why}]}

A model with keypoints (a CenterNet keypoint export: `detection_keypoints`, `detection_keypoint_scores`) adds
to each detection `"keypoints": [[x, y, score], ...]`, one per keypoint in the model's order (the keypoint label
map's ids): x and y in pixels of the original image (normalised x * width, y * height, as box_pixels), the
score the model's, every keypoint listed whatever its score; and at the top `"keypoint_format": "x,y,score"`
and `"keypoint_edges": [[start, end], ...]`. A detection of a class without a keypoint task has the model's
zeros there (score 0), as the OD API's export gives them. The drawing shows each drawn detection's keypoints
that lie inside the image and score above min_score (the OD API's drawing keeps keypoints above its one
threshold, that of the boxes too) as dots in its class colour, and a line for each of the export's
pipeline.config `eval_config.keypoint_edge` whose two keypoints are drawn (`keypoint_edges`: none when the
config has none or the model carries no config).

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
        keypoint_fields = ({"keypoint_format": "x,y,score", "keypoint_edges": [list(e) for e in run.edges]}
                           if run.has_keypoints else {})
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump({"model": export_dir, "model_kind": run.detector.kind, "labels": run.labels.source,
                       "min_score": min_score, "box_format": "ymin,xmin,ymax,xmax", **keypoint_fields,
                       "images": run.done, "failed": run.failed}, f, indent=1)
    return PredictResult(images=run.done, failed=run.failed, json_path=json_path, model_kind=run.detector.kind,
                         labels=run.labels.source)


def keypoint_edges(pipeline_config) -> tuple[tuple[int, int], ...]:
    """The (start, end) keypoint indices predict draws lines between: a TrainEvalPipelineConfig's
    `eval_config.keypoint_edge`, the edges the OD API's eval drawing uses; () without a config."""
    if pipeline_config is None:
        return ()
    return tuple((edge.start, edge.end) for edge in pipeline_config.eval_config.keypoint_edge)


def _keypoint_records(keypoints: np.ndarray, scores: np.ndarray, height: int, width: int) -> list[list[float]]:
    """[[x, y, score], ...] of one detection: normalised (y, x) [K, 2] in pixels of a height x width image."""
    # + 0.0 writes -0.0 as 0.0
    return [[round(float(x) * width, 2) + 0.0, round(float(y) * height, 2) + 0.0, round(float(score), 5)]
            for (y, x), score in zip(keypoints, scores)]


class _PredictRun:
    """One predict run: the loaded detector, where it writes, and what it has done and skipped."""

    def __init__(self, export_dir: str, out_dir: str, min_score: float, label_map: str | None):
        from detection.serving import model_runner  # pylint: disable=import-outside-toplevel
        self.detector = model_runner.load_model(export_dir)
        self.labels = model_runner.labels_for(self.detector, label_map)
        self.names, self.shown_names = self.labels.names, self.labels.shown
        self.out_dir, self.min_score = out_dir, min_score
        self.done, self.failed, self.used = [], [], set()
        self.has_keypoints = all(k in self.detector.keys for k in model_runner.KEYPOINT_KEYS)
        self.edges = keypoint_edges(self.detector.pipeline_config()) if self.has_keypoints else ()

    def predict_one(self, path: str) -> None:
        """Detects, draws and records one image in `done`, or records why it was skipped in `failed`."""
        from detection import visualize  # pylint: disable=import-outside-toplevel
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
        keep = out["detection_scores"][0, :count] >= self.min_score
        kept = {k: v[0, :count][keep] for k, v in out.items() if k != "num_detections"}
        boxes, scores = kept["detection_boxes"], kept["detection_scores"]
        classes = kept["detection_classes"].astype(int)
        height, width = pixels.shape[:2]
        output = os.path.join(self.out_dir, _output_name(path, self.used))
        keypoints = (visualize.Keypoints(kept["detection_keypoints"], kept["detection_keypoint_scores"], self.edges)
                     if self.has_keypoints else None)
        visualize.draw_predictions(pixels, boxes, classes, scores, self.shown_names, self.min_score,
                                   keypoints).save(output)
        scale = np.array([height, width, height, width], np.float64)
        names, shown = self.names, self.shown_names
        detections = [{"class_id": int(c), "class_name": names.get(int(c), f"id {int(c)}"),
                       "display_name": shown.get(int(c), f"id {int(c)}"),
                       "score": round(float(s), 5), "box": [round(float(v), 5) for v in b],
                       "box_pixels": [round(float(v), 2) for v in b * scale]}
                      for b, c, s in zip(boxes, classes, scores)]
        if self.has_keypoints:
            for detection, points, point_scores in zip(detections, kept["detection_keypoints"],
                                                       kept["detection_keypoint_scores"]):
                detection["keypoints"] = _keypoint_records(points, point_scores, height, width)
        self.done.append({"image": path, "output": output, "width": width, "height": height,
                          "detections": detections})
