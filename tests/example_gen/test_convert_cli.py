"""`detflow convert`: exit codes, outputs, report.json, strict mode, split stability."""

import io
import json
import os

import pytest

from pipelines.cli.convert import Progress
from schemas import example_format as K
from tests.example_gen.helpers import annotate_more, coco, image_bytes, make_dataset, read_examples, write
from tests.example_gen.helpers import run_convert as _convert


def _read_split(out, name):
    assert os.listdir(os.path.join(out, f"Split-{name}")) == ["data_tfrecord-00000-of-00001.gz"]
    return read_examples(out, name)


def _names(examples):
    return {e.features.feature[K.FILENAME].bytes_list.value[0].decode() for e in examples}


@pytest.mark.parametrize("fmt", ["coco", "voc", "csv"])
def test_each_format_converts_to_gzipped_split_records(tmp_path, fmt, capsys):
    data = make_dataset(str(tmp_path / "data"), n=8, fmt=fmt)
    out = tmp_path / "out"
    assert _convert(data, out, fmt, "--eval-percent", "40") == 0
    train, evals = _read_split(str(out), "train"), _read_split(str(out), "eval")
    assert len(train) + len(evals) == 8 and train and evals
    assert _names(train) | _names(evals) == set(data["names"])
    f = train[0].features.feature
    assert f[K.CLASS_TEXT].bytes_list.value == [b"cat"] and f[K.CLASS_LABEL].int64_list.value == [1]
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == {"train": len(train), "eval": len(evals)}
    assert report["boxes"] == {"train": len(train), "eval": len(evals)}
    assert report["skipped_images"] == {} and report["dropped_boxes"] == {} and report["problems"] == []
    assert report["clipped_boxes"] == 0
    assert "images/s" in capsys.readouterr().out


def _broken_dataset(root):
    data = make_dataset(root, n=4)
    write(os.path.join(root, "images", "bad.jpg"), b"not an image")
    doc = json.loads(open(data["annotations"]).read())
    doc["images"].append({"id": 99, "file_name": "bad.jpg", "width": 40, "height": 30})
    doc["images"].append({"id": 98, "file_name": "/etc/hosts", "width": 40, "height": 30})
    doc["annotations"].append({"id": 500, "image_id": 1, "category_id": 1, "bbox": [30, 20, 30, 30]})
    write(data["annotations"], json.dumps(doc))
    return data


def test_lenient_mode_skips_counts_and_exits_0(tmp_path):
    data = _broken_dataset(str(tmp_path / "data"))
    out = tmp_path / "out"
    assert _convert(data, out) == 0
    report = json.loads((out / "report.json").read_text())
    assert sum(report["images"].values()) == 4
    assert report["skipped_images"] == {"not_an_image": 1, "unsafe_path": 1}
    assert report["clipped_boxes"] == 1
    assert {(p["file"], p["reason"]) for p in report["problems"]} == {
        ("bad.jpg", "not_an_image"), ("/etc/hosts", "unsafe_path"), ("img000.jpg", "clipped_box")}
    assert set(report) >= {"images", "boxes", "skipped_images", "dropped_boxes", "clipped_boxes",
                           "problems", "classes"}


def test_strict_mode_exits_1_lists_problems_and_writes_no_records(tmp_path, capsys):
    data = _broken_dataset(str(tmp_path / "data"))
    out = tmp_path / "out"
    assert _convert(data, out, "coco", "--strict") == 1
    captured = capsys.readouterr()
    assert "bad.jpg: not_an_image" in captured.out and "--strict" in captured.err
    assert not (out / "Split-train").exists() and not (out / "report.json").exists()
    assert json.loads((out / "report.rejected.json").read_text())["skipped_images"]
    assert os.listdir(out) == ["report.rejected.json"]
    clean = make_dataset(str(tmp_path / "clean"), n=3)
    assert _convert(clean, tmp_path / "out2", "coco", "--strict") == 0


