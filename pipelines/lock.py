"""One detflow run per pipeline root: a non-blocking `flock` on `<root>/.detflow.lock`.

The kernel drops the lock when the holder exits, however it exits (kill -9
included), so a crashed run never leaves a stale lock behind. The file records
the holder's pid and start time for the message the next run prints.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os

from pipelines import configs


class RunLockedError(Exception):
    """Another detflow run holds the pipeline root."""


@contextlib.contextmanager
def run_lock(root: str):
    """Holds the run lock on `root` for the `with` block; raises RunLockedError if it is taken."""
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, configs.LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "pid unknown"
            raise RunLockedError(f"another detflow run holds {root} ({holder})") from None
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {started}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
