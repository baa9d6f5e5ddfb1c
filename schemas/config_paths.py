"""The one rule for a relative path a pipeline.config names, for every command that reads one.

The OD API opens each path in a pipeline.config as given: relative paths are relative to the
working folder of the process (`model_main_tf2.py` never looks at where the config is). detflow
does the same first, so a config that works there works here and picks the same file; only when
nothing is there as given does it look beside the config, so a folder holding a config with its
label map and checkpoint can be used from anywhere. `detflow run`, `detflow train`,
`config check`, the Trainer's executor and the checkpoint finder all go through `resolve`.
Absolute paths and URLs (gs://, s3://...) are taken as given.
"""

from __future__ import annotations

import os
from typing import Callable


def candidates(path: str, config_path: str) -> list[str]:
    """Where a path from the config at `config_path` is looked for, in order: as given, then beside the config."""
    if not path or os.path.isabs(path) or "://" in path:
        return [path]
    beside = os.path.join(os.path.dirname(os.path.abspath(config_path)), path)
    return [path] if os.path.abspath(beside) == os.path.abspath(path) else [path, beside]


def resolve(path: str, config_path: str, exists: Callable[[str], bool] = os.path.exists) -> str:
    """The first of `candidates` for which `exists` holds; the path as given when none does (or it is empty)."""
    for candidate in candidates(path, config_path):
        if candidate and exists(candidate):
            return candidate
    return path