def test_file_errors_exit_2_naming_the_file(tmp_path, capsys):
    data = make_dataset(str(tmp_path / "data"), n=2)
    assert _convert(dict(data, annotations=str(tmp_path / "none.json")), tmp_path / "o") == 2
    assert "none.json" in capsys.readouterr().err
    write(data["annotations"], '{"images": [\n {"id": 1 "file_name": "a.jpg"}]}')
    assert _convert(data, tmp_path / "o") == 2
    assert f"{data['annotations']}:2:" in capsys.readouterr().err
    bad_map = write(str(tmp_path / "bad.pbtxt"), "item { id: 0 name: 'x' }\n")
    assert _convert(dict(data, label_map=bad_map), tmp_path / "o") == 2
    assert "bad.pbtxt" in capsys.readouterr().err
    csv_data = make_dataset(str(tmp_path / "csv"), n=2, fmt="csv")
    write(csv_data["annotations"], "name,x1,y1\n")
    assert _convert(csv_data, tmp_path / "o", "csv") == 2
    assert f"{csv_data['annotations']}:1:1:" in capsys.readouterr().err


def test_nothing_convertible_exits_1(tmp_path):
    root = str(tmp_path / "data")
    data = make_dataset(root, n=1)
    write(data["annotations"], coco([(1, "gone.jpg", 40, 30)], []))
    assert _convert(data, tmp_path / "out") == 1


def test_adding_images_keeps_every_old_image_in_its_split(tmp_path):
    root = str(tmp_path / "data")
    data = make_dataset(root, n=12)
    assert _convert(data, tmp_path / "v1") == 0
    before = {n: s for s in ("train", "eval") for n in _names(_read_split(str(tmp_path / "v1"), s))}
    more = make_dataset(root, n=24)  # the first 12 again, and 12 new ones
    assert _convert(more, tmp_path / "v2") == 0
    after = {n: s for s in ("train", "eval") for n in _names(_read_split(str(tmp_path / "v2"), s))}
    assert len(after) == 24
    assert {n: after[n] for n in before} == before


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_only_on_a_terminal():
    term = _Terminal()
    bar = Progress(term, every=0)
    for _ in range(5):
        bar.update(total=10)
    bar.close(total=10)
    assert "5/10 images" in term.getvalue() and "images/s" in term.getvalue()
    assert term.getvalue().endswith("\n")
    quiet = io.StringIO()
    bar = Progress(quiet, every=0)
    bar.update()
    bar.close()
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("fmt", ["coco", "voc", "csv"])
def test_links_out_of_the_image_folder_are_counted_skips_in_every_format(tmp_path, fmt):
    data = make_dataset(str(tmp_path / "data"), n=3, fmt=fmt)
    secret = image_bytes("PNG", color=(1, 2, 3))
    write(str(tmp_path / "outside" / "secret.png"), secret)
    images = data["images"]
    os.symlink("../../outside/secret.png", os.path.join(images, "secret.png"))  # a file link out
    os.symlink(str(tmp_path / "outside"), os.path.join(images, "dirlink"))       # a folder link out
    os.symlink("/etc/passwd", os.path.join(images, "passwd.jpg"))                # a link to a system file
    os.mkdir(os.path.join(images, "sub"))
    os.symlink("../img000.jpg", os.path.join(images, "sub", "alias.jpg"))        # stays inside: kept
    annotate_more(data, fmt, ["secret.png", "dirlink/secret.png", "passwd.jpg", "sub/alias.jpg",
                              "sub/../../outside/secret.png"])
    out = tmp_path / "out"
    assert _convert(data, out, fmt) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["skipped_images"] == {"outside_image_root": 3, "unsafe_path": 1}
    outside = {p["file"]: p["detail"] for p in report["problems"] if p["reason"] == "outside_image_root"}
    assert set(outside) == {"secret.png", "dirlink/secret.png", "passwd.jpg"}
    assert "/etc/passwd" in outside["passwd.jpg"] and "outside the image folder" in outside["secret.png"]
    examples = read_examples(out, "train") + read_examples(out, "eval")
    assert _names(examples) == set(data["names"]) | {"sub/alias.jpg"}
    for e in examples:
        encoded = e.features.feature[K.IMAGE_ENCODED].bytes_list.value[0]
        assert encoded != secret and b"root:" not in encoded


