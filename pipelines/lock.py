"""One detflow run per pipeline root: `components.common.file_lock` on `<root>/.detflow.lock`."""

from __future__ import annotations

import contextlib

from components.common import file_lock
from pipelines import configs


class RunLockedError(Exception):
    """Another detflow run holds the pipeline root."""


@contextlib.contextmanager
def run_lock(root: str):
    """Holds the run lock on `root` for the `with` block; raises RunLockedError if it is taken."""
    with file_lock.exclusive(root, configs.LOCK_FILE) as holder:
        if holder is not None:
            raise RunLockedError(f"another detflow run holds {root} ({holder})")
        yield
