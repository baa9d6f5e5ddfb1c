"""Where the annotations and images of one data drop are, relative to the input base.

The ExampleGen's split pattern names the annotations (a COCO/CSV file, or a
VOC folder of XML files), relative to `input_base`, and may hold `{SPAN}`:
`span-{SPAN}/annotations.json`; TFX's driver picks the newest span. The image
folder setting is one of:

- relative (`images`): joined to the folder that holds the span's annotations,
  so `span-7/annotations.json` reads `span-7/images/`; each span is a
  self-contained drop. `detflow run` turns `--images data/span-{SPAN}/images`
  into this form when it lies in the annotations' folder.
- absolute without `{SPAN}` (`/data/images`): one image folder shared by every
  span; each span's annotations name the files they use in it.
- absolute (or relative) with `{SPAN}` (`/elsewhere/span-{SPAN}/images`): the
  span TFX resolved for the annotations is filled in, with the same rule TFX
  applies to the annotations pattern (`{SPAN}` unpadded, `{SPAN:3}` padded to 3
  digits; `{VERSION}` likewise). It needs a `{SPAN}` in the annotations pattern.

A setting that cannot work (`{SPAN}` only in the images) is rejected when the
component is built, and a span whose image folder is missing or is not a folder
fails the ExampleGen before any conversion, naming the folder: never a run that
converts 0 images.
"""

from __future__ import annotations

import os
import re
from typing import Optional

import tensorflow as tf
from tfx.components.example_gen import utils

from schemas.problems import Problem, ProblemsError


class LayoutError(ProblemsError):
    """The images setting cannot work with the annotations, or a span's image folder is missing."""

    def __init__(self, path: str, message: str):
        super().__init__([Problem(path, message)])


def annotation_paths(input_base: str, pattern: str) -> list:
    """The annotation files (or VOC folders) the resolved `pattern` matches, sorted."""
    paths = sorted(tf.io.gfile.glob(os.path.join(input_base, pattern)))
    if not paths:
        raise FileNotFoundError(f"no annotations match {os.path.join(input_base, pattern)}")
    return paths


def has_span(path: str) -> bool:
    """Whether `path` holds a `{SPAN}` (or `{SPAN:width}`) spec."""
    return re.search(utils.SPAN_FULL_REGEX, path) is not None


def has_version(path: str) -> bool:
    """Whether `path` holds a `{VERSION}` (or `{VERSION:width}`) spec."""
    return re.search(utils.VERSION_FULL_REGEX, path) is not None


def check_images_setting(annotations_pattern: str, images: str) -> None:
    """Raises LayoutError when `images` holds a `{SPAN}`/`{VERSION}` the annotations pattern lacks."""
    for spec, present in (("{SPAN}", has_span), ("{VERSION}", has_version)):
        if present(images) and not present(annotations_pattern):
            raise LayoutError(images, f"the image folder holds {spec} but the annotations "
                                      f"({annotations_pattern}) do not, so there is no span to fill in; "
                                      f"put {spec} in the annotations path too, or give one image folder "
                                      f"without {spec}")


def fill_span(path: str, span: Optional[int], version: Optional[int] = None) -> str:
    """`path` with `{SPAN}`/`{VERSION}` replaced as TFX replaces them in a split pattern."""
    span_spec, version_spec = has_span(path), has_version(path)
    if not span_spec and not version_spec:
        return path
    if (span_spec and span is None) or (version_spec and version is None):
        raise LayoutError(path, "holds {SPAN} or {VERSION} but no span or version was resolved for it")
    return utils.get_pattern_for_span_version(path, span_spec, False, version_spec, int(span or 0),
                                              None if version is None else int(version))


def images_dir_for(annotation_path: str, images: str, span: Optional[int] = None,
                   version: Optional[int] = None) -> str:
    """The image folder of one annotation file/folder: `images` (span filled in) joined to its folder."""
    return os.path.join(os.path.dirname(annotation_path.rstrip("/")), fill_span(images, span, version))


def check_images_dir(images_dir: str, annotation_path: str, images: str, span: Optional[int]) -> None:
    """Raises LayoutError, naming the folder and where it was expected, unless it is a folder."""
    if tf.io.gfile.isdir(images_dir):
        return
    if has_span(images):
        rule = f"the images setting {images} with span {span} filled in"
    elif os.path.isabs(images) or "://" in images:
        rule = f"the one image folder {images} for every span"
    else:
        rule = f"{images} next to the annotations {annotation_path}"
    state = "is not a folder" if tf.io.gfile.exists(images_dir) else "not found"
    of_span = "" if span is None else f"span {span}; "
    raise LayoutError(images_dir, f"image folder {state} ({of_span}expected {rule})")
