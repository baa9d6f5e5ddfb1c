"""The train/eval split, decided exactly as TFX's ExampleGen decides it.

TFX 1.16's base ExampleGen executor (`_PartitionFn` in
tfx/components/example_gen/base_example_gen_executor.py) takes the feature
named by `partition_feature_name`, serialises that `tf.train.Feature`
deterministically, and puts the example in bucket
`int(sha256(bytes).hexdigest(), 16) % total_buckets`; splits own consecutive
bucket ranges in the order of `output_config`. (REFERENCE.md §4's brief says
farmhash: the installed code uses sha256, and the installed code wins.)

Here the feature is image/filename, the image's name relative to its image
folder, so the split depends only on that name: re-encoding an image, editing
its boxes or adding other images never moves it. `detflow convert` and the
pipeline share this function, and a test checks it against `_PartitionFn`.
"""

from __future__ import annotations

import bisect
import hashlib

TRAIN = "train"
EVAL = "eval"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def feature_bytes(value: bytes) -> bytes:
    """Serialises `tf.train.Feature(bytes_list=BytesList(value=[value]))` without TensorFlow."""
    inner = b"\x0a" + _varint(len(value)) + value  # BytesList.value = 1
    return b"\x0a" + _varint(len(inner)) + inner  # Feature.bytes_list = 1


def split_buckets(eval_percent: int) -> list:
    """Returns [(split name, hash buckets)] for a train/eval split with `eval_percent`% in eval."""
    if not 0 < eval_percent < 100:
        raise ValueError(f"eval percent must be between 1 and 99, got {eval_percent}")
    return [(TRAIN, 100 - eval_percent), (EVAL, eval_percent)]


def convert_splits(eval_percent: int) -> list:
    """Like split_buckets, and 0 or 100 put every image in one split (a dataset split beforehand).

    For `detflow convert` only: the pipeline's ExampleGen needs both splits.
    """
    if eval_percent == 0:
        return [(TRAIN, 1)]
    if eval_percent == 100:
        return [(EVAL, 1)]
    return split_buckets(eval_percent)


def assign_split(file_name: str, splits: list) -> str:
    """Returns the split name TFX's ExampleGen gives an image named `file_name`.

    `splits` is [(name, hash_buckets)] in output_config order.
    """
    bounds, total = [], 0
    for _, buckets in splits:
        total += buckets
        bounds.append(total)
    key = feature_bytes(file_name.encode("utf-8"))
    bucket = int(hashlib.sha256(key).hexdigest(), 16) % total
    return splits[bisect.bisect(bounds, bucket)][0]
