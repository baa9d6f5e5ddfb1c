"""Streaming readers: COCO, VOC, CSV records, their problems, and flat memory."""

import json
import os
import tracemalloc

import pytest

from components.example_gen import records as R
from components.example_gen.readers import CocoReader, CsvReader, VocReader, open_reader
from schemas.problems import ProblemsError
from tests.example_gen.helpers import coco, voc_xml, write


def _split(items):
    recs = [i for i in items if isinstance(i, R.ImageRecord)]
    probs = [i for i in items if isinstance(i, R.ReaderProblem)]
    return recs, probs


def test_coco_groups_annotations_per_image_in_any_key_order(tmp_path):
    doc = json.loads(coco([(1, "a.jpg", 40, 30), (2, "b.jpg", 40, 30)],
                          [(2, 2, (1, 2, 3, 4)), (1, 1, (5, 6, 7, 8)), (2, 9, (0, 0, 1, 1)),
                           (77, 1, (0, 0, 1, 1))]))
    reordered = {"annotations": doc["annotations"], "categories": doc["categories"], "images": doc["images"]}
    path = write(str(tmp_path / "c.json"), json.dumps(reordered))
    recs, probs = _split(list(CocoReader(path)))
    assert [r.file_name for r in recs] == ["a.jpg", "b.jpg"]
    a, b = recs
    assert a.image_id == "1" and (a.width, a.height) == (40, 30)
    (obj,) = a.objects
    assert (obj.class_name, obj.xmin, obj.ymin, obj.xmax, obj.ymax) == ("cat", 5, 6, 12, 14)
    assert obj.area == 56
    assert [o.class_name for o in b.objects] == ["dog", None]  # category 9 is unknown
    assert b.objects[1].class_id == 9
    assert [(p.kind, p.reason) for p in probs] == [("box", R.UNKNOWN_IMAGE)]
    assert "image_id 77" in probs[0].detail


def test_coco_duplicate_image_and_missing_file_name(tmp_path):
    path = write(str(tmp_path / "c.json"), coco([(1, "a.jpg", 4, 4), (1, "b.jpg", 4, 4)], []))
    doc = json.loads(open(path).read())
    doc["images"].append({"id": 3})
    write(path, json.dumps(doc))
    recs, probs = _split(list(CocoReader(path)))
    assert [r.file_name for r in recs] == ["a.jpg"]
    assert sorted(p.reason for p in probs) == [R.BAD_ANNOTATION, R.DUPLICATE_IMAGE]


@pytest.mark.parametrize("text, line, col, message", [
    ('{"images": [\n  {"id": 1,\n   "file_name": "a.jpg" oops}\n]}', 3, 25, "invalid char"),
    ('{"images": [1 2]}', 1, 15, "after array element"),       # yajl notices at the ']'
    ('{"images": [{"id": 1, "file_name": "a" "b"}]}', 1, 40, "inside map"),
    ('{"images": [', 1, 13, "premature EOF"),                  # a truncated file: its end
    ('{"images": [1, nan]}', 1, 16, "invalid string"),          # not Python's spelling: named
    (b'{\n "images": ["\xc3\xa9\xc3\xa9", "\xff"]}', 2, 20, "UTF8"),  # columns count characters
    ('{"images": [NaN, Infinity,\n -Infinity, 1 2]}', 2, 15, "after array element"),  # after NaNs
    ('{"images": [' + '1,\n' * 30000 + ' x]}', 30001, 2, "invalid char"),  # far past the first 64 KiB
])
def test_coco_syntax_errors_give_line_and_column(tmp_path, text, line, col, message):
    path = str(tmp_path / "bad.json")
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ProblemsError) as e:
        list(CocoReader(path))
    (problem,) = e.value.problems
    assert (problem.file, problem.line, problem.col) == (path, line, col), problem
    assert problem.message.startswith("invalid JSON: ") and message in problem.message


