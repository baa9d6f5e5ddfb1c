"""Runs exported detectors over OD API TFRecords and collects COCO metrics.

Knows nothing of TFX: it takes file paths and SavedModel directories. Images of
different sizes are never padded into one batch (padding would shift the
normalised boxes); instead images of equal size are grouped into batches of up
to `batch_size`, and a model whose signature fixes the batch at 1 gets one
image per call.

Keypoint metrics (`keypoint_metrics`) are collected when the candidate's
pipeline.config asks for them (`eval_config.parameterized_metric`, `keypoint_setup`):
the records' keypoints are decoded and every model that gives `detection_keypoints`
gets a KeypointAccumulator beside its CocoAccumulator.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from components.evaluator.coco_metrics import CocoAccumulator, Detections, GroundTruth
from components.evaluator import keypoint_metrics
from components.evaluator.keypoint_metrics import KeypointAccumulator, KeypointSetup
from components.names import LABEL_MAP_FILE
from detection.data import tf_example
from detection.serving import export as export_lib
from detection.serving import model_runner
from detection.serving.model_runner import DETECTION_KEYS, KEYPOINT_KEYS
from schemas import example_format, model_layout


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
    looked += model_layout.export_label_maps(export_dir)
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


def _decode(serialized, num_keypoints: int = 0):
    data = tf_example.decode_example(serialized, num_keypoints=num_keypoints)
    key = tf.where(data["source_id"] != "", data["source_id"], data["filename"])
    decoded = {
        "image": data["image"], "key": key, "num_gt": tf.shape(data["boxes"])[0], "gt_boxes": data["boxes"],
        "gt_classes": data["labels"], "gt_is_crowd": data["is_crowd"], "gt_area": data["area"],
    }
    if num_keypoints:
        decoded["gt_keypoints"], decoded["gt_keypoint_visible"] = data["keypoints"], data["keypoint_visibilities"]
    return decoded


def examples_dataset(files: Sequence[str], batch_size: int, num_keypoints: int = 0) -> tf.data.Dataset:
    """Decoded eval examples, batched by image size (no padding of images); with `num_keypoints` K > 0 also
    each object's K keypoints (`gt_keypoints` [n, K, 2], `gt_keypoint_visible` [n, K])."""
    ds = example_format.records_dataset(files)
    ds = ds.map(lambda serialized: _decode(serialized, num_keypoints), num_parallel_calls=tf.data.AUTOTUNE)
    padding = {"image": tf.constant(0, tf.uint8), "key": "", "num_gt": 0, "gt_boxes": 0.0,
               "gt_classes": tf.constant(0, tf.int64), "gt_is_crowd": tf.constant(0, tf.int64), "gt_area": 0.0}
    if num_keypoints:
        padding.update({"gt_keypoints": float("nan"), "gt_keypoint_visible": False})
    if batch_size <= 1:
        ds = ds.batch(1)
    else:
        ds = ds.group_by_window(
            key_func=lambda x: tf.cast(tf.shape(x["image"])[0], tf.int64) * 1_000_003
            + tf.cast(tf.shape(x["image"])[1], tf.int64),
            reduce_func=lambda _, window: window.padded_batch(batch_size, padding_values=padding),
            window_size=batch_size)
    return ds.prefetch(2)


def keypoint_setup(detector, label_map_path: str) -> Optional[KeypointSetup]:
    """The keypoint metrics the model's pipeline.config asks for (`keypoint_metrics.keypoint_setup`) against
    the label map evaluated with; None when it carries no config or asks for none."""
    from schemas.label_map import load_label_map

    proto = detector.pipeline_config()
    if proto is None:
        return None
    return keypoint_metrics.keypoint_setup(proto, load_label_map(label_map_path),
                                           f"{detector.path} (its pipeline.config)")


def load_detector(path: str):
    """The detector at `path`: any model `model_runner.load_model` reads (SavedModel exports, TFLite files)."""
    return model_runner.load_model(path)


