"""Files cross between detflow and the OD API itself (the oracle environment, `make oracle`).

- An OD API export (`exporter_main_v2.py`'s layout: `saved_model/`, `checkpoint/`, `pipeline.config`)
  of the FPN-lite 320 fixture predicts through detflow's runner what the OD API's exporter's module does.
- The OD API's own `model_main_tf2.py` (its training loop two steps long) trains on records `detflow convert --compression none` wrote,
  starting from detflow's embedded checkpoint (the OD API's checkpoint layout).
"""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

import sample_data
from components.trainer import base_checkpoint
from detection.serving import model_runner
from pipelines import cli
from tests.zoo.fixtures import REPO, TOLERANCE, fixture

ORACLE_PYTHON = REPO / ".oracle" / "venv" / "bin" / "python"
OD_TRAIN = REPO / "tools" / "oracle" / "od_train.py"


def oracle_env() -> dict:
    """This process's environment for the oracle's Python: no PYTHONPATH, and no TF_USE_LEGACY_KERAS (TFX's
    tensorflow_transform sets it on import; the oracle's TF 2.15 has Keras 2 built in and no tf_keras)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return dict(env, PYTHONPATH="", TF_CPP_MIN_LOG_LEVEL="2")


def test_an_od_api_export_predicts_through_detflow_as_the_od_api_does():
    root = fixture("ssd_mobilenet_v2_fpnlite_320")
    export = root / "od_export"
    assert (export / "saved_model" / "saved_model.pb").exists(), "no OD API export: run `make oracle`"
    ref = np.load(root / "reference.npz")
    detector = model_runner.load_model(str(export))
    assert detector.kind == "SavedModel (OD API export)"
    for i, image in enumerate(ref["images"]):
        got = detector(image[None])
        n = int(ref["serving_num_detections"][i])
        assert int(got["num_detections"][0]) == n
        for key in ("detection_boxes", "detection_scores", "detection_classes"):
            want = ref[f"serving_{key}"][i, :n]
            assert np.max(np.abs(got[key][0, :n] - want)) <= TOLERANCE * max(np.max(np.abs(want)), 1.0), key


@pytest.mark.slow
def test_the_od_api_trains_on_records_detflow_wrote_uncompressed(tmp_path, capsys):
    assert ORACLE_PYTHON.exists(), "no oracle venv: run `make oracle` (make test does)"
    classes = ("disc", "bar", "triangle", "cross", "star")
    data = sample_data.generate(tmp_path / "data", num_images=12, classes=classes, image_size=(96, 96), seed=5)
    label_map = tmp_path / "label_map.pbtxt"
    label_map.write_text("".join(f'item {{ id: {i} name: "{n}" }}\n' for i, n in enumerate(classes, 1)))
    assert cli.main(["convert", "--format", "coco", "--annotations", str(data.annotations), "--images",
                     str(data.images_dir), "--label-map", str(label_map), "--out", str(tmp_path / "records"),
                     "--eval-percent", "25", "--compression", "none"]) == 0
    capsys.readouterr()
    config = tmp_path / "pipeline.config"
    config.write_text(base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=5, label_map_path=str(label_map),
        train_input_path=str(tmp_path / "records" / "Split-train" / "*"),
        eval_input_path=str(tmp_path / "records" / "Split-eval" / "*"), num_steps=2, batch_size=2,
        learning_rate_base=0.004, warmup_steps=0, fine_tune_checkpoint=base_checkpoint.checkpoint_prefix())))
    model_dir = tmp_path / "od_model"
    proc = subprocess.run(
        [str(ORACLE_PYTHON), str(OD_TRAIN), "train", f"--pipeline_config_path={config}", f"--model_dir={model_dir}",
         "--num_train_steps=2", "--checkpoint_every_n=1", "--steps_per_iteration=1", "--alsologtostderr"],
        capture_output=True, text=True, timeout=600, check=False, cwd=str(tmp_path),
        env=oracle_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DataLossError" not in proc.stderr
    # One step per iteration (model_main_tf2.py's own chunk is 100 steps): it checkpoints after each.
    latest = tf.train.latest_checkpoint(str(model_dir))
    assert latest is not None
    step = tf.train.load_checkpoint(latest).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
    assert int(step) == 2
