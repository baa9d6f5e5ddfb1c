"""The pipeline with TFLite variants: exported beside the SavedModel, evaluated, gated on the int8 drop, pushed.

Run 1 exports float and int8 files (int8 calibrated on a single train image, so
that it measurably loses mAP), evaluates both on the eval split, blesses
with a generous --max-quantization-drop and pushes them with the SavedModel;
lineage names them. Run 2 changes only the allowed drop to less than the drop
run 1 measured: the Trainer is served from the cache, the Evaluator refuses and
nothing is pushed.
"""
from __future__ import annotations

import json
import os

import pytest

from components.evaluator.coco_metrics import HEADLINE_METRIC
import sample_data
from pipelines import cli
from pipelines.metadata import lineage, run_summary
from tests.pipelines import e2e_helpers as h

pytestmark = pytest.mark.e2e


def test_tflite_variants_are_evaluated_gated_pushed_and_in_the_lineage(tmp_path, capsys):
    data_root, root = tmp_path / "drops", tmp_path / "root"
    # 128 px, the embedded checkpoint's own size, so the model finds objects and the int8 drop means something.
    sample_data.generate_span(data_root, 0, num_images=h.NUM_IMAGES, image_size=(128, 128), seed=1)
    config, label_map = h.make_config(tmp_path / "config")
    data = h.span_source(data_root)
    options = {"tflite": ["none", "int8"], "representative_size": 1}

    code, first, text = h.run(root, data, config, label_map, max_quantization_drop=1.0, **options)
    assert code == 0, text
    assert first.blessed is True and first.pushed, text
    assert set(first.tflite) == {"none", "int8"}
    int8 = first.tflite["int8"]
    assert set(int8["metrics"]) >= {HEADLINE_METRIC, "DetectionBoxes_Precision/mAP@.50IOU"}
    assert int8["drop"] == pytest.approx(first.metrics[HEADLINE_METRIC] - int8["metrics"][HEADLINE_METRIC], abs=1e-5)
    assert "TFLite models" in text and "int8" in text and "drop" in text
    for mode in ("none", "int8"):
        assert os.path.getsize(os.path.join(first.pushed, "tflite", f"model_{mode}.tflite")) > 0
    with open(os.path.join(first.pushed, "metrics.json")) as f:
        document = json.load(f)
    assert set(document["tflite"]) == {"none", "int8"}
    assert document["thresholds"]["max_quantization_drop"] == 1.0
    assert any("drop" in reason and "max_quantization_drop" in reason for reason in document["judgement"]["reasons"])

    store = run_summary.open_store(str(root))
    up = lineage.trace(store, lineage.find_artifact(store, first.pushed), lineage.UPSTREAM)
    [model] = [a for a in up.artifacts.values() if a["type"] == "Model" and "tflite_variants" in a["properties"]]
    variants = json.loads(model["properties"]["tflite_variants"])
    assert variants["int8"]["representative_images"] == 1 and variants["none"]["representative_images"] == 0
    assert cli.main(["lineage", "--root", str(root), first.pushed]) == 0
    audit = capsys.readouterr().out
    assert "with tflite/model_int8.tflite, tflite/model_none.tflite" in audit
    assert "TFLite int8: Format-TFLite/model_int8.tflite" in audit and "calibrated on 1 train image)" in audit
    assert "TFLite int8: mAP" in audit

    # A drop bar below what int8 lost: only the Evaluator re-runs, it refuses, nothing is pushed. On this
    # small model int8 (raw uint8 pixels in, as the Task Library feeds it) is within +-0.002 mAP of the float
    # model, on either side; the gate is put on the COCO metric where it lost most.
    lost = {name: document["metrics"][name] - value for name, value in document["tflite"]["int8"]["metrics"].items()
            if name in document["metrics"] and value >= 0 and document["metrics"][name] >= 0}
    metric, drop = max(lost.items(), key=lambda item: item[1])
    assert drop > 0, f"the int8 model lost nothing on any metric ({lost}): the refusal cannot be shown"
    code, second, text = h.run(root, data, config, label_map, max_quantization_drop=drop / 2, metric=metric,
                               **options)
    states = h.states(second)
    assert states["DetectionTrainer"] == "cached" and states["Evaluator"] == "ran", states
    assert second.blessed is False and second.pushed is None, text
    assert "quantization costs more than allowed" in second.blessing_message
    assert "pushed: no" in text
    assert sorted(os.listdir(os.path.dirname(first.pushed))) == [os.path.basename(first.pushed)]


def test_max_quantization_drop_without_an_int8_model_is_refused_before_anything_runs(tmp_path, capsys):
    config, label_map = h.make_config(tmp_path / "config")
    args = ["run", "--min-map", "0.3", "--config", config, "--label-map", label_map, "--format", "coco",
            "--annotations", config, "--images", str(tmp_path), "--root", str(tmp_path / "root")]
    assert cli.main(args + ["--tflite", "none", "--max-quantization-drop", "0.02"]) == 2
    err = capsys.readouterr().err
    assert "--max-quantization-drop: needs an int8 model to judge: add --tflite int8" in err
    assert not (tmp_path / "root" / "metadata.sqlite").exists()
    with pytest.raises(SystemExit):
        cli.main(args + ["--tflite", "int4"])
    assert "expected distinct modes of none, float16, int8" in capsys.readouterr().err


def test_a_model_tflite_cannot_hold_is_refused_before_anything_runs(tmp_path, capsys):
    """SSD configs always have a fixed size here (config check refuses the others); Faster R-CNN has none."""
    config = "tests/data/configs/faster_rcnn_resnet50_v1_640x640.config"
    label_map = tmp_path / "label_map.pbtxt"
    label_map.write_text('item { id: 1 name: "a" }\n')
    args = ["run", "--min-map", "0.3", "--config", config, "--label-map", str(label_map), "--format", "coco",
            "--annotations", config, "--images", str(tmp_path), "--root", str(tmp_path / "root"),
            "--base-checkpoint", str(tmp_path), "--tflite", "none"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"--tflite: {config}: model.faster_rcnn: TFLite export is for SSD and CenterNet models" in err
    assert "Traceback" not in err and not (tmp_path / "root" / "metadata.sqlite").exists()


def test_the_demo_takes_the_tflite_flags(tmp_path, capsys):
    code = cli.main(["demo", "--workdir", str(tmp_path / "demo"), "--num-images", "10", "--tflite", "none",
                     "--max-quantization-drop", "0.02"])
    assert code == 2
    assert "--max-quantization-drop: needs an int8 model to judge" in capsys.readouterr().err
    assert not (tmp_path / "demo" / "metadata.sqlite").exists()
