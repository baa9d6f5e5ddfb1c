"""One ImageRecord + its image file -> one OD API tf.Example: the single conversion path.

`detflow convert` and the Beam ExampleGen both call `record_to_example`.

Rules, per image: an unusable image (unsafe path, a symbolic link out of the
image folder, missing, not an image, corrupt or truncated, an EXIF orientation
the annotation cannot settle: images.py) skips the image. Height and width come
from the pixels. When the annotation states a different size, a `size_mismatch`
is reported and the boxes are read in the annotation's frame (divided by the
annotated width/height): that is right when images were resized after
labelling, the usual cause. Per box, in this order: missing, non-numeric or
non-finite coordinates (`invalid_coordinates`, naming the values), a missing
class name, a class missing from the label map or a COCO category
id missing from `categories` (`unknown_class`), width or height <= 0
(`zero_or_negative_size`) and a box with no overlap with the image
(`outside_image`) drop the box; a box partly outside is clipped to the image
and counted (`clipped_boxes`). Images left with no boxes are kept as negatives.
In a dataset with keypoints (COCO categories' `keypoints` names), every kept box
carries its keypoints under the OD API's keys (keypoints.py: what cannot be used
is written as not labelled and reported).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import posixpath
from typing import Optional

import tensorflow as tf

from components.example_gen import images
from components.example_gen import keypoints as kp_lib
from components.example_gen import records as R
from components.example_gen.readers.values import number_text
from schemas import example_format as K


@dataclasses.dataclass(frozen=True)
class ProblemEntry:
    """A counted problem: `kind` "image" (skipped), "box" (dropped) or "note" (kept, reported)."""

    kind: str
    reason: str
    file: str
    detail: str


@dataclasses.dataclass
class ConversionResult:
    """What one record became: the example (None when skipped) and what went wrong."""

    example: Optional[tf.train.Example]
    file_name: str
    problems: list = dataclasses.field(default_factory=list)
    clipped_boxes: int = 0
    class_names: list = dataclasses.field(default_factory=list)
    keypoint_names: tuple = ()      # the dataset's keypoint names the example carries (none without keypoints)


def identity(file_name: str) -> str:
    """The image's identity: its name relative to the image folder, '/'-separated, normalised."""
    return posixpath.normpath(file_name.replace("\\", "/"))


_ids_cache: list = [None, None]


def class_ids(label_map) -> dict:
    """name -> id of a LabelMap (or of a dict already), cached for the last map seen."""
    if isinstance(label_map, dict):
        return label_map
    if _ids_cache[0] is not label_map:
        _ids_cache[:] = [label_map, {item.name: item.id for item in label_map.items}]
    return _ids_cache[1]


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _where(record: R.ImageRecord, obj: Optional[R.ObjectRecord] = None) -> str:
    parts = [p for p in (obj.locator if obj else "", record.locator) if p]
    return f"{' of '.join(parts)} in {record.source}" if parts else record.source


def _non_finite(coords) -> Optional[str]:
    """What is wrong with box corners a reader left None or non-finite, or None if nothing is."""
    wrong = [f"{name} is {'missing' if c is None else number_text(c)}"
             for name, c in zip(("xmin", "ymin", "xmax", "ymax"), coords)
             if c is None or not math.isfinite(c)]
    return "; ".join(wrong) or None


def record_to_example(record: R.ImageRecord, image_dir: str, label_map) -> ConversionResult:
    """Converts one ImageRecord to a tf.Example with the OD API keys (rules in the module doc).

    `label_map` is a schemas.label_map.LabelMap (or a dict name -> id).
    """
    name = identity(record.file_name)
    result = ConversionResult(example=None, file_name=name)

    def problem(kind, reason, detail):
        result.problems.append(ProblemEntry(kind, reason, name, detail))

    annotated = (record.width, record.height) if record.width and record.height else None
    loaded = images.load_image(image_dir, record.file_name, annotated)
    if isinstance(loaded, images.ImageError):
        problem("image", loaded.reason, f"{loaded.detail} ({_where(record)})")
        return result
    frame_w, frame_h = loaded.width, loaded.height
    if record.width and record.height and (record.width, record.height) != (frame_w, frame_h):
        problem("note", R.SIZE_MISMATCH,
                f"annotated {record.width}x{record.height}, image is {frame_w}x{frame_h}; boxes read "
                f"in the annotated frame ({_where(record)})")
        frame_w, frame_h = record.width, record.height
    area_scale = (loaded.width * loaded.height) / (frame_w * frame_h)

    ids = class_ids(label_map)
    kept = {k: [] for k in ("xmin", "xmax", "ymin", "ymax", "area", "crowd", "difficult", "label", "keypoints")}
    for obj in record.objects:
        rejected = _rejected(obj, ids, frame_w, frame_h)
        if rejected:
            problem("box", rejected[0], f"{rejected[1]} ({_where(record, obj)})")
            continue
        xmin, ymin, xmax, ymax = obj.xmin, obj.ymin, obj.xmax, obj.ymax
        if xmin < 0 or ymin < 0 or xmax > frame_w or ymax > frame_h:
            problem("note", R.CLIPPED_BOX,
                    f"box {xmin:g},{ymin:g},{xmax:g},{ymax:g} clipped to the {frame_w}x{frame_h} image "
                    f"({_where(record, obj)})")
            result.clipped_boxes += 1
            xmin, ymin = max(xmin, 0.0), max(ymin, 0.0)
            xmax, ymax = min(xmax, float(frame_w)), min(ymax, float(frame_h))
        kept["xmin"].append(xmin / frame_w)
        kept["xmax"].append(xmax / frame_w)
        kept["ymin"].append(ymin / frame_h)
        kept["ymax"].append(ymax / frame_h)
        area = obj.area if obj.area is not None and obj.area > 0 else (xmax - xmin) * (ymax - ymin)
        kept["area"].append(area * area_scale)
        kept["crowd"].append(int(obj.is_crowd))
        kept["difficult"].append(int(obj.difficult))
        kept["label"].append(ids[obj.class_name])
        result.class_names.append(obj.class_name)
        if record.keypoint_names:
            keypoints = kp_lib.object_keypoints(obj, record.keypoint_names, frame_w, frame_h)
            for reason, detail in keypoints.notes:
                problem("note", reason, f"{detail} ({_where(record, obj)})")
            kept["keypoints"].append(keypoints)
    result.keypoint_names = tuple(record.keypoint_names)
    result.example = _example(loaded, name, record.image_id, kept, result.class_names, record.keypoint_names)
    return result