def test_coco_reads_python_json_nan_and_infinity_as_numbers(tmp_path):
    nan, inf = float("nan"), float("inf")
    text = json.dumps({  # json.dump writes bare NaN / Infinity, as pycocotools' json.load reads them
        "images": [{"id": 1, "file_name": "NaN.jpg", "width": nan, "height": 30},
                   {"id": 2, "file_name": "b.jpg", "width": 40, "height": inf}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, nan, 4], "area": inf},
                        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [-inf, 2, 3, None]},
                        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4], "area": nan}],
        "categories": [{"id": 1, "name": "NaN"}]})
    # a NaN that the 64 KiB read boundary cuts in two ("Na" | "N") is read too
    pad = 65534 - text.index("NaN, ") - len('"pad": "", ')
    text = '{"pad": "' + "x" * pad + '", ' + text[1:]
    assert text.index("NaN, ") == 65534
    recs, probs = _split(list(CocoReader(write(str(tmp_path / "nan.json"), text))))
    assert probs == []
    a, b = recs
    assert (a.file_name, a.width, a.height, b.width, b.height) == ("NaN.jpg", None, 30, 40, None)
    assert [o.invalid for o in a.objects] == ["bbox[2] (width) is NaN",
                                              "bbox[0] (x) is -Infinity; bbox[3] (height) is null"]
    assert a.objects[0].class_name == "NaN"  # strings are left alone
    assert (b.objects[0].invalid, b.objects[0].area, b.objects[0].xmax) == (None, None, 4)


def test_coco_bbox_problems_say_what_is_missing(tmp_path):
    doc = json.loads(coco([(1, "a.jpg", 40, 30)], [(1, 1, (1, 2, 3, 4))] * 4))
    doc["annotations"][0]["bbox"] = [1, 2, 3]
    del doc["annotations"][1]["bbox"]
    doc["annotations"][2]["bbox"] = [1, "two", 3, True]
    doc["annotations"][3]["bbox"] = {"x": 1}
    (rec,) = list(CocoReader(write(str(tmp_path / "c.json"), json.dumps(doc))))
    assert [o.invalid for o in rec.objects] == [
        "bbox has 3 value(s), expected 4: [x, y, width, height]", "no bbox",
        "bbox[1] (y) 'two' is not a number; bbox[3] (height) True is not a number",
        "bbox {'x': 1} is not a list [x, y, width, height]"]


def test_coco_rejects_a_results_file_and_a_missing_file(tmp_path):
    path = write(str(tmp_path / "dt.json"), '[{"image_id": 1, "bbox": [1, 2, 3, 4]}]')
    with pytest.raises(ProblemsError, match="not an object"):
        list(CocoReader(path))
    with pytest.raises(ProblemsError, match="not found"):
        list(CocoReader(str(tmp_path / "none.json")))


def test_voc_reads_difficult_truncated_and_reports_bad_xml(tmp_path):
    write(str(tmp_path / "a.xml"), voc_xml("a.jpg", [("cat", 1, 2, 10, 12, 1), ("dog", 3, 3, 9, 9, 0)]))
    write(str(tmp_path / "b.xml"), "<annotation>\n<filename>b.jpg</filename>\n<object>\n</annotation>")
    write(str(tmp_path / "c.xml"), "<annotation><size/></annotation>")
    recs, probs = _split(list(VocReader(str(tmp_path))))
    (a,) = recs
    assert a.file_name == "a.jpg" and (a.width, a.height) == (40, 30)
    assert [(o.class_name, o.difficult, o.xmin, o.ymax) for o in a.objects] == [
        ("cat", True, 1, 12), ("dog", False, 3, 9)]
    assert {os.path.basename(p.file): p.reason for p in probs} == {
        "b.xml": R.BAD_ANNOTATION, "c.xml": R.BAD_ANNOTATION}
    assert next(p for p in probs if p.file.endswith("b.xml")).detail.startswith("line 4:")
    with pytest.raises(ProblemsError, match="not found"):
        list(VocReader(str(tmp_path / "nowhere")))


def test_voc_box_problems_say_what_is_missing(tmp_path):
    write(str(tmp_path / "a.xml"), voc_xml("a.jpg", [("cat", 1, 2, 10, 12, 0), ("cat", "x", 2, "nan", 12, 0)])
          .replace("<object>", "<object><name>cat</name></object><object>", 1)
          .replace("<xmax>10</xmax>", "", 1).replace("<size><width>40</width>", "<size><width>nan</width>"))
    (rec,) = list(VocReader(str(tmp_path)))
    assert [o.invalid for o in rec.objects] == ["no <bndbox>", "<xmax> is missing",
                                                "<xmin> 'x' is not a number; <xmax> is NaN"]
    assert (rec.width, rec.height) == (None, 30)


