"""Executor of the LabelMapValidator: artifacts in, `schemas.label_map_validation` call, artifact out."""

from __future__ import annotations

import json
import os
from typing import Any

from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.artifact_types import resolve_file
from components.names import (EXAMPLES_KEY, LABEL_MAP_FILE, LABEL_MAP_KEY, PIPELINE_CONFIG_FILE, PIPELINE_CONFIG_KEY,
                              VALIDATED_LABEL_MAP_KEY, VALIDATION_FILE)
from schemas.label_map import parse_label_map_text
from schemas.label_map_validation import DataPolicy, count_classes, validate
from schemas.pipeline_config import parse_pipeline_config_text
from schemas.problems import ProblemsError


MAX_DROPPED_BOX_SHARE_KEY = "max_dropped_box_share"
ALLOW_EMPTY_CLASSES_KEY = "allow_empty_classes"


class LabelMapValidationError(RuntimeError):
    """Hard problems in the label map; the message lists them one per line."""


def _read(path: str) -> str:
    with fileio.open(path, "r") as f:
        return f.read()


def _write(path: str, text: str) -> None:
    with fileio.open(path, "w") as f:
        f.write(text)


def _split_files(examples) -> dict[str, list[str]]:
    splits = artifact_utils.decode_split_names(examples.split_names)
    return {split: sorted(fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*")))
            for split in splits}


class Executor(base_executor.BaseExecutor):
    """Counts class names per split, validates the map, writes ValidatedLabelMap."""

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        """Writes label_map.pbtxt + validation.json and the custom properties; raises on hard problems."""
        label_map_path = resolve_file(artifact_utils.get_single_uri(input_dict[LABEL_MAP_KEY]), LABEL_MAP_FILE)
        config_path = resolve_file(artifact_utils.get_single_uri(input_dict[PIPELINE_CONFIG_KEY]),
                                   PIPELINE_CONFIG_FILE)
        try:
            label_map = parse_label_map_text(_read(label_map_path), label_map_path)
            config = parse_pipeline_config_text(_read(config_path), config_path)
        except ProblemsError as error:
            raise LabelMapValidationError("label map validation failed:\n" + str(error)) from None
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        counts, images = count_classes(_split_files(examples))
        share = exec_properties.get(MAX_DROPPED_BOX_SHARE_KEY)
        policy = DataPolicy(max_dropped_box_share=float("inf") if share is None else float(share),
                            allow_empty_classes=bool(exec_properties.get(ALLOW_EMPTY_CLASSES_KEY, 0)))
        conversion = (json.loads(examples.get_string_custom_property("conversion_report") or "{}")
                      if examples.has_custom_property("conversion_report") else {})
        report = validate(label_map, counts, images, config, conversion=conversion, policy=policy)

        output = artifact_utils.get_single_instance(output_dict[VALIDATED_LABEL_MAP_KEY])
        fileio.makedirs(output.uri)
        _write(os.path.join(output.uri, LABEL_MAP_FILE), label_map.to_text())
        _write(os.path.join(output.uri, VALIDATION_FILE), json.dumps(report.to_json(), indent=2))
        output.set_string_custom_property("content_hash", label_map.content_hash)
        output.set_int_custom_property("num_classes", label_map.num_classes)
        output.set_string_custom_property("class_counts", json.dumps(counts, sort_keys=True))
        output.set_string_custom_property("image_counts", json.dumps(images, sort_keys=True))
        output.set_int_custom_property("valid", int(report.valid))
        for warning in report.warnings:
            print(f"warning: {warning}")
        if not report.valid:
            raise LabelMapValidationError(report.error_message())
