"""`detflow config check` / `detflow label-map check`: exit codes, output, no TensorFlow."""

import pathlib
import subprocess
import sys
import time

from pipelines.cli import main
from tests.schemas.helpers import FASTER_RCNN, FPNLITE, MINIMAL, edit, line_of

REPO = pathlib.Path(__file__).resolve().parents[2]
DETFLOW = pathlib.Path(sys.executable).with_name("detflow")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_config_check_zoo_configs_exit_0_with_summary(capsys):
    assert main(["config", "check", str(FPNLITE)]) == 0
    out = capsys.readouterr().out
    for expected in ("architecture:         ssd", "backbone:             ssd_mobilenet_v2_fpn_keras",
                     "input size:           320x320", "num_classes:          90", "batch size:           128",
                     "steps:                50000", "optimizer:            momentum 0.9",
                     "learning rate:        cosine_decay base 0.08",
                     "fine-tune checkpoint: PATH_TO_BE_CONFIGURED/mobilenet_v2.ckpt-1 (type classification",
                     "warning: ", "sync_replicas: ignored"):
        assert expected in out, expected
    assert main(["config", "check", str(FASTER_RCNN)]) == 0
    assert "faster_rcnn_resnet50_keras" in capsys.readouterr().out


def test_config_check_says_how_training_would_be_spread_here(monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["config", "check", str(FPNLITE)]) == 0
    assert "training here:        one process (no cluster in TF_CONFIG)" in capsys.readouterr().out
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, '
                                    '"task": {"type": "worker", "index": 1}}')
    assert main(["config", "check", str(FPNLITE)]) == 0
    assert "training here:        MultiWorkerMirroredStrategy, worker 1 of 2 (TF_CONFIG)" in capsys.readouterr().out


