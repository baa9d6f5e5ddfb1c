"""Numeric flags are checked as given, and output paths that cannot be written are one line (exit 2)."""
from __future__ import annotations

import os

import pytest

from pipelines import cli

RUN = ["run", "--config", "c", "--format", "coco", "--annotations", "a", "--images", "i", "--root", "r"]


@pytest.mark.parametrize("argv,flag,fragment", [
    (["train", "--config", "c", "--model-dir", "m", "--batch-size", "0"], "--batch-size", "at least 1, got 0"),
    (["train", "--config", "c", "--model-dir", "m", "--num-steps", "0"], "--num-steps", "at least 1, got 0"),
    (["train", "--config", "c", "--model-dir", "m", "--num-steps", "-5"], "--num-steps", "at least 1, got -5"),
    (["train", "--config", "c", "--model-dir", "m", "--batch-size", "-1"], "--batch-size", "at least 1, got -1"),
    (["demo", "--num-images", "0"], "--num-images", "at least 10, got 0"),
    (["demo", "--image-size", "8"], "--image-size", "at least 16, got 8"),
    (RUN + ["--min-map", "0.3", "--max-regression", "-5"], "--max-regression", "from 0 to 1, got -5"),
    (RUN + ["--min-map", "nan"], "--min-map", "from 0 to 1, got nan"),
    (RUN + ["--min-map", "0.3", "--max-regression", "nan"], "--max-regression", "from 0 to 1, got nan"),
    (RUN + ["--min-map", "0.3", "--eval-percent", "0"], "--eval-percent", "at least 1, got 0"),
    (RUN, "--min-map", "required"),
    (["predict", "--model", "m", "x.png", "--out", "o", "--min-score", "7"], "--min-score", "from 0 to 1, got 7"),
    (["convert", "--format", "coco", "--annotations", "a", "--images", "i", "--label-map", "l", "--out", "o",
      "--eval-percent", "101"], "--eval-percent", "between 0 and 100, got 101"),
])
def test_a_flag_out_of_range_is_an_error_naming_it(argv, flag, fragment, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and flag in err and fragment in err, err
    assert "Traceback" not in err


def _unwritable(tmp_path):
    """Paths no process can write, root included: a regular file, and a path under one."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    return [(str(blocker), "it is a file, not a folder"), (str(blocker / "under"), "Not a directory")]


def test_run_root_that_cannot_be_written(tmp_path, capsys):
    config = tmp_path / "p.config"
    config.write_text("x")
    for root, why in _unwritable(tmp_path):
        code = cli.main(["run", "--min-map", "0", "--config", str(config), "--format", "coco",
                         "--annotations", str(config), "--images", str(tmp_path), "--root", root])
        err = capsys.readouterr().err
        assert code == 2 and f"{root}: --root: cannot write here" in err and why in err, err
        assert "Traceback" not in err


def test_compile_out_that_cannot_be_written(tmp_path, capsys):
    for out, why in _unwritable(tmp_path):
        out = os.path.join(out, "spec.json") if why == "it is a file, not a folder" else out + "/spec.json"
        code = cli.main(["compile", "--target", "kubeflow-v2", "--out", out, "--min-map", "0.3"])
        err = capsys.readouterr().err
        assert code == 2 and "--out: cannot write here" in err and "Traceback" not in err, err


def test_predict_out_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "preds"
    blocker.write_text("x")
    code = cli.main(["predict", "--model", str(tmp_path), str(tmp_path / "x.png"), "--out", str(blocker)])
    err = capsys.readouterr().err
    assert code == 2 and f"{blocker}: --out: cannot write here: it is a file" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; the file cases cover root")
def test_a_read_only_root(tmp_path, capsys):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o555)
    config = tmp_path / "p.config"
    config.write_text("x")
    code = cli.main(["run", "--min-map", "0", "--config", str(config), "--format", "coco",
                     "--annotations", str(config), "--images", str(tmp_path), "--root", str(root)])
    assert code == 2 and "--root: cannot write here" in capsys.readouterr().err


def test_run_push_to_and_demo_workdir_that_cannot_be_written(tmp_path, capsys):
    config = tmp_path / "p.config"
    config.write_text("x")
    label_map = tmp_path / "label_map.pbtxt"
    label_map.write_text('item { id: 1 name: "a" }\n')
    for out, why in _unwritable(tmp_path):
        code = cli.main(["run", "--min-map", "0", "--config", str(config), "--format", "coco",
                         "--annotations", str(config), "--images", str(tmp_path), "--label-map", str(label_map),
                         "--base-checkpoint", str(tmp_path), "--root", str(tmp_path / "root"), "--push-to", out])
        err = capsys.readouterr().err
        assert code == 2 and f"{out}: --push-to: cannot write here" in err and why in err, err
        code = cli.main(["demo", "--workdir", out])
        err = capsys.readouterr().err
        assert code == 2 and f"{out}: --workdir: cannot write here" in err and "Traceback" not in err, err
