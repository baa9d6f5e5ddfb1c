"""Benchmark: the image ExampleGen's throughput and the COCO reader's memory.

Throughput, on the same generated data (tiny JPEGs, a COCO JSON):
  odapi_loop   a single-process loop like the OD API's create_coco_tf_record.py:
               json.load, group annotations in a dict, read bytes, PIL.Image.open
               (header only), build the Example, write an uncompressed TFRecord;
  convert      `detflow convert`'s loop (full decode check, gzip, report);
  beam_inproc  the TFX ExampleGen executor under the Beam DirectRunner in-process;
  beam_2w      the same, multi_processing with 2 worker processes. Its wall time
               includes starting the workers, which import TensorFlow and TFX
               (tens of seconds on a busy 2-core machine); with --marginal the
               bench also runs it on 100 images and prints the rate beyond that.
Printed in images/s with each ratio to odapi_loop.

Memory: peak RSS of a fresh process that reads a large generated COCO JSON
(default 100k images) through the streaming reader, against one that
json.load()s it as create_coco_tf_record.py does. Numbers only, no asserts.

    .venv/bin/python -m bench.bench_example_gen [--images 3000] [--coco-images 100000]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from PIL import Image


def make_images(root: str, n: int) -> str:
    """n random-coloured 64x48 JPEGs under root/images + root/annotations.json (1-3 boxes each)."""
    rng = random.Random(0)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        img = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
        img.paste((255, 255, 255), (8, 8, 30, 30))
        name = f"img_{i:05d}.jpg"
        img.save(os.path.join(root, "images", name), quality=90)
        images.append({"id": i, "file_name": name, "width": 64, "height": 48})
        for _ in range(rng.randint(1, 3)):
            annotations.append({"id": len(annotations), "image_id": i, "category_id": rng.randint(1, 2),
                                "bbox": [rng.uniform(0, 30), rng.uniform(0, 20), 20.0, 15.0],
                                "area": 300.0, "iscrowd": 0})
    path = os.path.join(root, "annotations.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations,
                   "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}, f)
    with open(os.path.join(root, "label_map.pbtxt"), "w") as f:
        f.write("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    return path


def odapi_loop(root: str, out: str) -> int:
    """The shape of create_coco_tf_record.py's conversion, in one process."""
    import tensorflow as tf

    with open(os.path.join(root, "annotations.json")) as f:
        groundtruth = json.load(f)
    categories = {c["id"]: c for c in groundtruth["categories"]}
    by_image = collections.defaultdict(list)
    for a in groundtruth["annotations"]:
        by_image[a["image_id"]].append(a)
    n = 0
    with tf.io.TFRecordWriter(out) as writer:
        for image in groundtruth["images"]:
            with tf.io.gfile.GFile(os.path.join(root, "images", image["file_name"]), "rb") as fid:
                encoded = fid.read()
            Image.open(io.BytesIO(encoded))  # header only, as the OD API script does
            w, h = image["width"], image["height"]
            xmin, xmax, ymin, ymax, names, ids, areas = [], [], [], [], [], [], []
            for a in by_image[image["id"]]:
                x, y, bw, bh = a["bbox"]
                if bw <= 0 or bh <= 0 or x + bw > w or y + bh > h:
                    continue
                xmin.append(x / w), xmax.append((x + bw) / w), ymin.append(y / h), ymax.append((y + bh) / h)
                names.append(categories[a["category_id"]]["name"].encode()), ids.append(a["category_id"])
                areas.append(a["area"])
            b = lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=v))  # noqa: E731
            i64 = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=v))  # noqa: E731
            fl = lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=v))  # noqa: E731
            example = tf.train.Example(features=tf.train.Features(feature={
                "image/height": i64([h]), "image/width": i64([w]),
                "image/filename": b([image["file_name"].encode()]),
                "image/source_id": b([str(image["id"]).encode()]),
                "image/key/sha256": b([hashlib.sha256(encoded).hexdigest().encode()]),
                "image/encoded": b([encoded]), "image/format": b([b"jpeg"]),
                "image/object/bbox/xmin": fl(xmin), "image/object/bbox/xmax": fl(xmax),
                "image/object/bbox/ymin": fl(ymin), "image/object/bbox/ymax": fl(ymax),
                "image/object/class/text": b(names), "image/object/class/label": i64(ids),
                "image/object/area": fl(areas)}))
            writer.write(example.SerializeToString())
            n += 1
    return n


def convert_loop(root: str, out: str) -> int:
    """detflow convert's streaming loop (run_conversion) over the same data."""
    from components.example_gen.local_convert import run_conversion
    from components.example_gen.readers import open_reader
    from schemas.label_map import load_label_map

    rep = run_conversion(open_reader("coco", os.path.join(root, "annotations.json")),
                         os.path.join(root, "images"), load_label_map(os.path.join(root, "label_map.pbtxt")),
                         out, 20)
    return sum(rep.images.values())


