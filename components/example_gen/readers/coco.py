"""COCO instances JSON, streamed with ijson.

COCO keeps `images`, `annotations` and `categories` in separate arrays, in any
order. Three streaming passes (each in ijson's C backend): categories into a
dict (they are few), annotations spilled to SQLite keyed by image id, then
images streamed, each joined with its annotations. Memory stays flat in the
number of images and annotations.
"""

from __future__ import annotations

import json
import os
import sqlite3

import ijson

from components.example_gen import records as R
from components.example_gen.readers.spill import spill_db, to_float
from schemas.problems import Problem, ProblemsError

_EXACT_ERROR_LIMIT = 64 << 20  # re-parse with `json` for a line number up to this size


def _id_key(value) -> str:
    """COCO ids are ints, but some exporters write strings: one text key for both."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _json_problem(path: str, exc: Exception) -> Problem:
    """Places a JSON syntax error at its line when the file is small enough to re-parse."""
    if os.path.getsize(path) <= _EXACT_ERROR_LIMIT:
        try:
            with open(path, "rb") as f:
                json.loads(f.read())
        except json.JSONDecodeError as e:
            return Problem(path, f"invalid JSON: {e.msg}", e.lineno, e.colno)
        except (UnicodeDecodeError, ValueError) as e:
            return Problem(path, f"invalid JSON: {e}")
    return Problem(path, f"invalid JSON: {str(exc).splitlines()[0]}")


class CocoReader:
    """Streams a COCO instances JSON as ImageRecords (see module docstring)."""

    def __init__(self, path: str):
        self.path = path
        self.total = None

    def _items(self, prefix: str):
        with open(self.path, "rb") as f:
            yield from ijson.items(f, prefix, use_float=True)

    def check(self) -> None:
        """Raises ProblemsError unless the file exists and holds a JSON object (cheap: one event)."""
        if not os.path.isfile(self.path):
            raise ProblemsError([Problem(self.path, "annotation file not found")])
        try:
            with open(self.path, "rb") as f:
                _, event, _ = next(ijson.parse(f))
        except StopIteration:
            raise ProblemsError([Problem(self.path, "empty file; expected COCO instances JSON")]) from None
        except ijson.JSONError as e:
            raise ProblemsError([_json_problem(self.path, e)]) from None
        if event != "start_map":
            raise ProblemsError([Problem(
                self.path, "expected a COCO instances object with 'images', 'annotations' and "
                "'categories'; this JSON is not an object (a detection-results file?)", 1, 1)])

    def _categories(self) -> dict:
        names = {}
        for i, cat in enumerate(self._items("categories.item")):
            if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
                raise ProblemsError([Problem(self.path, f"categories[{i}]: needs 'id' and 'name'")])
            names[_id_key(cat["id"])] = str(cat["name"])
        return names

    def _spill_annotations(self, db) -> None:
        db.execute("CREATE TABLE ann (image_id TEXT, idx INTEGER, ann_id TEXT, category_id TEXT,"
                   " x REAL, y REAL, w REAL, h REAL, area REAL, iscrowd INTEGER)")

        def rows():
            for idx, a in enumerate(self._items("annotations.item")):
                if not isinstance(a, dict):
                    a = {}
                bbox = a.get("bbox")
                if not isinstance(bbox, list) or len(bbox) != 4:
                    bbox = (None,) * 4
                yield (_id_key(a.get("image_id")), idx, _id_key(a.get("id", idx)),
                       _id_key(a.get("category_id")), *(to_float(v) for v in bbox),
                       to_float(a.get("area")), 1 if a.get("iscrowd") else 0)

        db.executemany("INSERT INTO ann VALUES (?,?,?,?,?,?,?,?,?,?)", rows())
        db.execute("CREATE INDEX ann_image ON ann (image_id, idx)")
        db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, file_name TEXT UNIQUE)")

    def _objects(self, db, image_key: str, categories: dict) -> list:
        objects = []
        for idx, ann_id, cat_id, x, y, w, h, area, iscrowd in db.execute(
                "SELECT idx, ann_id, category_id, x, y, w, h, area, iscrowd FROM ann"
                " WHERE image_id = ? ORDER BY idx", (image_key,)):
            name = categories.get(cat_id)
            objects.append(R.ObjectRecord(
                class_name=name, class_id=int(cat_id) if cat_id.lstrip("-").isdigit() else None,
                xmin=x, ymin=y,
                xmax=None if x is None or w is None else x + w,
                ymax=None if y is None or h is None else y + h,
                is_crowd=bool(iscrowd), area=area,
                locator=f"annotations[{idx}] (id {ann_id}, category_id {cat_id})"))
        return objects

    def __iter__(self):
        self.check()
        try:
            categories = self._categories()
            with spill_db() as db:
                self._spill_annotations(db)
                yield from self._images(db, categories)
        except ijson.JSONError as e:
            raise ProblemsError([_json_problem(self.path, e)]) from None

    def _images(self, db, categories: dict):
        for i, img in enumerate(self._items("images.item")):
            locator = f"images[{i}]"
            if not isinstance(img, dict) or "id" not in img or not img.get("file_name"):
                yield R.ReaderProblem("image", R.BAD_ANNOTATION, self.path,
                                      f"{locator}: an image needs 'id' and 'file_name'")
                continue
            key = _id_key(img["id"])
            file_name = str(img["file_name"])
            try:
                db.execute("INSERT INTO seen VALUES (?, ?)", (key, file_name))
            except sqlite3.IntegrityError:
                yield R.ReaderProblem("image", R.DUPLICATE_IMAGE, self.path,
                                      f"{locator}: id {key} or file_name {file_name!r} appears twice")
                continue
            w, h = to_float(img.get("width")), to_float(img.get("height"))
            yield R.ImageRecord(
                file_name=file_name, image_id=key,
                width=int(w) if w else None, height=int(h) if h else None,
                objects=self._objects(db, key, categories),
                source=self.path, locator=f"{locator} (id {key})")
        for idx, ann_id, image_key in db.execute(
                "SELECT idx, ann_id, image_id FROM ann WHERE image_id NOT IN (SELECT id FROM seen)"
                " ORDER BY idx"):
            yield R.ReaderProblem("box", R.UNKNOWN_IMAGE, self.path,
                                  f"annotations[{idx}] (id {ann_id}): image_id {image_key} is not in 'images'")
