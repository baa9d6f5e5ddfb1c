"""split.py matches TFX's own partition function, and old images never move."""

import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
from tfx.proto import example_gen_pb2

from components.example_gen import split
from schemas import example_format as K


def test_feature_bytes_match_tensorflow_serialisation():
    for value in (b"", b"a.jpg", b"x" * 200, "dír/ü.png".encode()):
        feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        assert split.feature_bytes(value) == feature.SerializeToString(deterministic=True)


def test_assign_split_is_tfx_partition_fn():
    splits = split.split_buckets(20)
    config = example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=b) for n, b in splits],
        partition_feature_name=K.SPLIT_KEY)
    buckets = [80, 100]
    counts = {"train": 0, "eval": 0}
    for i in range(300):
        name = f"folder/img_{i}.jpg"
        example = tf.train.Example(features=tf.train.Features(feature={
            K.SPLIT_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()]))}))
        index = _PartitionFn(example, 2, buckets, config)
        assert split.assign_split(name, splits) == splits[index][0]
        counts[splits[index][0]] += 1
    assert 30 <= counts["eval"] <= 90  # about 20% of 300


def test_adding_images_never_moves_old_ones():
    splits = split.split_buckets(30)
    before = {f"a{i}.jpg": split.assign_split(f"a{i}.jpg", splits) for i in range(100)}
    for i in range(1000):
        split.assign_split(f"new{i}.jpg", splits)
    assert before == {n: split.assign_split(n, splits) for n in before}
