"""Runs exported detectors over OD API TFRecords and collects COCO metrics.

Knows nothing of TFX: it takes file paths and SavedModel directories. Images of
different sizes are never padded into one batch (padding would shift the
normalised boxes); instead images of equal size are grouped into batches of up
to `batch_size`, and a model whose signature fixes the batch at 1 gets one
image per call.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from components.evaluator.coco_metrics import CocoAccumulator, Detections, GroundTruth
from components.names import LABEL_MAP_FILE
from components.trainer import export as export_lib, tf_example

DETECTION_KEYS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")


def find_label_map(export_dir: str, label_map_dir: Optional[str] = None) -> str:
    """The label map to evaluate with: `<label_map_dir>/label_map.pbtxt` when given
    (or `label_map_dir` itself if it is the file), else the one the export carries
    (`export.find_label_map`). Raises FileNotFoundError naming where it looked."""
    looked = []
    if label_map_dir:
        given = label_map_dir if tf.io.gfile.exists(label_map_dir) and not tf.io.gfile.isdir(label_map_dir) \
            else os.path.join(label_map_dir, LABEL_MAP_FILE)
        if tf.io.gfile.exists(given):
            return given
        looked.append(given)
    found = export_lib.find_label_map(export_dir)
    if found:
        return found
    looked += export_lib.label_map_candidates(export_dir)
    raise FileNotFoundError(f"no label map found; looked at: {', '.join(looked)}")


def read_label_map(path: str) -> dict[int, str]:
    """{id: name} of a StringIntLabelMap text proto (a `background` id 0 left out)."""
    from schemas.label_map import load_label_map

    return {item.id: item.name for item in load_label_map(path).items if item.id > 0}


def split_files(examples_uri: str, split: str) -> list[str]:
    """The TFRecord files of one split of a TFX Examples directory (`Split-<name>/`)."""
    pattern = os.path.join(examples_uri, f"Split-{split}", "*")
    files = sorted(glob.glob(pattern)) or sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files for split '{split}' at {pattern}")
    return files


def _decode(serialized):
    data = tf_example.decode_example(serialized)
    key = tf.where(data["source_id"] != "", data["source_id"], data["filename"])
    return {
        "image": data["image"], "key": key, "num_gt": tf.shape(data["boxes"])[0], "gt_boxes": data["boxes"],
        "gt_classes": data["labels"], "gt_is_crowd": data["is_crowd"], "gt_area": data["area"],
    }


def examples_dataset(files: Sequence[str], batch_size: int) -> tf.data.Dataset:
    """Decoded eval examples, batched by image size (no padding of images)."""
    compression = "GZIP" if all(f.endswith(".gz") for f in files) else ""
    ds = tf.data.TFRecordDataset(list(files), compression_type=compression)
    ds = ds.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size <= 1:
        ds = ds.batch(1)
    else:
        ds = ds.group_by_window(
            key_func=lambda x: tf.cast(tf.shape(x["image"])[0], tf.int64) * 1_000_003
            + tf.cast(tf.shape(x["image"])[1], tf.int64),
            reduce_func=lambda _, window: window.padded_batch(batch_size, padding_values={
                "image": tf.constant(0, tf.uint8), "key": "", "num_gt": 0, "gt_boxes": 0.0,
                "gt_classes": tf.constant(0, tf.int64), "gt_is_crowd": tf.constant(0, tf.int64),
                "gt_area": 0.0}),
            window_size=batch_size)
    return ds.prefetch(2)


@dataclasses.dataclass
class Detector:
    """A loaded serving signature and the batch size it accepts."""

    fn: object
    input_name: str
    input_dtype: tf.DType
    max_batch: Optional[int]

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Detections for a uint8 [B,H,W,3] batch, split to fit the signature's batch size."""
        step = self.max_batch or len(images)
        parts = []
        for start in range(0, len(images), step):
            chunk = tf.cast(images[start:start + step], self.input_dtype)
            out = self.fn(**{self.input_name: chunk})
            parts.append({k: out[k].numpy() for k in DETECTION_KEYS})
        return {k: np.concatenate([p[k] for p in parts]) for k in DETECTION_KEYS}


class TfliteDetector:
    """A .tflite detector (`tflite_export.TfliteRunner`) called like `Detector`: one image per interpreter call."""

    def __init__(self, path: str):
        from components.trainer.tflite_export import TfliteRunner

        self._runner = TfliteRunner(path)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Detections for a uint8 [B,H,W,3] batch, in `serving_default`'s layout."""
        parts = [self._runner(image) for image in images]
        return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in DETECTION_KEYS}


def load_detector(export_dir: str):
    """Loads `serving_default` of an OD API-style SavedModel export, or a `.tflite` file."""
    if export_dir.endswith(".tflite"):
        return TfliteDetector(export_dir)
    loaded = tf.saved_model.load(export_dir)
    fn = loaded.signatures["serving_default"]
    inputs = fn.structured_input_signature[1]
    name = "input_tensor" if "input_tensor" in inputs else next(iter(inputs))
    spec = inputs[name]
    missing = [k for k in DETECTION_KEYS if k not in fn.structured_outputs]
    if missing:
        raise ValueError(f"{export_dir}: serving_default lacks output(s) {missing}")
    batch = spec.shape[0] if spec.shape.rank else None
    detector = Detector(fn, name, spec.dtype, batch)
    detector._keepalive = loaded  # the signature needs its SavedModel object alive
    return detector


@dataclasses.dataclass
class DrawnImage:
    """An eval image kept for drawing, with its ground truth and a model's detections."""

    key: str
    image: np.ndarray
    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    detections: dict[str, np.ndarray]


def evaluate_exports(files: Sequence[str], exports: Mapping[str, str], categories: Mapping[int, str],
                     batch_size: int = 8, keep_images: int = 0,
                     drawn_model: Optional[str] = None) -> tuple[dict[str, CocoAccumulator], list[DrawnImage]]:
    """Runs every export in `exports` ({name: SavedModel dir or .tflite file}) over the same decoded images.

    Returns one CocoAccumulator per name, plus the first `keep_images` images with
    the detections of `drawn_model` (default: the first export).
    """
    detectors = {name: load_detector(path) for name, path in exports.items()}
    accumulators = {name: CocoAccumulator(categories) for name in exports}
    drawn_model = drawn_model or next(iter(exports))
    kept: list[DrawnImage] = []
    for batch in examples_dataset(files, batch_size).as_numpy_iterator():
        outputs = {name: detector(batch["image"]) for name, detector in detectors.items()}
        for i in range(len(batch["image"])):
            n = int(batch["num_gt"][i])
            gt = {k: batch[k][i][:n] for k in ("gt_boxes", "gt_classes", "gt_is_crowd", "gt_area")}
            height, width = batch["image"].shape[1:3]
            key = batch["key"][i].decode("utf-8", "replace")
            truth = GroundTruth(gt["gt_boxes"], gt["gt_classes"], gt["gt_is_crowd"], gt["gt_area"])
            for name, out in outputs.items():
                m = int(out["num_detections"][i])
                accumulators[name].add_image(key, height, width, truth, Detections(
                    out["detection_boxes"][i][:m], out["detection_classes"][i][:m], out["detection_scores"][i][:m]))
            if len(kept) < keep_images:
                m = int(outputs[drawn_model]["num_detections"][i])
                kept.append(DrawnImage(key, batch["image"][i], gt["gt_boxes"], gt["gt_classes"],
                                       {k: outputs[drawn_model][k][i][:m] for k in DETECTION_KEYS[:3]}))
    return accumulators, kept

