"""Where the real data of ../shared/realdata is, and the skip that names the folder when it is absent.

Real images and pretrained weights made by others (BCCD, the playing cards, an ImageNet MobileNetV2,
COCO SSD TFLite models) live beside the project, never inside it: a user's clone has none of them, so
each test that reads them is skipped with a reason naming the folder.
"""
from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
REALDATA = pathlib.Path(os.environ.get("DETFLOW_REALDATA", REPO.parent / "shared" / "realdata"))


def require(*parts: str) -> pathlib.Path:
    """The path under REALDATA; skips the test, naming the folder, when it is not there."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the real data lives in ../shared/realdata beside the repository "
                    "(not part of a clone)")
    return path