def has_keypoints(detector) -> bool:
    """True when a loaded detector's calls give the keypoint outputs (`model_runner.KEYPOINT_KEYS`); a plain
    callable given as a detector gives the box outputs only."""
    return all(k in getattr(detector, "keys", DETECTION_KEYS) for k in KEYPOINT_KEYS)


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
                     drawn_model: Optional[str] = None,
                     detectors: Optional[Mapping[str, object]] = None,
                     keypoints: Optional[KeypointSetup] = None) -> tuple[dict[str, CocoAccumulator],
                                                                         list[DrawnImage]]:
    """Runs every model in `exports` ({name: SavedModel dir, export folder or .tflite file}) over the same images.

    Returns one CocoAccumulator per name, plus the first `keep_images` images with
    the detections of `drawn_model` (default: the first export). `detectors` may hold models already
    loaded (`load_detector`), by name. With `keypoints` (`keypoint_setup`), the records' keypoints are
    read and each model that gives keypoints (`has_keypoints`) collects them in its accumulator's
    `keypoints` (a KeypointAccumulator); the others collect boxes only.
    """
    detectors = {name: (detectors or {}).get(name) or load_detector(path) for name, path in exports.items()}
    accumulators = {name: CocoAccumulator(categories) for name in exports}
    for name, detector in detectors.items():
        if keypoints is not None and has_keypoints(detector):
            accumulators[name].keypoints = KeypointAccumulator(keypoints.classes)
    drawn_model = drawn_model or next(iter(exports))
    kept: list[DrawnImage] = []
    num_keypoints = keypoints.num_keypoints if keypoints is not None else 0
    for batch in examples_dataset(files, batch_size, num_keypoints).as_numpy_iterator():
        outputs = {name: detector(batch["image"]) for name, detector in detectors.items()}
        for i in range(len(batch["image"])):
            n = int(batch["num_gt"][i])
            gt = {k: batch[k][i][:n] for k in ("gt_boxes", "gt_classes", "gt_is_crowd", "gt_area")}
            height, width = batch["image"].shape[1:3]
            key = batch["key"][i].decode("utf-8", "replace")
            truth = GroundTruth(gt["gt_boxes"], gt["gt_classes"], gt["gt_is_crowd"], gt["gt_area"])
            for name, out in outputs.items():
                m = int(out["num_detections"][i])
                detections = Detections(out["detection_boxes"][i][:m], out["detection_classes"][i][:m],
                                        out["detection_scores"][i][:m])
                accumulators[name].add_image(key, height, width, truth, detections)
                if accumulators[name].keypoints is not None:
                    accumulators[name].keypoints.add_image(
                        height, width, truth, batch["gt_keypoints"][i][:n], batch["gt_keypoint_visible"][i][:n],
                        detections, out["detection_keypoints"][i][:m], out["detection_keypoint_scores"][i][:m])
            if len(kept) < keep_images:
                m = int(outputs[drawn_model]["num_detections"][i])
                kept.append(DrawnImage(key, batch["image"][i], gt["gt_boxes"], gt["gt_classes"],
                                       {k: outputs[drawn_model][k][i][:m] for k in DETECTION_KEYS[:3]}))
    return accumulators, kept



@dataclasses.dataclass
class ModelScore:
    """One model scored on an eval split: its COCO result, the accumulated images and the drawn examples."""

    model: str
    model_kind: str
    label_map: str
    num_images: int
    result: object             # coco_metrics.CocoResult
    accumulator: CocoAccumulator
    drawn: list
    categories: dict

    def document(self) -> dict:
        """The JSON document `detflow evaluate` writes (the Evaluator's metrics.json, without a verdict)."""
        return {"model": self.model, "model_kind": self.model_kind, "label_map": self.label_map,
                "num_images": self.num_images, "metrics": self.result.metrics,
                "per_category": self.result.per_category,
                "dropped_detections": self.accumulator.dropped_detections}


def score_model(model: str, data: str | Sequence[str], label_map: Optional[str] = None, batch_size: int = 8,
                keep_images: int = 0) -> ModelScore:
    """COCO metrics of any model `model_runner.load_model` reads, on OD API TFRecords (globs), as the Evaluator
    (with the keypoint metrics its pipeline.config asks for, when it gives keypoints and `label_map` is a
    label map).

    Class names come from `label_map` (a label map, or a TFLite labels .txt), else from the model
    (`model_runner.labels_for`); their ids must be the ids of the records' classes. ProblemsError for a
    model, data or label map that cannot be read, or when no class names are known.
    """
    from detection.data import inputs  # pylint: disable=import-outside-toplevel
    from schemas.problems import problem  # pylint: disable=import-outside-toplevel

    try:
        files = inputs.expand_globs(data)
        inputs.check_records(files)
    except ValueError as error:
        raise problem("--data", str(error)) from None
    detector = model_runner.load_model(model)
    labels = model_runner.labels_for(detector, label_map)
    if not labels.names:
        raise problem(model, "no class names: this model carries no label map or labels; give --label-map "
                             "(the label map the records were made with)")
    a_label_map = tf.io.gfile.exists(labels.source) and not labels.source.lower().endswith(".txt")
    keypoints = keypoint_setup(detector, labels.source) if has_keypoints(detector) and a_label_map else None
    accumulators, drawn = evaluate_exports(files, {"model": model}, labels.names, batch_size=batch_size,
                                           keep_images=keep_images, detectors={"model": detector},
                                           keypoints=keypoints)
    accumulator = accumulators["model"]
    return ModelScore(model, detector.kind, labels.source, len(accumulator.images), accumulator.result(),
                      accumulator, drawn, dict(labels.names))