def test_config_check_problems_exit_2_on_stderr(tmp_path, capsys):
    path = write(tmp_path, "bad.config", edit("batch_size: 8", "batch_size: 0"))
    assert main(["config", "check", path]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{path}:15:3: train_config.batch_size: batch_size must be > 0 (got 0)\n"


def test_config_check_missing_file_is_one_line(capsys):
    assert main(["config", "check", "/nonexistent.config"]) == 2
    assert capsys.readouterr().err == "/nonexistent.config: no such file\n"


def test_label_map_check(tmp_path, capsys):
    good = write(tmp_path, "lm.pbtxt", "item { id: 1 name: 'a' }\nitem { id: 2 name: 'b' }\nitem { id: 3 name: 'c' }\n")
    assert main(["label-map", "check", good]) == 0
    assert capsys.readouterr().out == "3 classes: a, b, c\n"
    assert main(["label-map", "check", good, "--config", write(tmp_path, "p.config", MINIMAL)]) == 0
    capsys.readouterr()
    bad = write(tmp_path, "bad.pbtxt", "item { id: 0 name: 'a' }\nitem { id: 2 name: 'a' }\n")
    assert main(["label-map", "check", bad, "--config", str(FPNLITE)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"{bad}:1:8: id 0 is reserved for the background class (item 'a'); ids start at 1",
                   f"{bad}:2:14: duplicate name 'a' (first used on line 1)"]
    two = write(tmp_path, "two.pbtxt", "item { id: 1 name: 'a' }\nitem { id: 2 name: 'b' }\n")
    assert main(["label-map", "check", two, "--config", str(FPNLITE)]) == 2
    assert capsys.readouterr().err == (f"{FPNLITE}:9:5: model.ssd.num_classes: num_classes is 90 but the highest id "
                                       f"in the label map {two} is 2: class-head columns 3..90 would belong to no "
                                       "class (num_classes must be the highest id)\n")
    three = write(tmp_path, "three.pbtxt", "item { id: 1 name: 'a' }\nitem { id: 4 name: 'b' }\n")
    assert main(["label-map", "check", three, "--config", write(tmp_path, "p.config", MINIMAL)]) == 2
    assert capsys.readouterr().err == (f"{three}:2: id 4 ('b') exceeds num_classes 3 of {tmp_path}/p.config: ids "
                                       "must be 1..num_classes\n")


def test_label_map_check_takes_id_gaps_and_warns_of_a_background_item(tmp_path, capsys):
    gaps = write(tmp_path, "gaps.pbtxt", "item { id: 0 name: 'background' }\nitem { id: 1 name: 'a' }\n"
                                         "item { id: 2 name: 'b' }\nitem { id: 5 name: 'e' }\n")
    config = write(tmp_path, "p.config", MINIMAL.replace("num_classes: 3", "num_classes: 5"))
    assert main(["label-map", "check", gaps, "--config", config]) == 0
    assert capsys.readouterr().out == (
        "3 classes (ids 1, 2, 5): a, b, e\n1 warning(s):\n"
        f"  warning: {gaps}:1:8: item 'background' with id 0 is left out: detflow adds the background class "
        "itself (class ids start at 1)\n")


def test_config_check_takes_a_bom_and_warns_of_a_missing_checkpoint(tmp_path, capsys):
    path = tmp_path / "bom.config"
    path.write_text(MINIMAL, encoding="utf-8-sig")
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: OK\n") and "1 warning(s):" in out
    line = line_of(MINIMAL, "ckpt-0")
    assert f"warning: {path}:{line}:3: train_config.fine_tune_checkpoint: no checkpoint at ckpt/ckpt-0 or " in out


def test_config_check_names_the_input_size_an_fpn_cannot_take(tmp_path, capsys):
    path = write(tmp_path, "odd.config", edit("height: 320 width: 320", "height: 97 width: 131"))
    assert main(["config", "check", path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" px ")[0] for line in err] == [
        f"{path}:4:43: model.ssd.image_resizer.fixed_shape_resizer.height: 97",
        f"{path}:4:54: model.ssd.image_resizer.fixed_shape_resizer.width: 131"]
    assert err[1].endswith("use a multiple of 32 (e.g. 128) or set feature_extractor.pad_to_multiple: 32")


def test_config_check_suggests_an_efficientdet_size_it_would_accept(tmp_path, capsys):
    """160 px misses the BiFPN's multiple of 128; the size suggested (256) is one the check accepts, not 128,
    which is below EfficientNet's smallest input."""
    d0 = (REPO / "tests" / "data" / "configs" / "ssd_efficientdet_d0_512x512.config").read_text()
    path = write(tmp_path, "d0.config", d0.replace("dimension: 512", "dimension: 160"))
    assert main(["config", "check", path]) == 2
    err = capsys.readouterr().err
    assert "max_dimension: 160 px does not fit the BiFPN up to level 7" in err
    assert "use a multiple of 128 (e.g. 256)" in err
    path = write(tmp_path, "d0_256.config", d0.replace("dimension: 512", "dimension: 256"))
    assert main(["config", "check", path]) == 0, capsys.readouterr().err


def test_console_script_exit_codes_and_no_tensorflow(tmp_path):
    bad = write(tmp_path, "bad.config", edit("    num_classes: 3\n", "    num_classes: 3\n    free_anchor_box_matcher {}\n"))
    started = time.perf_counter()
    result = subprocess.run([str(DETFLOW), "config", "check", bad], capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    assert result.returncode == 2
    assert result.stderr.startswith(f"{bad}:4:5: model.ssd.free_anchor_box_matcher: unknown field")
    assert "Traceback" not in result.stderr
    assert elapsed < 5  # the budget is 2 s; loose here because CI shares its cores
    ok = subprocess.run([str(DETFLOW), "config", "check", str(FPNLITE)], capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr


def test_checks_do_not_import_tensorflow(tmp_path):
    label_map = write(tmp_path, "lm.pbtxt", "item { id: 1 name: 'a' }\n")
    code = ("import sys; from pipelines.cli import main\n"
            f"assert main(['config', 'check', {str(FPNLITE)!r}]) == 0\n"
            f"assert main(['label-map', 'check', {label_map!r}]) == 0\n"
            "heavy = [m for m in ('tensorflow', 'tfx', 'apache_beam', 'keras') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_label_map_check_checks_a_center_net_keypoint_task(tmp_path, capsys):
    """`label-map check --config` with a CenterNet keypoint config: its keypoint class must be a class of the
    label map (the LabelMapValidator's check, before any run)."""
    from tests.schemas.probe_kit import BASES
    config = write(tmp_path, "kp.config", BASES["centernet_kpts"]())
    good = write(tmp_path, "lm.pbtxt", "item { id: 1 name: 'c1' }\nitem { id: 2 name: 'c2' }\nitem { id: 3 name: 'c3' }\n")
    assert main(["label-map", "check", good, "--config", config]) == 0
    capsys.readouterr()
    other = write(tmp_path, "other.pbtxt", "item { id: 1 name: 'x' }\nitem { id: 2 name: 'c2' }\nitem { id: 3 name: 'c3' }\n")
    assert main(["label-map", "check", other, "--config", config]) == 2
    assert "the keypoint label map's item 'c1' has id 1, which is class 'x'" in capsys.readouterr().err


def test_run_and_compile_take_the_blessing_metric_and_refuse_an_unknown_one(capsys):
    """`--metric` names what --min-map and --max-regression judge: a keypoint metric too; a name the Evaluator
    does not compute is refused before anything runs."""
    import pytest
    from pipelines.cli.parser import build_parser
    from pipelines.settings import blessing_gate
    parser = build_parser()
    metric = "Keypoints_Precision/mAP@.50IOU ByCategory/person"
    run = ["run", "--config", "c", "--format", "coco", "--annotations", "a.json", "--images", "i", "--root", "r",
           "--min-map", "0.1", "--metric"]
    args = parser.parse_args([*run, metric])
    assert blessing_gate(args.min_map, args.max_regression, args.max_quantization_drop, args.metric).metric == metric
    with pytest.raises(SystemExit):
        parser.parse_args([*run, "Keypoints_AP"])
    assert "unknown metric 'Keypoints_AP'" in capsys.readouterr().err
