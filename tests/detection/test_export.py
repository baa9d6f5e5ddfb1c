"""export: OD API serving contract checked in a fresh process with plain TensorFlow; fine-tune from an export."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from detection.architectures import registry
from detection.checkpoints import restore
from detection.serving import export
from tests.detection.detector_fixtures import label_map_text, ssd_config_text, ssd_proto

# Runs in a new interpreter: nothing of detflow imported, only TensorFlow.
CHECK = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
rng = np.random.default_rng(0)
small = rng.integers(0, 256, size=(1, 64, 64, 3), dtype=np.uint8)
# 128x128, each pixel twice: the OD API's bilinear resize (no half-pixel centres) samples it back at
# exactly the small image's pixels.
big = np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)
wide = rng.integers(0, 256, size=(2, 30, 90, 3), dtype=np.uint8)
serve = loaded.signatures["serving_default"]
by_bytes = loaded.signatures["serving_bytes"]
def run(fn, **kw):
    return {k: v.numpy().tolist() for k, v in fn(**kw).items()}
out = {
    "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in serve.structured_input_signature[1].items()},
    "bytes_inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in by_bytes.structured_input_signature[1].items()},
    "small": run(serve, input_tensor=tf.constant(small)),
    "big": run(serve, input_tensor=tf.constant(big)),
    "wide": run(serve, input_tensor=tf.constant(wide)),
    "bytes": run(by_bytes, encoded_image_string_tensor=tf.stack(
        [tf.io.encode_png(small[0]), tf.io.encode_jpeg(wide[0])])),
    "dtypes": {k: v.dtype.name for k, v in serve(input_tensor=tf.constant(small)).items()},
}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    bundle = registry.build_detector(ssd_proto(num_classes=3, size=64))
    label_map = root / "label_map.pbtxt"
    label_map.write_text(label_map_text(3))
    prefix = tf.train.Checkpoint(model=bundle.model).write(str(root / "train" / "ckpt-5"))
    out = export.export_saved_model(bundle, str(label_map), ssd_config_text(num_classes=3),
                                    prefix, str(root / "exported"))
    return bundle, out, prefix


def _check_outputs(result, batch, max_detections=20, num_classes=3):
    boxes = np.array(result["detection_boxes"])
    scores = np.array(result["detection_scores"])
    classes = np.array(result["detection_classes"])
    num = np.array(result["num_detections"])
    assert boxes.shape == (batch, max_detections, 4)
    assert scores.shape == classes.shape == (batch, max_detections) and num.shape == (batch,)
    assert ((boxes >= 0) & (boxes <= 1)).all()
    for b in range(batch):
        n = int(num[b])
        assert 0 < n <= max_detections and num[b] == n
        assert (boxes[b, :n, 0] <= boxes[b, :n, 2]).all() and (boxes[b, :n, 1] <= boxes[b, :n, 3]).all()
        assert set(classes[b, :n].tolist()) <= {1.0, 2.0, 3.0}
        assert (np.diff(scores[b, :n]) <= 1e-6).all()


def test_layout_of_the_export(exported):
    _, out, prefix = exported
    assert os.path.isfile(os.path.join(out, "saved_model.pb"))
    assert export.find_label_map(out) == os.path.join(out, "assets", "label_map.pbtxt")
    assert 'name: "c3"' in open(export.find_label_map(out)).read()
    assert "ssd_mobilenet_v2_fpn_keras" in open(os.path.join(out, "assets", "pipeline.config")).read()
    assert restore.find_checkpoint(out) == os.path.join(out, "checkpoint", os.path.basename(prefix))
    assert not [p for p in os.listdir(os.path.dirname(out)) if ".tmp-" in p or ".old-" in p]


def test_signatures_in_a_fresh_process(exported):
    _, out, _ = exported
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    proc = subprocess.run([sys.executable, "-c", CHECK, out], capture_output=True, text=True, env=env,
                          cwd="/", timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["inputs"] == {"input_tensor": ["uint8", [None, None, None, 3]]}
    assert result["bytes_inputs"] == {"encoded_image_string_tensor": ["string", [None]]}
    assert result["dtypes"] == {k: "float32" for k in
                                ("detection_boxes", "detection_scores", "detection_classes", "num_detections")}
    _check_outputs(result["small"], 1)
    _check_outputs(result["big"], 1)
    _check_outputs(result["wide"], 2)
    _check_outputs(result["bytes"], 2)
    # Normalised boxes refer to the original image: a 2x upscaled copy gives the same boxes.
    for key in ("detection_boxes", "detection_scores", "detection_classes"):
        np.testing.assert_allclose(result["big"][key], result["small"][key], atol=1e-4)
        np.testing.assert_allclose(result["bytes"][key][0], result["small"][key][0], atol=1e-4)  # PNG: lossless


def test_fine_tune_from_the_export_with_other_classes(exported):
    source, out, prefix = exported
    config = ssd_proto(num_classes=5, size=64)
    target = registry.build_detector(config).model
    report = restore.restore(target, out, "detection", pipeline_proto=config)
    assert report.checkpoint.startswith(os.path.join(out, "checkpoint"))
    assert report.network_check == f"network settings equal to {os.path.join(out, 'assets', 'pipeline.config')}"
    assert {item["module"] for item in report.reinitialized} == {"head_class"}
    assert report.restored["head_box"] == 3 and report.restored["backbone"] > 100
    reader = tf.train.load_checkpoint(prefix)
    predictor = target._box_predictor  # pylint: disable=protected-access
    box_conv = predictor._box_prediction_head._box_encoder_layers[0]  # pylint: disable=protected-access
    np.testing.assert_array_equal(box_conv.pointwise_kernel.numpy(), reader.get_tensor(
        "model/_box_predictor/_box_prediction_head/_box_encoder_layers/0/pointwise_kernel/.ATTRIBUTES/VARIABLE_VALUE"))
    class_conv = predictor._prediction_heads["class_predictions_with_background"]._class_predictor_layers[0]  # pylint: disable=protected-access
    assert class_conv.bias.shape[0] == 6 * 6
    del source
