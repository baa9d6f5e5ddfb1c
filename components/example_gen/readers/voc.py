"""Pascal VOC: a folder of XML files, one per image (or a single XML file)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from components.example_gen import records as R
from components.example_gen.readers.values import box_values, to_size
from schemas.problems import Problem, ProblemsError


def _flag(element, tag: str) -> bool:
    text = (element.findtext(tag) or "0").strip()
    return text not in ("0", "", "false", "False")


def parse_voc_xml(path: str):
    """Returns the ImageRecord of one VOC XML file, or a ReaderProblem when it is unusable.

    Coordinates are taken as written (VOC's 1-based pixel indices), as the OD
    API's create_pascal_tf_record.py does.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        line, col = e.position
        return R.ReaderProblem("image", R.BAD_ANNOTATION, path, f"line {line}:{col + 1}: invalid XML: {e}")
    except OSError as e:
        return R.ReaderProblem("image", R.BAD_ANNOTATION, path, f"cannot read: {e.strerror}")
    file_name = (root.findtext("filename") or "").strip()
    if root.tag != "annotation" or not file_name:
        return R.ReaderProblem("image", R.BAD_ANNOTATION, path,
                               "not a VOC annotation: needs <annotation> with <filename>")
    size = root.find("size")
    objects = []
    for k, obj in enumerate(root.findall("object")):
        coords, invalid = _box(obj)
        objects.append(R.ObjectRecord(
            class_name=(obj.findtext("name") or "").strip(),
            xmin=coords[0], ymin=coords[1], xmax=coords[2], ymax=coords[3],
            difficult=_flag(obj, "difficult"), truncated=_flag(obj, "truncated"),
            locator=f"object #{k + 1}", invalid=invalid))
    return R.ImageRecord(
        file_name=file_name, image_id=file_name,
        width=to_size(size.findtext("width")) if size is not None else None,
        height=to_size(size.findtext("height")) if size is not None else None,
        objects=objects, source=path, locator="")


def _box(obj) -> tuple[list, str | None]:
    """The four corners of an <object>'s <bndbox>, and what is missing or wrong with them."""
    box = obj.find("bndbox")
    if box is None:
        return [None] * 4, "no <bndbox>"
    return box_values([(f"<{t}>", box.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax")])


class VocReader:
    """Streams a folder of VOC XML files (sorted by name) as ImageRecords."""

    def __init__(self, path: str):
        self.path = path
        self.total = None

    def _files(self) -> list:
        if os.path.isfile(self.path):
            return [self.path]
        if not os.path.isdir(self.path):
            raise ProblemsError([Problem(self.path, "annotation folder not found")])
        names = sorted(e.name for e in os.scandir(self.path)
                       if e.name.lower().endswith(".xml") and e.is_file())
        if not names:
            raise ProblemsError([Problem(self.path, "no .xml files in this folder")])
        return [os.path.join(self.path, n) for n in names]

    def check(self) -> None:
        """Raises ProblemsError unless the path is an XML file or a folder holding some."""
        self._files()

    def __iter__(self):
        files = self._files()
        self.total = len(files)
        seen = set()
        for path in files:
            item = parse_voc_xml(path)
            if isinstance(item, R.ImageRecord):
                if item.file_name in seen:
                    yield R.ReaderProblem("image", R.DUPLICATE_IMAGE, path,
                                          f"filename {item.file_name!r} is annotated by another XML file too")
                    continue
                seen.add(item.file_name)
            yield item
