"""A temporary on-disk SQLite table: group rows per key without holding them in memory."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from typing import Iterator


@contextlib.contextmanager
def spill_db() -> Iterator[sqlite3.Connection]:
    """Yields a connection to a fresh SQLite file in the temp dir, deleted afterwards.

    Journaling and syncing are off: the file is scratch space, never reopened.
    """
    with tempfile.TemporaryDirectory(prefix="detflow-spill-") as tmp:
        db = sqlite3.connect(os.path.join(tmp, "spill.db"))
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("PRAGMA cache_size=-8192")  # 8 MiB page cache at most
            yield db
        finally:
            db.close()

