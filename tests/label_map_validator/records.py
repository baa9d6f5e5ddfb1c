"""Tiny gzipped TFRecords of OD API tf.Examples with given class names, for validator tests."""

import os

import tensorflow as tf

from schemas import example_format


def write_examples(path: str, images: list[list[str]]) -> None:
    """One tf.Example per entry of `images`, holding one box per class name listed."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for number, names in enumerate(images):
            feature = {
                example_format.FILENAME: tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"{number}.jpg".encode()])),
                example_format.CLASS_TEXT: tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[n.encode() for n in names])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
