"""detflow's own TFX artifact types: the user's config files and the validated label map.

Each artifact's URI is either the file itself or a folder holding it under its
usual name (`pipeline.config`, `label_map.pbtxt`); `resolve_file` finds it.
"""

from __future__ import annotations

import os

from tfx.dsl.io import fileio
from tfx.types import component_spec
from tfx.types.artifact import Artifact


class PipelineConfigFile(Artifact):
    """A TF OD API pipeline.config (the file, or a folder holding `pipeline.config`)."""

    TYPE_NAME = "detflow.PipelineConfig"


class LabelMapFile(Artifact):
    """A StringIntLabelMap text proto (the file, or a folder holding `label_map.pbtxt`)."""

    TYPE_NAME = "detflow.LabelMap"


class ValidatedLabelMap(Artifact):
    """A label map checked against the config and the data: a folder with `label_map.pbtxt`
    (canonical text) and `validation.json`; custom properties `content_hash`,
    `num_classes`, `class_counts` (JSON: split -> class -> boxes) and `valid` (1/0)."""

    TYPE_NAME = "detflow.ValidatedLabelMap"


# A validated label map is a label map folder too: a channel expecting LabelMapFile
# (the Trainer's, the Evaluator's) accepts the LabelMapValidator's output.
setattr(LabelMapFile, component_spec.COMPATIBLE_TYPES_KEY, frozenset({ValidatedLabelMap}))


def resolve_file(uri: str, filename: str) -> str:
    """The file an artifact URI stands for: `uri/filename` if `uri` is a folder, else `uri`."""
    if fileio.isdir(uri):
        return os.path.join(uri, filename)
    return uri
