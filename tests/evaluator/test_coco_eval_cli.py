"""`detflow coco-eval`: table, --json, exit 2 on bad files, and no TensorFlow import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.evaluator.coco_metrics import METRIC_NAMES, evaluate
from components.evaluator.synthetic import synthetic_coco
from pipelines.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def files(tmp_path):
    gt, dt = synthetic_coco(11, num_images=10, num_classes=3)
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dt))
    return gt, dt, gt_path, dt_path


def test_json_output_has_metrics_and_per_category(files, capsys):
    gt, dt, gt_path, dt_path = files
    assert main(["coco-eval", "--gt", str(gt_path), "--dt", str(dt_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = evaluate(gt, dt)
    assert list(printed["metrics"]) == list(METRIC_NAMES)
    assert printed["metrics"] == pytest.approx(expected.metrics, abs=1e-12)
    assert printed["per_category"] == pytest.approx(expected.per_category, abs=1e-12)


def test_table_output(files, capsys):
    _, _, gt_path, dt_path = files
    assert main(["coco-eval", "--gt", str(gt_path), "--dt", str(dt_path)]) == 0
    out = capsys.readouterr().out
    assert "DetectionBoxes_Precision/mAP@.50IOU" in out
    assert "DetectionBoxes_PerformanceByCategory/mAP/class_" in out


def test_bad_files_exit_2_with_place(files, tmp_path, capsys):
    _, dt, gt_path, dt_path = files
    dt[3]["image_id"] = 999999
    dt_path.write_text(json.dumps(dt))
    assert main(["coco-eval", "--gt", str(gt_path), "--dt", str(dt_path)]) == 2
    err = capsys.readouterr().err
    assert f"{dt_path}: [3].image_id: unknown image id 999999" in err
    assert "Traceback" not in err

    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [\n  {"id": 1,}\n]}')
    assert main(["coco-eval", "--gt", str(broken), "--dt", str(dt_path)]) == 2
    assert f"{broken}:2:" in capsys.readouterr().err

    assert main(["coco-eval", "--gt", str(tmp_path / "missing.json"), "--dt", str(dt_path)]) == 2
    assert "missing.json: cannot read" in capsys.readouterr().err


def test_coco_eval_does_not_import_tensorflow(files):
    _, _, gt_path, dt_path = files
    code = ("import sys; from pipelines.cli import main; "
            f"rc = main(['coco-eval', '--gt', {str(gt_path)!r}, '--dt', {str(dt_path)!r}, '--json']); "
            "assert rc == 0, rc; "
            "loaded = [m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.')]; "
            "print('TF_LOADED', loaded)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "TF_LOADED []" in proc.stdout