def _rejected(obj: R.ObjectRecord, ids: dict, frame_w: int, frame_h: int) -> Optional[tuple[str, str]]:
    """(reason, detail) when a box cannot be kept: bad corners, no or an unknown class, no area, outside."""
    coords = (obj.xmin, obj.ymin, obj.xmax, obj.ymax)
    invalid = obj.invalid or _non_finite(coords)
    if invalid:
        return R.INVALID_COORDINATES, invalid
    if obj.class_name == "":
        return R.UNKNOWN_CLASS, "the box has no class name"
    if obj.class_name is None:
        return R.UNKNOWN_CLASS, f"category id {obj.class_id} is not in 'categories'"
    if obj.class_name not in ids:
        return R.UNKNOWN_CLASS, f"class {obj.class_name!r} is not in the label map"
    xmin, ymin, xmax, ymax = coords
    if xmax <= xmin or ymax <= ymin:
        return R.ZERO_OR_NEGATIVE_SIZE, f"box {xmin:g},{ymin:g},{xmax:g},{ymax:g} has no area"
    if xmax <= 0 or ymax <= 0 or xmin >= frame_w or ymin >= frame_h:
        return R.OUTSIDE_IMAGE, f"box {xmin:g},{ymin:g},{xmax:g},{ymax:g} is outside the {frame_w}x{frame_h} image"
    return None


def _example(loaded, name: str, image_id, kept: dict, class_names: list,
             keypoint_names: tuple = ()) -> tf.train.Example:
    """The tf.Example of a loaded image and its kept boxes (and their keypoints), under the OD API's keys."""
    feature = {
        K.IMAGE_ENCODED: _bytes([loaded.encoded]),
        K.IMAGE_FORMAT: _bytes([loaded.format]),
        K.FILENAME: _bytes([name.encode("utf-8")]),
        K.SOURCE_ID: _bytes([str(image_id).encode("utf-8")]),
        K.KEY_SHA256: _bytes([hashlib.sha256(loaded.encoded).hexdigest().encode("ascii")]),
        K.HEIGHT: _ints([loaded.height]),
        K.WIDTH: _ints([loaded.width]),
        K.BBOX_XMIN: _floats(kept["xmin"]),
        K.BBOX_XMAX: _floats(kept["xmax"]),
        K.BBOX_YMIN: _floats(kept["ymin"]),
        K.BBOX_YMAX: _floats(kept["ymax"]),
        K.CLASS_TEXT: _bytes([n.encode("utf-8") for n in class_names]),
        K.CLASS_LABEL: _ints(kept["label"]),
        K.AREA: _floats(kept["area"]),
        K.IS_CROWD: _ints(kept["crowd"]),
        K.DIFFICULT: _ints(kept["difficult"]),
    }
    if keypoint_names:
        points = kept["keypoints"]
        feature.update({
            K.KEYPOINT_X: _floats([x for p in points for x in p.x]),
            K.KEYPOINT_Y: _floats([y for p in points for y in p.y]),
            K.KEYPOINT_VISIBILITY: _ints([v for p in points for v in p.visibility]),
            K.KEYPOINT_NUM: _ints([p.num for p in points]),
            K.KEYPOINT_TEXT: _bytes([n.encode("utf-8") for _ in points for n in keypoint_names]),
        })
    return tf.train.Example(features=tf.train.Features(feature=feature))


def reader_problem_entry(item: R.ReaderProblem) -> ProblemEntry:
    """A reader's problem as a counted ProblemEntry."""
    return ProblemEntry(item.kind, item.reason, item.file, item.detail)