def test_nan_and_missing_box_values_are_counted_named_box_skips(tmp_path, capsys):
    data = make_dataset(str(tmp_path / "coco"), n=3)
    doc = json.loads(open(data["annotations"]).read())
    doc["annotations"][0]["bbox"] = [2, 3, float("nan"), 8]  # json.dump writes a bare NaN
    doc["annotations"][1]["bbox"] = [2, 3, 10]
    doc["images"][2]["width"] = float("inf")
    write(data["annotations"], json.dumps(doc))
    assert _convert(data, tmp_path / "out") == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sum(report["images"].values()) == 3 and sum(report["boxes"].values()) == 1
    assert report["dropped_boxes"] == {"invalid_coordinates": 2} and report["reported"] == {}
    details = sorted(p["detail"] for p in report["problems"])
    assert details[0].startswith("bbox has 3 value(s), expected 4: [x, y, width, height] (annotations[1]")
    assert details[1].startswith("bbox[2] (width) is NaN (annotations[0]")
    assert _convert(data, tmp_path / "strict", "coco", "--strict") == 1

    voc = make_dataset(str(tmp_path / "voc"), n=2, fmt="voc")
    xml = os.path.join(voc["annotations"], "img000.xml")
    text = open(xml).read()
    write(xml, text[:text.index("<bndbox>")] + text[text.index("</bndbox>") + len("</bndbox>"):])
    assert _convert(voc, tmp_path / "voc-out", "voc") == 0
    (problem,) = json.loads((tmp_path / "voc-out" / "report.json").read_text())["problems"]
    assert (problem["reason"], problem["detail"]) == ("invalid_coordinates", f"no <bndbox> (object #1 in {xml})")
    assert "None" not in capsys.readouterr().out


def test_compression_none_writes_the_same_examples_uncompressed_for_the_od_api(tmp_path, capsys):
    """The OD API's model_main_tf2.py reads uncompressed TFRecords only; detflow reads both."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from detection.data import inputs  # pylint: disable=import-outside-toplevel
    from schemas.label_map_validation import count_classes  # pylint: disable=import-outside-toplevel

    data = make_dataset(str(tmp_path / "data"), n=8)
    assert _convert(data, tmp_path / "gz", "coco", "--eval-percent", "40") == 0
    assert _convert(data, tmp_path / "plain", "coco", "--eval-percent", "40", "--compression", "none") == 0
    capsys.readouterr()
    for split in ("train", "eval"):
        [plain] = os.listdir(tmp_path / "plain" / f"Split-{split}")
        assert plain == "data_tfrecord-00000-of-00001"
        path = str(tmp_path / "plain" / f"Split-{split}" / plain)
        records = [tf.train.Example.FromString(r.numpy())
                   for r in tf.data.TFRecordDataset(path)]    # no compression_type: plain TFRecords
        assert records == _read_split(str(tmp_path / "gz"), split)
        inputs.check_records([path])
    files = {s: [str(tmp_path / "plain" / f"Split-{s}" / "data_tfrecord-00000-of-00001")] for s in ("train", "eval")}
    counts, images = count_classes(files)
    assert sum(images.values()) == 8 and sum(counts["train"].values()) + sum(counts["eval"].values()) == 8


@pytest.mark.parametrize("percent,split", [("0", "train"), ("100", "eval")])
def test_eval_percent_0_or_100_writes_one_split_for_a_dataset_split_beforehand(tmp_path, percent, split):
    data = make_dataset(str(tmp_path / "data"), n=5)
    out = tmp_path / "out"
    assert _convert(data, out, "coco", "--eval-percent", percent) == 0
    assert sorted(os.listdir(out)) == ["Split-" + split, "report.json"]
    assert _names(_read_split(str(out), split)) == set(data["names"])
    other = "eval" if split == "train" else "train"
    assert json.loads((out / "report.json").read_text())["images"] == {split: 5, other: 0}
    assert _convert(data, out, "coco", "--eval-percent", "40") == 0
    assert sorted(os.listdir(out)) == ["Split-eval", "Split-train", "report.json"]
    assert _convert(data, out, "coco", "--eval-percent", percent) == 0
    assert sorted(os.listdir(out)) == ["Split-" + split, "report.json"], "the other split of the run before is gone"


def test_eval_percent_out_of_range_is_refused_by_the_parser(tmp_path, capsys):
    data = make_dataset(str(tmp_path / "data"), n=2)
    with pytest.raises(SystemExit) as exit_info:
        _convert(data, tmp_path / "out", "coco", "--eval-percent", "101")
    assert exit_info.value.code == 2 and "--eval-percent" in capsys.readouterr().err
