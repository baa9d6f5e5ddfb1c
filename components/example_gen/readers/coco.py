"""COCO instances JSON, streamed with ijson.

COCO keeps `images`, `annotations` and `categories` in separate arrays, in any
order. Three streaming passes (each in ijson's C backend): categories into a
dict (they are few), annotations spilled to SQLite keyed by image id, then
images streamed, each joined with its annotations. Memory stays flat in the
number of images and annotations.

A file with Python's bare `NaN` / `Infinity` tokens (what `json.dump` writes
for non-finite floats, and `json.load` reads) is read as `json.load` reads it:
the first pass fails on the token, and the passes start again reading those
tokens as numbers (`json_stream.NonFiniteTokens`). A non-finite value then
drops its box (`invalid_coordinates`, naming the value) or counts as no size.
Any other syntax error stops the file with its line and column.

Keypoints (COCO person keypoints, or any category's `keypoints` names): every
object carries its annotation's `keypoints` and `num_keypoints`, and every image
the dataset's keypoint names; categories that declare different names stop the
file (one keypoint set per dataset, as the OD API's records hold).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3

import ijson

from components.example_gen import records as R
from components.example_gen.readers import json_stream
from components.example_gen.readers.spill import spill_db
from components.example_gen.readers.values import box_values, short, to_float, to_size
from schemas.problems import Problem, ProblemsError

_BBOX_LABELS = ("bbox[0] (x)", "bbox[1] (y)", "bbox[2] (width)", "bbox[3] (height)")


def _id_key(value) -> str:
    """COCO ids are ints, but some exporters write strings: one text key for both."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _json_problem(path: str, error) -> Problem:
    """A located JSON syntax error (`json_stream.locate_error`) of `path` as a Problem."""
    if error is None:  # the file parses now: it changed since the failed pass
        return Problem(path, "invalid JSON (the file changed while it was read?)")
    return Problem(path, f"invalid JSON: {error.message}", error.line, error.col)


def _bbox(annotation: dict) -> tuple[list, str | None]:
    """[x, y, width, height] of an annotation, and what is missing or wrong in its bbox."""
    if "bbox" not in annotation:
        return [None] * 4, "no bbox"
    bbox = annotation["bbox"]
    if not isinstance(bbox, list):
        return [None] * 4, f"bbox {short(bbox)} is not a list [x, y, width, height]"
    if len(bbox) != 4:
        return [None] * 4, f"bbox has {len(bbox)} value(s), expected 4: [x, y, width, height]"
    return box_values(zip(_BBOX_LABELS, bbox), none="is null")


