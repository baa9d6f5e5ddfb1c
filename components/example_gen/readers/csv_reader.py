"""CSV: `filename,xmin,ymin,xmax,ymax,class` with a header, absolute pixels, one row per box.

Columns may come in any order and extra ones are ignored; optional `width` and
`height` columns give the annotated image size (the TF tutorials' layout).
Rows need not be sorted: they are spilled to SQLite and grouped per file name,
in order of first appearance. A row with a file name and every box field empty
marks an image with no boxes.
"""

from __future__ import annotations

import csv
import os

from components.example_gen import records as R
from components.example_gen.readers.spill import spill_db
from components.example_gen.readers.values import box_values, to_size
from schemas.problems import Problem, ProblemsError

REQUIRED = ("filename", "xmin", "ymin", "xmax", "ymax", "class")
_BOX_FIELDS = ("xmin", "ymin", "xmax", "ymax", "class")


class CsvReader:
    """Streams a box-per-row CSV file as ImageRecords (see module docstring)."""

    def __init__(self, path: str):
        self.path = path
        self.total = None

    def _header(self, reader) -> dict:
        try:
            header = next(reader)
        except StopIteration:
            raise ProblemsError([Problem(self.path, "empty file; expected a header "
                                         + ",".join(REQUIRED), 1)]) from None
        columns = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ProblemsError([Problem(
                self.path, f"header lacks column(s) {', '.join(missing)}; expected "
                f"{','.join(REQUIRED)} (got {','.join(header)})", 1, 1)])
        return columns

    def _open(self):
        if not os.path.isfile(self.path):
            raise ProblemsError([Problem(self.path, "annotation file not found")])
        f = open(self.path, newline="", encoding="utf-8-sig")
        reader = csv.reader(f)
        try:
            return f, reader, self._header(reader)
        except (csv.Error, UnicodeDecodeError) as e:
            f.close()
            raise ProblemsError([Problem(self.path, f"unreadable CSV header: {e}", 1)]) from None
        except ProblemsError:
            f.close()
            raise

    def check(self) -> None:
        """Raises ProblemsError unless the file exists and its header has the required columns."""
        self._open()[0].close()

    def __iter__(self):
        f, reader, columns = self._open()
        with spill_db() as db, f:
            db.execute("CREATE TABLE box (filename TEXT, line INTEGER, xmin TEXT, ymin TEXT,"
                       " xmax TEXT, ymax TEXT, class TEXT, width TEXT, height TEXT)")
            db.execute("CREATE TABLE bad (line INTEGER, detail TEXT)")
            self._spill(reader, columns, db)
            db.execute("CREATE INDEX box_file ON box (filename, line)")
            self.total = db.execute("SELECT COUNT(DISTINCT filename) FROM box").fetchone()[0]
            yield from self._records(db)
            for line, detail in db.execute("SELECT line, detail FROM bad ORDER BY line"):
                yield R.ReaderProblem("box", R.BAD_ROW, f"{self.path}:{line}", detail)

    def _spill(self, reader, columns: dict, db) -> None:
        wanted = REQUIRED + ("width", "height")
        rows, bad = [], []
        try:
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                missing = [c for c in REQUIRED if columns[c] >= len(row)]
                if missing:
                    bad.append((line, f"{len(row)} field(s): no {', '.join(missing)}"))
                    continue
                if not row[columns["filename"]].strip():
                    bad.append((line, "filename is empty"))
                    continue
                rows.append((row[columns["filename"]].strip(), line,
                             *(row[columns[c]].strip() if c in columns and columns[c] < len(row) else ""
                               for c in wanted[1:])))
                if len(rows) + len(bad) >= 10000:
                    db.executemany("INSERT INTO box VALUES (?,?,?,?,?,?,?,?,?)", rows)
                    db.executemany("INSERT INTO bad VALUES (?,?)", bad)
                    rows.clear()
                    bad.clear()
        except (csv.Error, UnicodeDecodeError) as e:
            bad.append((reader.line_num, f"unreadable row: {e}"))
        db.executemany("INSERT INTO box VALUES (?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO bad VALUES (?,?)", bad)

    def _records(self, db):
        files = db.execute("SELECT filename, MIN(line) AS first FROM box GROUP BY filename ORDER BY first")
        for file_name, _ in files:
            objects, width, height = [], None, None
            for line, xmin, ymin, xmax, ymax, cls, w, h in db.execute(
                    "SELECT line, xmin, ymin, xmax, ymax, class, width, height FROM box"
                    " WHERE filename = ? ORDER BY line", (file_name,)):
                width = width or to_size(w)
                height = height or to_size(h)
                if not any((xmin, ymin, xmax, ymax, cls)):
                    continue
                coords, invalid = box_values(zip(("xmin", "ymin", "xmax", "ymax"), (xmin, ymin, xmax, ymax)))
                objects.append(R.ObjectRecord(
                    class_name=cls, xmin=coords[0], ymin=coords[1], xmax=coords[2], ymax=coords[3],
                    locator=f"line {line}", invalid=invalid))
            yield R.ImageRecord(
                file_name=file_name, image_id=file_name, width=width, height=height,
                objects=objects, source=self.path, locator="")
