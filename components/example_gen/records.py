"""The records every annotation reader yields, whatever the input format.

Readers know nothing of images or label maps: they turn one annotation source
into one `ImageRecord` per image (boxes in absolute pixels, as annotated), and
a `ReaderProblem` for anything they could not attach to an image.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

# Reasons an image is skipped; every one is counted in report["skipped_images"].
MISSING_FILE = "missing_file"
NOT_AN_IMAGE = "not_an_image"
CORRUPT_IMAGE = "corrupt_image"
UNSAFE_PATH = "unsafe_path"
OUTSIDE_IMAGE_ROOT = "outside_image_root"
EXIF_ORIENTATION = "exif_orientation"
DUPLICATE_IMAGE = "duplicate_image"
BAD_ANNOTATION = "bad_annotation"
IMAGE_REASONS = (MISSING_FILE, NOT_AN_IMAGE, CORRUPT_IMAGE, UNSAFE_PATH, OUTSIDE_IMAGE_ROOT,
                 EXIF_ORIENTATION, DUPLICATE_IMAGE, BAD_ANNOTATION)

# Reasons a box is dropped; counted in report["dropped_boxes"].
ZERO_OR_NEGATIVE_SIZE = "zero_or_negative_size"
OUTSIDE_IMAGE = "outside_image"
UNKNOWN_CLASS = "unknown_class"
INVALID_COORDINATES = "invalid_coordinates"
UNKNOWN_IMAGE = "unknown_image"
BAD_ROW = "bad_row"
BOX_REASONS = (ZERO_OR_NEGATIVE_SIZE, OUTSIDE_IMAGE, UNKNOWN_CLASS,
               INVALID_COORDINATES, UNKNOWN_IMAGE, BAD_ROW)

# Reported, but the image or box is kept.
SIZE_MISMATCH = "size_mismatch"
CLIPPED_BOX = "clipped_box"
# Reported, the box kept: an object's keypoints that cannot be used are written as unlabelled (visibility 0).
BAD_KEYPOINTS = "bad_keypoints"
KEYPOINT_OUTSIDE_IMAGE = "keypoint_outside_image"
NUM_KEYPOINTS_MISMATCH = "num_keypoints_mismatch"


@dataclasses.dataclass
class ObjectRecord:
    """One annotated box in absolute pixel coordinates of the annotated image.

    `class_name` is None when the source names a class id that it cannot map
    to a name (a COCO category id missing from `categories`); `class_id` then
    says which. `locator` places the box in its source for messages.
    Coordinates are floats (NaN or infinite when the source says so), or None
    when the source has no number; `invalid` then says, in the source's terms,
    what is missing or wrong ("bbox has 3 values ...", "no <bndbox>").
    """

    class_name: Optional[str]
    xmin: Optional[float]
    ymin: Optional[float]
    xmax: Optional[float]
    ymax: Optional[float]
    class_id: Optional[int] = None
    is_crowd: bool = False
    difficult: bool = False
    truncated: bool = False
    area: Optional[float] = None
    locator: str = ""
    invalid: Optional[str] = None
    keypoints: Optional[list] = None       # COCO's flat [x1, y1, v1, x2, ...] in pixels, as annotated
    num_keypoints: Optional[int] = None    # COCO's num_keypoints, as annotated
    has_keypoint_names: bool = False       # the object's category declares the dataset's keypoint names


@dataclasses.dataclass
class ImageRecord:
    """One image and its boxes, as an annotation source describes it.

    `file_name` is relative to the image folder (as written in the source);
    `width`/`height` are the annotated size (None when the source has none);
    `source` is the annotation file and `locator` the place in it.
    """

    file_name: str
    image_id: str
    width: Optional[int]
    height: Optional[int]
    objects: list = dataclasses.field(default_factory=list)
    source: str = ""
    locator: str = ""
    keypoint_names: tuple = ()             # the dataset's keypoint names (COCO categories' `keypoints`)


@dataclasses.dataclass(frozen=True)
class ReaderProblem:
    """A problem a reader found that belongs to no image it yields.

    `kind` is "image" or "box": which report section counts `reason`.
    """

    kind: str
    reason: str
    file: str
    detail: str
