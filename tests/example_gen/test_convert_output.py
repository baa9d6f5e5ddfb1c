"""`detflow convert --out`: the earlier output survives any failed run; unwritable paths are one line, exit 2."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.example_gen.helpers import make_dataset, run_convert, write

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _files(out) -> dict:
    """relative path -> bytes of every file under `out`."""
    found = {}
    for folder, _, names in os.walk(out):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, out)] = open(path, "rb").read()
    return found


def _earlier(tmp_path, n=6, fmt="coco"):
    out = tmp_path / "out"
    assert run_convert(make_dataset(str(tmp_path / "earlier"), n=n, fmt=fmt), out, fmt) == 0
    before = _files(out)
    assert sorted(before) == ["Split-eval/data_tfrecord-00000-of-00001.gz",
                              "Split-train/data_tfrecord-00000-of-00001.gz", "report.json"]
    return out, before


def test_strict_failure_keeps_the_earlier_records_and_report(tmp_path, capsys):
    out, before = _earlier(tmp_path)
    bad = make_dataset(str(tmp_path / "bad"), n=3)
    write(os.path.join(bad["images"], "img001.jpg"), b"not an image")
    assert run_convert(bad, out, "coco", "--strict") == 1
    err = capsys.readouterr().err
    assert f"no records written, the earlier records in {out} are kept" in err
    after = _files(out)
    rejected = json.loads(after.pop("report.rejected.json"))
    assert after == before
    assert rejected["skipped_images"] == {"not_an_image": 1}
    assert not [n for n in os.listdir(out) if n.startswith(".")], "no staging folder is left"

    assert run_convert(make_dataset(str(tmp_path / "new"), n=4, prefix="new"), out) == 0
    replaced = _files(out)
    assert sorted(replaced) == sorted(before), "the stale rejected report goes with a good run"
    assert sum(json.loads(replaced["report.json"])["images"].values()) == 4


def test_a_lenient_run_that_converts_nothing_keeps_the_earlier_output(tmp_path, capsys):
    out, before = _earlier(tmp_path)
    gone = make_dataset(str(tmp_path / "gone"), n=2)
    for name in gone["names"]:
        os.remove(os.path.join(gone["images"], name))
    assert run_convert(gone, out) == 1
    assert "the earlier records" in capsys.readouterr().err
    after = _files(out)
    assert json.loads(after.pop("report.rejected.json"))["skipped_images"] == {"missing_file": 2}
    assert after == before


def test_an_annotation_error_keeps_the_earlier_output(tmp_path, capsys):
    out, before = _earlier(tmp_path)
    broken = make_dataset(str(tmp_path / "broken"), n=2)
    write(broken["annotations"], '{"categories": [], "images": [1 2]}')
    assert run_convert(broken, out) == 2
    assert f"{broken['annotations']}:1:33: invalid JSON" in capsys.readouterr().err
    assert _files(out) == before


def _noisy_images(data: dict, size: int = 96) -> None:
    """Replaces the dataset's images with noise, which JPEG cannot squeeze (records of some size)."""
    for i, name in enumerate(data["names"]):
        pixels = np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(data["images"], name), format="JPEG")


def test_a_write_that_fails_midway_keeps_the_earlier_output(tmp_path):
    out, before = _earlier(tmp_path, fmt="voc")
    data = make_dataset(str(tmp_path / "big"), n=12, fmt="voc")  # VOC: no spill file for the limit to hit
    _noisy_images(data)
    limit = 48 * 1024  # a file size limit: the records fail with EFBIG, as on a full disk
    code = ("import resource, sys; from pipelines.cli import main; "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
            "sys.exit(main(sys.argv[1:]))")
    run = subprocess.run(
        [sys.executable, "-c", code, "convert", "--format", "voc", "--annotations", data["annotations"],
         "--images", data["images"], "--label-map", data["label_map"], "--out", str(out)],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3"))
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert errors == [f"error: {out}: cannot write the output: File too large"]
    assert _files(out) == before
    assert not [n for n in os.listdir(out) if n.startswith(".")]


def _under_a_file(tmp_path):
    write(str(tmp_path / "file.txt"), "x")
    return tmp_path / "file.txt" / "out", "cannot create the output folder: Not a directory"


def _is_a_file(tmp_path):
    write(str(tmp_path / "records"), "x")
    return tmp_path / "records", "--out must be a folder, this is a file"


def _name_too_long(tmp_path):
    return tmp_path / ("x" * 300), "cannot create the output folder: File name too long"


def _read_only(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the other cases fail as root too")
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o500)
    return tmp_path / "ro", "cannot write in the output folder: Permission denied"


@pytest.mark.parametrize("case", [_under_a_file, _is_a_file, _name_too_long, _read_only])
def test_an_unwritable_out_is_one_line_naming_it_and_the_cause(tmp_path, capsys, case):
    data = make_dataset(str(tmp_path / "data"), n=2)
    out, cause = case(tmp_path)
    assert run_convert(data, out) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines() == [f"error: {out}: {cause}"], err
