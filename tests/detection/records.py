"""Tiny synthetic OD API TFRecords for trainer tests: solid rectangles on a dark background."""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from schemas import example_format as ef

COLORS = {1: (255, 40, 40), 2: (40, 255, 40), 3: (40, 40, 255), 4: (255, 255, 40), 5: (40, 255, 255)}


def make_image(rng, size: int, num_boxes: int, num_classes: int = 2):
    """Returns (uint8 image, boxes normalised [N,4] ymin,xmin,ymax,xmax, labels [N])."""
    image = np.full((size, size, 3), 20, np.uint8)
    boxes, labels = [], []
    for _ in range(num_boxes):
        h, w = rng.integers(size // 5, size // 2, size=2)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        label = int(rng.integers(1, num_classes + 1))
        image[y:y + h, x:x + w] = COLORS[label]
        boxes.append([y / size, x / size, (y + h) / size, (x + w) / size])
        labels.append(label)
    return image, np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64)


def example(image, boxes, labels, name: str, keypoints=None) -> bytes:
    """Serialized OD API tf.Example; `keypoints` [N, K, 2] normalised y, x (NaN: not labelled) with them."""
    f = lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=list(map(float, v))))  # noqa: E731
    i = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=list(map(int, v))))  # noqa: E731
    b = lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=v))  # noqa: E731
    encoded = tf.io.encode_png(image).numpy()
    feats = {
        ef.IMAGE_ENCODED: b([encoded]), ef.IMAGE_FORMAT: b([b"png"]),
        ef.FILENAME: b([name.encode()]), ef.SOURCE_ID: b([name.encode()]),
        ef.HEIGHT: i([image.shape[0]]), ef.WIDTH: i([image.shape[1]]),
        ef.BBOX_YMIN: f(boxes[:, 0]), ef.BBOX_XMIN: f(boxes[:, 1]),
        ef.BBOX_YMAX: f(boxes[:, 2]), ef.BBOX_XMAX: f(boxes[:, 3]),
        ef.CLASS_LABEL: i(labels),
        ef.CLASS_TEXT: b([f"c{int(x)}".encode() for x in labels]),
    }
    if keypoints is not None:
        labelled = ~np.isnan(keypoints[..., 0])
        feats.update({ef.KEYPOINT_Y: f(np.nan_to_num(keypoints[..., 0]).ravel()),
                      ef.KEYPOINT_X: f(np.nan_to_num(keypoints[..., 1]).ravel()),
                      ef.KEYPOINT_VISIBILITY: i(np.where(labelled, 2, 0).ravel())})
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def box_keypoints(rng, boxes, num_keypoints: int) -> np.ndarray:
    """[N, K, 2] keypoints (normalised y, x) inside each box, one in four not labelled (NaN)."""
    low, high = boxes[:, None, :2], boxes[:, None, 2:]
    points = low + rng.uniform(0.1, 0.9, (len(boxes), num_keypoints, 2)) * (high - low)
    points[rng.uniform(size=(len(boxes), num_keypoints)) < 0.25] = np.nan
    return points.astype(np.float32)


def write_records(out_dir: str, num_images: int, size: int = 64, boxes_per_image=(1, 3),
                  num_classes: int = 2, shards: int = 2, seed: int = 0) -> str:
    """Writes gzipped shards `data-0000K-of-0000S.gz`; returns their glob."""
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    opts = tf.io.TFRecordOptions(compression_type="GZIP")
    writers = [tf.io.TFRecordWriter(os.path.join(out_dir, f"data-{k:05d}-of-{shards:05d}.gz"), opts)
               for k in range(shards)]
    for n in range(num_images):
        count = int(rng.integers(boxes_per_image[0], boxes_per_image[1] + 1))
        image, boxes, labels = make_image(rng, size, count, num_classes)
        writers[n % shards].write(example(image, boxes, labels, f"img{n}.png"))
    for w in writers:
        w.close()
    return os.path.join(out_dir, "*.gz")


def tiny_config(tmp_dir: str, pattern: str, *, num_classes: int = 2, num_steps: int = 10, batch_size: int = 4,
                input_size: int = 64, max_boxes: int = 50, extra_train: str = "", **kwargs):
    """A validated PipelineConfig for the embedded architecture at `input_size` px, with a label map."""
    from components.trainer import base_checkpoint
    from schemas.pipeline_config import parse_pipeline_config_text

    label_map = os.path.join(tmp_dir, "label_map.pbtxt")
    with open(label_map, "w") as f:
        f.write("".join(f"item {{ id: {i} name: 'c{i}' }}\n" for i in range(1, num_classes + 1)))
    kwargs.setdefault("learning_rate_base", 0.01)
    kwargs.setdefault("warmup_steps", 2)
    text = base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=num_classes, label_map_path=label_map, train_input_path=pattern, eval_input_path=pattern,
        num_steps=num_steps, batch_size=batch_size, input_size=input_size, **kwargs))
    text = text.replace("max_number_of_boxes: 50", f"max_number_of_boxes: {max_boxes}\n{extra_train}")
    path = os.path.join(tmp_dir, "pipeline.config")
    with open(path, "w") as f:
        f.write(text)
    return parse_pipeline_config_text(text, path)