def beam_executor(root: str, out: str, workers: int) -> int:
    """The TFX executor's Do under the DirectRunner: `workers` processes, or in-process if 0."""
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from components.example_gen.component import ImageExampleGen
    from components.example_gen.executor import Executor

    gen = ImageExampleGen(input_base=root, annotation_format="coco",
                          label_map_path=os.path.join(root, "label_map.pbtxt"))
    props = {k: proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else v
             for k, v in gen.exec_properties.items() if v is not None}
    examples = standard_artifacts.Examples()
    examples.uri = out
    args = (["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"] if workers
            else ["--direct_running_mode=in_memory"])
    Executor(BaseBeamExecutor.Context(beam_pipeline_args=args)).Do({}, {"examples": [examples]}, props)
    return sum(examples.get_int_custom_property(f"images_{s}") for s in ("train", "eval"))


def write_big_coco(path: str, n: int) -> int:
    """A COCO JSON with n images and 3 annotations each, written in chunks; returns its size."""
    with open(path, "w") as f:
        f.write('{"categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}], "images": [')
        for i in range(n):
            f.write(("," if i else "") + json.dumps(
                {"id": i, "file_name": f"train2017/{i:012d}.jpg", "width": 640, "height": 480,
                 "license": 1, "coco_url": f"http://images.example/{i}.jpg"}))
        f.write('], "annotations": [')
        for k in range(3 * n):
            f.write(("," if k else "") + json.dumps(
                {"id": k, "image_id": k // 3, "category_id": 1 + k % 2, "iscrowd": 0, "area": 1234.5,
                 "bbox": [10.5, 20.25, 100.0, 80.0],
                 "segmentation": [[10.5, 20.25, 110.5, 20.25, 110.5, 100.25, 10.5, 100.25]]}))
        f.write("]}")
    return os.path.getsize(path)


# Peak RSS from VmHWM: ru_maxrss would carry the parent's peak across fork+exec.
_HWM = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
_READ_STREAM = f"""
import sys, time
from components.example_gen.readers import CocoReader
t = time.perf_counter(); n = sum(1 for _ in CocoReader(sys.argv[1]))
print(n, time.perf_counter() - t, {_HWM})
"""
_READ_JSON_LOAD = f"""
import json, sys, time
t = time.perf_counter(); n = len(json.load(open(sys.argv[1]))["images"])
print(n, time.perf_counter() - t, {_HWM})
"""
_BASELINE = f"print(0, 0, {_HWM})"


def _peak(code: str, path: str):
    out = subprocess.run([sys.executable, "-c", code, path], check=True, capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    n, seconds, kib = out.stdout.split()
    return int(n), float(seconds), int(kib) / 1024


def main(argv=None) -> None:
    """Runs both benchmarks and prints the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--coco-images", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--marginal", action="store_true",
                        help="also time the multi-process run on 100 images; print the rate beyond them")
    args = parser.parse_args(argv)
    import tensorflow  # noqa: F401  (imported before any timing)
    import tfx.components  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="bench-eg-") as tmp:
        t = time.perf_counter()
        make_images(tmp, args.images)
        print(f"generated {args.images} images in {time.perf_counter() - t:.1f} s")
        rates, times = {}, {}
        for name, fn in (("odapi_loop", lambda: odapi_loop(tmp, os.path.join(tmp, "odapi.tfrecord"))),
                         ("convert", lambda: convert_loop(tmp, os.path.join(tmp, "convert"))),
                         ("beam_inproc", lambda: beam_executor(tmp, os.path.join(tmp, "beam0"), 0)),
                         (f"beam_{args.workers}w", lambda: beam_executor(tmp, os.path.join(tmp, "beam"),
                                                                         args.workers))):
            t = time.perf_counter()
            n = fn()
            times[name] = seconds = time.perf_counter() - t
            rates[name] = n / seconds
            print(f"{name:12s} {n:6d} images {seconds:7.1f} s {rates[name]:8.0f} images/s "
                  f"ratio to odapi_loop {rates[name] / rates['odapi_loop']:.2f}", flush=True)
        if args.marginal:
            small = os.path.join(tmp, "small")
            make_images(small, 100)
            t = time.perf_counter()
            beam_executor(small, os.path.join(small, "beam"), args.workers)
            fixed = time.perf_counter() - t
            rate = (args.images - 100) / max(times[f"beam_{args.workers}w"] - fixed, 1e-9)
            print(f"beam_{args.workers}w on 100 images {fixed:.1f} s; beyond them {rate:.0f} images/s, "
                  f"ratio to odapi_loop {rate / rates['odapi_loop']:.2f}")

        path = os.path.join(tmp, "big.json")
        t = time.perf_counter()
        size = write_big_coco(path, args.coco_images)
        print(f"COCO JSON: {args.coco_images} images, {3 * args.coco_images} annotations, "
              f"{size / 2**20:.0f} MiB (written in {time.perf_counter() - t:.0f} s)")
        _, _, base = _peak(_BASELINE, path)
        for label, code in (("streaming reader", _READ_STREAM), ("json.load (OD API)", _READ_JSON_LOAD)):
            n, seconds, peak = _peak(code, path)
            print(f"{label:20s} {n} images in {seconds:5.1f} s, peak RSS {peak:6.0f} MiB "
                  f"(bare interpreter {base:.0f} MiB)")


if __name__ == "__main__":
    main()
