"""The tf.Example keys of the TF Object Detection API, shared by every reader and writer, and how TFRecords
are compressed.

Source: tensorflow/models research/object_detection/core/standard_fields.py
(TfExampleFields) and dataset_tools/create_coco_tf_record.py.
"""

from __future__ import annotations

IMAGE_ENCODED = "image/encoded"
IMAGE_FORMAT = "image/format"
FILENAME = "image/filename"
SOURCE_ID = "image/source_id"
KEY_SHA256 = "image/key/sha256"
HEIGHT = "image/height"
WIDTH = "image/width"
BBOX_XMIN = "image/object/bbox/xmin"
BBOX_XMAX = "image/object/bbox/xmax"
BBOX_YMIN = "image/object/bbox/ymin"
BBOX_YMAX = "image/object/bbox/ymax"
CLASS_TEXT = "image/object/class/text"
CLASS_LABEL = "image/object/class/label"
AREA = "image/object/area"
IS_CROWD = "image/object/is_crowd"
DIFFICULT = "image/object/difficult"
# Keypoints, K per object (create_coco_tf_record.py): x and y normalised, COCO's visibility, the names; and
# the labelled keypoints per object.
KEYPOINT_X = "image/object/keypoint/x"
KEYPOINT_Y = "image/object/keypoint/y"
KEYPOINT_VISIBILITY = "image/object/keypoint/visibility"
KEYPOINT_NUM = "image/object/keypoint/num"
KEYPOINT_TEXT = "image/object/keypoint/text"

# The feature whose hash decides an image's split: its identity, not its bytes,
# so re-encoding an image or adding others never moves it between splits.
SPLIT_KEY = FILENAME

BOX_KEYS = (BBOX_XMIN, BBOX_XMAX, BBOX_YMIN, BBOX_YMAX)

# TFRecord compression of the files detflow writes: TFX's ExampleGen writes gzip ("<name>.gz"); the OD
# API's model_main_tf2.py and the tools of its family read uncompressed files only.
COMPRESSIONS = ("gzip", "none")
DEFAULT_COMPRESSION = "gzip"
RECORD_FILE_STEM = "data_tfrecord"     # TFX ExampleGen's naming


def record_compression(path: str) -> str:
    """The tf.data compression_type of a TFRecord file: "GZIP" when its name ends in .gz, else ""."""
    return "GZIP" if str(path).endswith(".gz") else ""


def record_suffix(compression: str) -> str:
    """The file-name suffix of TFRecords written with a compression of COMPRESSIONS (".gz" or "")."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    return ".gz" if compression == "gzip" else ""


def read_records(path, buffer_size: int | None = None):
    """The serialized records of one TFRecord file (a string tensor), gzipped when its name ends in .gz.

    `record_compression` in graph form, for `Dataset.interleave`.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    compression = tf.where(tf.strings.regex_full_match(path, r".*\.gz"), "GZIP", "")
    return tf.data.TFRecordDataset(path, compression_type=compression, buffer_size=buffer_size)


def records_dataset(files):
    """A tf.data.Dataset of the serialized records of `files` in order, each read with its own compression."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    return tf.data.Dataset.from_tensor_slices([str(f) for f in files]).interleave(read_records, cycle_length=1)
