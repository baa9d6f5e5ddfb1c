"""Output folders checked before any work: one line naming the path and the cause, never a trace later."""

from __future__ import annotations

import os
import tempfile

from schemas.problems import Problem, ProblemsError


def writable_dir(path: str, what: str) -> str:
    """Makes `path` if needed and checks a file can be written in it; returns its absolute path.

    Raises ProblemsError naming `what` (the flag, e.g. "--out") and the OS's reason:
    a read-only folder, a path that is a file, a path under a file, no permission.
    Remote URIs (gs://, ...) are returned unchanged.
    """
    if "://" in path:
        return path
    full = os.path.abspath(path)
    if os.path.exists(full) and not os.path.isdir(full):
        raise ProblemsError([Problem(path, f"{what}: cannot write here: it is a file, not a folder")])
    try:
        os.makedirs(full, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=full, prefix=".detflow-write-check-"):
            pass
    except OSError as error:
        raise ProblemsError([Problem(path, f"{what}: cannot write here: {error.strerror or error}")]) from None
    return full


def writable_file(path: str, what: str) -> str:
    """Checks that the file `path` can be written (its folder made if needed); returns its absolute path."""
    if "://" in path:
        return path
    full = os.path.abspath(path)
    if os.path.isdir(full):
        raise ProblemsError([Problem(path, f"{what}: cannot write here: it is a folder, not a file")])
    writable_dir(os.path.dirname(full), what)
    return full