def test_csv_rows_say_which_columns_or_values_are_missing(tmp_path):
    path = write(str(tmp_path / "a.csv"), "filename,width,height,xmin,ymin,xmax,ymax,class\n"
                                          "a.jpg,nan,30,1,2,,4,cat\n"
                                          "a.jpg,40,30,1,2\n"
                                          ",40,30,1,2,3,4,cat\n")
    recs, probs = _split(list(CsvReader(path)))
    (rec,) = recs
    assert (rec.width, rec.height) == (None, 30) and rec.objects[0].invalid == "xmax is empty"
    assert [(p.file, p.detail) for p in probs] == [(f"{path}:3", "5 field(s): no xmax, ymax, class"),
                                                   (f"{path}:4", "filename is empty")]


def test_csv_groups_unsorted_rows_and_reports_bad_rows_by_line(tmp_path):
    path = write(str(tmp_path / "a.csv"),
                 "filename,xmin,ymin,xmax,ymax,class\n"
                 "b.jpg,1,1,5,5,cat\n"
                 "a.jpg,2,2,6,6,dog\n"
                 "b.jpg,3,3,9,9,dog\n"
                 "broken row\n"
                 "c.jpg,,,,,\n"
                 "a.jpg,x,2,6,6,dog\n")
    reader = CsvReader(path)
    recs, probs = _split(list(reader))
    assert reader.total == 3
    assert [r.file_name for r in recs] == ["b.jpg", "a.jpg", "c.jpg"]
    assert [o.locator for o in recs[0].objects] == ["line 2", "line 4"]
    assert recs[1].objects[1].xmin is None  # 'x' is not a number: dropped later, by line
    assert recs[2].objects == []  # negative image
    assert [(p.reason, p.file) for p in probs] == [(R.BAD_ROW, f"{path}:5")]


def test_csv_header_problems_name_line_one(tmp_path):
    path = write(str(tmp_path / "a.csv"), "file,xmin,ymin,xmax,ymax,label\na.jpg,1,1,2,2,cat\n")
    with pytest.raises(ProblemsError) as e:
        list(open_reader("csv", path))
    assert e.value.problems[0].line == 1 and "filename" in e.value.problems[0].message


def test_csv_tutorial_layout_with_size_columns(tmp_path):
    path = write(str(tmp_path / "a.csv"),
                 "filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,40,30,cat,1,2,3,4\n")
    (rec,) = list(CsvReader(path))
    assert (rec.width, rec.height) == (40, 30)
    assert (rec.objects[0].class_name, rec.objects[0].xmax) == ("cat", 3)


def _big_coco(path, n):
    with open(path, "w") as f:
        f.write('{"categories": [{"id": 1, "name": "cat"}], "images": [')
        f.write(",".join(json.dumps({"id": i, "file_name": f"dir/img_{i:06d}.jpg", "width": 640,
                                     "height": 480, "license": 1}) for i in range(n)))
        f.write('], "annotations": [')
        f.write(",".join(json.dumps({"id": k, "image_id": k // 2, "category_id": 1, "iscrowd": 0,
                                     "bbox": [1.5, 2.5, 30.25, 40.75], "area": 1232.0,
                                     "segmentation": [[1, 2, 3, 4, 5, 6, 7, 8]]})
                         for k in range(2 * n)))
        f.write("]}")
    return os.path.getsize(path)


def _peak_reading(path):
    tracemalloc.start()
    count = boxes = 0
    for rec in CocoReader(path):
        count += 1
        boxes += len(rec.objects)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, boxes, peak


def test_coco_memory_is_flat_in_the_number_of_images(tmp_path):
    small, big = 2000, 8000
    _big_coco(str(tmp_path / "small.json"), small)
    size = _big_coco(str(tmp_path / "big.json"), big)
    _, _, peak_small = _peak_reading(str(tmp_path / "small.json"))
    count, boxes, peak = _peak_reading(str(tmp_path / "big.json"))
    assert (count, boxes) == (big, 2 * big)
    assert peak < size / 2, f"peak {peak} bytes for a {size}-byte JSON"
    assert peak < peak_small * 1.5 + 256 * 1024, f"peak grew from {peak_small} to {peak} with 4x the images"
