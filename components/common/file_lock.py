"""One process at a time in a folder: a non-blocking `flock` on a file in it, naming its holder.

The kernel drops the lock when the holder exits, however it exits (kill -9
included), so a crash never leaves a stale lock. The file records the holder's
pid and start time, for the message whoever comes next prints. Used for a
pipeline root (`detflow run`), a model dir (`detflow train`) and the Trainer's
resume folders. Remote folders (gs://, ...) are not locked.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import os
from typing import Iterator, Optional


@contextlib.contextmanager
def exclusive(directory: str, name: str = ".lock") -> Iterator[Optional[str]]:
    """Tries to lock `directory/name` for the `with` block.

    Yields None when this process holds the lock, else the holder's description
    ("pid 123, started 2026-12-03T08:00:00Z", or "pid unknown").
    """
    if "://" in directory:
        yield None
        return
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            yield os.pread(fd, 4096, 0).decode(errors="replace").strip() or "pid unknown"
            return
        # The folder may have been removed and made again between open and flock.
        if not (os.path.exists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino):
            yield "a process that replaced the folder"
            return
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {started}\n".encode(), 0)
        try:
            yield None
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
