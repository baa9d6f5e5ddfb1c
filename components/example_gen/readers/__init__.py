"""Streaming annotation readers: COCO instances JSON, Pascal VOC XML folders, CSV.

Each reader yields one `ImageRecord` per image (and a `ReaderProblem` for what
belongs to no image) with memory independent of the dataset's size: what must
be grouped per image is spilled to a temporary SQLite file, not held in RAM.
File-level errors (missing file, unparseable JSON, bad CSV header) raise
`ProblemsError` before the first record.
"""

from __future__ import annotations

from components.example_gen.readers.coco import CocoReader
from components.example_gen.readers.csv_reader import CsvReader
from components.example_gen.readers.voc import VocReader

FORMATS = ("coco", "voc", "csv")


def open_reader(annotation_format: str, path: str):
    """Returns the reader for `annotation_format` ("coco", "voc" or "csv") over `path`.

    A reader is an iterable of ImageRecord / ReaderProblem with a `total`
    attribute (the number of images when known before iterating ends, else
    None) and a cheap `check()` that raises ProblemsError for file-level errors.
    """
    readers = {"coco": CocoReader, "voc": VocReader, "csv": CsvReader}
    if annotation_format not in readers:
        raise ValueError(f"unknown annotation format {annotation_format!r}; expected one of {FORMATS}")
    return readers[annotation_format](path)


__all__ = ["CocoReader", "CsvReader", "VocReader", "FORMATS", "open_reader"]
