"""A tiny eval set and a tiny real SavedModel detector honouring the OD API serving contract.

Images are dark, with one red rectangle (class 1, "red") and on some images one
green rectangle (class 2, "green"), in two image sizes. The detector finds the
red and green pixels and returns their bounding boxes, moved by `shift` (a
fraction of the image): shift 0 is a perfect model, shift 0.3 a bad one.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from schemas import example_format as ef

LABEL_MAP = 'item { id: 1 name: "red" }\nitem { id: 2 name: "green" }\n'
PIPELINE_CONFIG = "model { ssd { num_classes: 2 } }\n"
SIZES = ((48, 64), (64, 48))


def _feature(kind, values):
    if kind == "f":
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))
    if kind == "i":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def make_example(rng, n: int, with_crowd_and_area: bool = True) -> bytes:
    """One serialized OD API tf.Example with a red and maybe a green rectangle."""
    height, width = SIZES[n % 2]
    image = np.full((height, width, 3), 30, np.uint8)
    boxes, labels = [], []
    # Red in the left half, green in the right half: they never overlap.
    for label, colour, x_lo in ((1, (255, 0, 0), 0), (2, (0, 255, 0), width // 2)):
        if label == 2 and n % 3 == 0:
            continue
        h, w = int(rng.integers(8, height // 2)), int(rng.integers(6, width // 2 - 2))
        y, x = int(rng.integers(0, height - h)), x_lo + int(rng.integers(0, width // 2 - w))
        image[y:y + h, x:x + w] = colour
        boxes.append([y / height, x / width, (y + h) / height, (x + w) / width])
        labels.append(label)
    boxes = np.array(boxes)
    name = f"img{n:03d}.png".encode()
    feats = {
        ef.IMAGE_ENCODED: _feature("b", [tf.io.encode_png(image).numpy()]), ef.IMAGE_FORMAT: _feature("b", [b"png"]),
        ef.FILENAME: _feature("b", [name]), ef.SOURCE_ID: _feature("b", [name]),
        ef.HEIGHT: _feature("i", [height]), ef.WIDTH: _feature("i", [width]),
        ef.BBOX_YMIN: _feature("f", boxes[:, 0]), ef.BBOX_XMIN: _feature("f", boxes[:, 1]),
        ef.BBOX_YMAX: _feature("f", boxes[:, 2]), ef.BBOX_XMAX: _feature("f", boxes[:, 3]),
        ef.CLASS_LABEL: _feature("i", labels),
    }
    if with_crowd_and_area:
        feats[ef.IS_CROWD] = _feature("i", [0] * len(labels))
        feats[ef.AREA] = _feature("f", [(b[2] - b[0]) * height * (b[3] - b[1]) * width for b in boxes])
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def write_examples(uri: str, num_eval: int = 6, num_train: int = 2, with_crowd_and_area: bool = True) -> str:
    """A TFX Examples folder: gzipped TFRecords under Split-train/ and Split-eval/."""
    rng = np.random.default_rng(0)
    opts = tf.io.TFRecordOptions(compression_type="GZIP")
    for split, count in (("train", num_train), ("eval", num_eval)):
        os.makedirs(os.path.join(uri, f"Split-{split}"), exist_ok=True)
        with tf.io.TFRecordWriter(os.path.join(uri, f"Split-{split}", "data_tfrecord-00000-of-00001.gz"),
                                  opts) as writer:
            for n in range(count):
                writer.write(make_example(rng, n, with_crowd_and_area))
    return uri


class TinyDetector(tf.Module):
    """Finds pure red (class 1) and pure green (class 2) pixels; boxes moved by `shift`."""

    def __init__(self, shift: float = 0.0):
        super().__init__()
        self.shift = tf.constant(shift, tf.float32)

    def detect(self, input_tensor):
        image = tf.cast(input_tensor, tf.int32)
        height = tf.cast(tf.shape(image)[1], tf.float32)
        width = tf.cast(tf.shape(image)[2], tf.float32)
        boxes, scores = [], []
        for c, score in ((0, 0.9), (1, 0.8)):
            mask = (image[..., c] > 128) & (image[..., 1 - c] < 128)
            rows, cols = tf.reduce_any(mask, axis=2), tf.reduce_any(mask, axis=1)
            first = lambda m: tf.cast(tf.argmax(tf.cast(m, tf.int32), axis=1), tf.float32)  # noqa: E731
            ymin, xmin = first(rows), first(cols)
            ymax = height - first(tf.reverse(rows, axis=[1]))
            xmax = width - first(tf.reverse(cols, axis=[1]))
            box = tf.stack([ymin / height, xmin / width, ymax / height, xmax / width], axis=1) + self.shift
            boxes.append(tf.clip_by_value(box, 0.0, 1.0))
            scores.append(tf.where(tf.reduce_any(rows, axis=1), score, 0.0))
        boxes, scores = tf.stack(boxes, axis=1), tf.stack(scores, axis=1)
        classes = tf.ones_like(scores) * tf.constant([1.0, 2.0])
        order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
        return {
            "detection_boxes": tf.gather(boxes, order, batch_dims=1),
            "detection_scores": tf.gather(scores, order, batch_dims=1),
            "detection_classes": tf.gather(classes, order, batch_dims=1),
            "num_detections": tf.reduce_sum(tf.cast(scores > 0, tf.float32), axis=1),
        }


def write_model(uri: str, shift: float = 0.0, label_map_in_assets: bool = True, batch=None) -> str:
    """A TFX Model folder: the SavedModel under Format-Serving/ with label map and pipeline.config.

    `batch=1` fixes the signature's batch dimension, as OD API exports do.
    """
    export = os.path.join(uri, "Format-Serving")
    module = TinyDetector(shift)
    serve = tf.function(module.detect, input_signature=[
        tf.TensorSpec([batch, None, None, 3], tf.uint8, name="input_tensor")])
    tf.saved_model.save(module, export, signatures={"serving_default": serve})
    label_dir = os.path.join(export, "assets") if label_map_in_assets else export
    os.makedirs(label_dir, exist_ok=True)
    with open(os.path.join(label_dir, "label_map.pbtxt"), "w") as f:
        f.write(LABEL_MAP)
    with open(os.path.join(export, "pipeline.config"), "w") as f:
        f.write(PIPELINE_CONFIG)
    return uri
