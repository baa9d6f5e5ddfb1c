"""Where the annotations and images of one data drop are, relative to the input base.

The ExampleGen's split pattern names the annotations (a COCO/CSV file, or a
VOC folder of XML files), relative to `input_base`, and may hold `{SPAN}`:
`span-{SPAN}/annotations.json`. The image folder is named relative to the
folder that holds the annotations (or absolute): with `images="images"`,
`span-7/annotations.json` reads its images from `span-7/images/`. So each span
is a self-contained drop, and the newest one is picked by TFX's driver.
"""

from __future__ import annotations

import os

import tensorflow as tf


def annotation_paths(input_base: str, pattern: str) -> list:
    """The annotation files (or VOC folders) the resolved `pattern` matches, sorted."""
    paths = sorted(tf.io.gfile.glob(os.path.join(input_base, pattern)))
    if not paths:
        raise FileNotFoundError(f"no annotations match {os.path.join(input_base, pattern)}")
    return paths


def images_dir_for(annotation_path: str, images: str) -> str:
    """The image folder of one annotation file/folder: `images` joined to its parent folder."""
    return os.path.join(os.path.dirname(annotation_path.rstrip("/")), images)
