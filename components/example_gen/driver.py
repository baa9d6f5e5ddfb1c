"""A FileBasedDriver whose input fingerprint also covers the images and the label map.

TFX's driver fingerprints only the files the split pattern matches (the
annotations here): an edited image or label map alone would leave the cache
key unchanged and the pipeline would reuse stale examples. This driver adds a
fingerprint of every file under each image folder (name, size, mtime in ns)
and of the label map file. It is order-independent and holds no file list.
A local folder link that leads out of the image folder, or back up into a
folder it is in (a loop), is not walked: conversion reads nothing there.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Dict

from tfx.components.example_gen import driver, utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import layout
from components.example_gen.executor import parse_custom_config


def tree_fingerprint(root: str) -> str:
    """count, bytes and order-independent hashes of (relative name, size, mtime) under `root`."""
    count = size = xor_hash = sum_hash = 0
    entries = []
    if fileio.isdir(root):
        for dirpath, subdirs, files in fileio.walk(root):
            subdirs[:] = [d for d in subdirs if _walkable(root, os.path.join(dirpath, d))]
            entries.extend(os.path.join(dirpath, f) for f in files)
            for path in entries:
                stat = fileio.stat(path)
                line = f"{os.path.relpath(path, root)}\0{stat.length}\0{stat.mtime_nsec}".encode()
                h = int.from_bytes(hashlib.sha256(line).digest()[:8], "big")
                count, size = count + 1, size + stat.length
                xor_hash ^= h
                sum_hash = (sum_hash + h) % (1 << 64)
            entries.clear()
    elif fileio.exists(root):
        stat = fileio.stat(root)
        count, size, xor_hash = 1, stat.length, stat.mtime_nsec
    return f"{root}:files={count},bytes={size},xor={xor_hash:x},sum={sum_hash:x}"


def _walkable(root: str, folder: str) -> bool:
    """False for a local folder link that leads out of `root` or to a folder above itself (a loop)."""
    if "://" in root or not os.path.islink(folder):
        return True
    real, real_root = os.path.realpath(folder), os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(folder))
    try:
        inside = os.path.commonpath([real_root, real]) == real_root
        loop = os.path.commonpath([real, parent]) == real
    except ValueError:  # another drive
        return False
    return inside and not loop


class Driver(driver.FileBasedDriver):
    """TFX's FileBasedDriver (span resolution included) plus images and label map in the fingerprint.

    TFX's span-resolution errors become one line naming the full annotations pattern.
    """

    def resolve_exec_properties(self, exec_properties: Dict[str, Any], pipeline_info,
                                component_info) -> Dict[str, Any]:
        """Resolves the span as TFX does, then extends `input_fingerprint`."""
        try:
            props = super().resolve_exec_properties(exec_properties, pipeline_info, component_info)
        except ValueError as error:  # TFX's "Cannot find matching for split ..." and pattern errors
            raise _pattern_error(exec_properties, error) from None
        config = parse_custom_config(props[standard_component_specs.CUSTOM_CONFIG_KEY])
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(props[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        input_base = props[standard_component_specs.INPUT_BASE_KEY]
        span, version = props.get(utils.SPAN_PROPERTY_NAME), props.get(utils.VERSION_PROPERTY_NAME)
        parts = [props[utils.FINGERPRINT_PROPERTY_NAME]]
        for split in input_config.splits:
            for path in layout.annotation_paths(input_base, split.pattern):
                parts.append("annotations " + tree_fingerprint(path))
                parts.append("images " + tree_fingerprint(layout.images_dir_for(path, config["images"], span,
                                                                                version)))
        parts.append("label_map " + tree_fingerprint(config["label_map_path"]))
        props[utils.FINGERPRINT_PROPERTY_NAME] = "\n".join(parts)
        return props


def _pattern_error(exec_properties: Dict[str, Any], error: ValueError) -> layout.LayoutError:
    """TFX's span-resolution error as one line naming the full annotations pattern."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    pattern = os.path.join(input_base, input_config.splits[0].pattern)
    if str(error).startswith("Cannot find matching"):
        hint = " ({SPAN} stands for a span number, e.g. span-0, span-1)" if layout.has_span(pattern) else ""
        return layout.LayoutError(pattern, f"no annotations match{hint}")
    return layout.LayoutError(pattern, str(error))