class CocoReader:
    """Streams a COCO instances JSON as ImageRecords (see module docstring)."""

    def __init__(self, path: str):
        self.path = path
        self.total = None
        self.nonfinite = False  # set once the file proves to hold bare NaN / Infinity tokens
        self.keypoint_names: tuple = ()         # the dataset's, from its categories
        self._keypoint_categories: set = set()  # the ids of the categories that declare them

    def _items(self, prefix: str):
        with json_stream.open_json(self.path, self.nonfinite) as f:
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
        except ijson.JSONError:
            raise ProblemsError([_json_problem(self.path, json_stream.locate_error(self.path))]) from None
        if event != "start_map":
            raise ProblemsError([Problem(
                self.path, "expected a COCO instances object with 'images', 'annotations' and "
                "'categories'; this JSON is not an object (a detection-results file?)", 1, 1)])

    def _categories(self) -> dict:
        names, declared = {}, {}
        for i, cat in enumerate(self._items("categories.item")):
            if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
                raise ProblemsError([Problem(self.path, f"categories[{i}]: needs 'id' and 'name'")])
            names[_id_key(cat["id"])] = str(cat["name"])
            if cat.get("keypoints"):
                if not isinstance(cat["keypoints"], list):
                    raise ProblemsError([Problem(self.path, f"categories[{i}]: keypoints {short(cat['keypoints'])} "
                                                            "is not a list of names")])
                declared[_id_key(cat["id"])] = tuple(str(n) for n in cat["keypoints"])
        sets = sorted(set(declared.values()))
        if len(sets) > 1:
            which = "; ".join(f"category {c} ({names[c]}): {len(k)} ({', '.join(k[:3])}, ...)"
                              for c, k in declared.items())
            raise ProblemsError([Problem(self.path, f"categories declare different keypoint names ({which}); "
                                                    "detflow writes one keypoint set per dataset")])
        self.keypoint_names = sets[0] if sets else ()
        self._keypoint_categories = set(declared)
        return names

    def _spill_annotations(self, db) -> None:
        db.execute("CREATE TABLE ann (image_id TEXT, idx INTEGER, ann_id TEXT, category_id TEXT,"
                   " x REAL, y REAL, w REAL, h REAL, area REAL, iscrowd INTEGER, invalid TEXT,"
                   " keypoints TEXT, num_keypoints REAL)")

        def rows():
            for idx, a in enumerate(self._items("annotations.item")):
                if not isinstance(a, dict):
                    a = {}
                bbox, invalid = _bbox(a)
                area = to_float(a.get("area"))
                yield (_id_key(a.get("image_id")), idx, _id_key(a.get("id", idx)),
                       _id_key(a.get("category_id")), *([None] * 4 if invalid else bbox),
                       area if area is not None and math.isfinite(area) else None,
                       1 if a.get("iscrowd") else 0, invalid,
                       json.dumps(a["keypoints"]) if "keypoints" in a else None,
                       to_float(a.get("num_keypoints")))

        db.executemany("INSERT INTO ann VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
        db.execute("CREATE INDEX ann_image ON ann (image_id, idx)")
        db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, file_name TEXT UNIQUE)")

    def _objects(self, db, image_key: str, categories: dict) -> list:
        objects = []
        for idx, ann_id, cat_id, x, y, w, h, area, iscrowd, invalid, keypoints, num_keypoints in db.execute(
                "SELECT idx, ann_id, category_id, x, y, w, h, area, iscrowd, invalid, keypoints, num_keypoints"
                " FROM ann WHERE image_id = ? ORDER BY idx", (image_key,)):
            name = categories.get(cat_id)
            objects.append(R.ObjectRecord(
                class_name=name, class_id=int(cat_id) if cat_id.lstrip("-").isdigit() else None,
                xmin=x, ymin=y,
                xmax=None if x is None or w is None else x + w,
                ymax=None if y is None or h is None else y + h,
                is_crowd=bool(iscrowd), area=area,
                locator=f"annotations[{idx}] (id {ann_id}, category_id {cat_id})", invalid=invalid,
                keypoints=json.loads(keypoints) if keypoints is not None else None, num_keypoints=num_keypoints,
                has_keypoint_names=cat_id in self._keypoint_categories))
        return objects

    def __iter__(self):
        self.check()
        try:
            categories = self._first_pass()
            with spill_db() as db:
                self._spill_annotations(db)
                yield from self._images(db, categories)
        except ijson.JSONError:
            raise ProblemsError([_json_problem(
                self.path, json_stream.locate_error(self.path, self.nonfinite))]) from None

    def _first_pass(self) -> dict:
        """The categories; the whole file is parsed here, so a syntax error stops it before any record."""
        try:
            return self._categories()
        except ijson.JSONError:
            error = json_stream.locate_error(self.path)
            if not json_stream.is_nonfinite(error):
                raise ProblemsError([_json_problem(self.path, error)]) from None
        self.nonfinite = True  # Python's json.dump wrote NaN / Infinity: read them as json.load does
        return self._categories()

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
            yield R.ImageRecord(
                file_name=file_name, image_id=key,
                width=to_size(img.get("width")), height=to_size(img.get("height")),
                objects=self._objects(db, key, categories),
                source=self.path, locator=f"{locator} (id {key})", keypoint_names=self.keypoint_names)
        for idx, ann_id, image_key in db.execute(
                "SELECT idx, ann_id, image_id FROM ann WHERE image_id NOT IN (SELECT id FROM seen)"
                " ORDER BY idx"):
            yield R.ReaderProblem("box", R.UNKNOWN_IMAGE, self.path,
                                  f"annotations[{idx}] (id {ann_id}): image_id {image_key} is not in 'images'")
