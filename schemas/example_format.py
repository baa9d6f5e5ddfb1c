"""The tf.Example keys of the TF Object Detection API, shared by every reader and writer.

Source: tensorflow/models research/object_detection/core/standard_fields.py
(TfExampleFields) and dataset_tools/create_coco_tf_record.py.
"""

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

# The feature whose hash decides an image's split: its identity, not its bytes,
# so re-encoding an image or adding others never moves it between splits.
SPLIT_KEY = FILENAME

BOX_KEYS = (BBOX_XMIN, BBOX_XMAX, BBOX_YMIN, BBOX_YMAX)
