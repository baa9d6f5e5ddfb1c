"""EfficientDet to TFLite: the zoo's D0 network (the oracle's fixture) as the OD API exports it for TFLite.

The OD API exports EfficientDet to TFLite with a fixed_shape_resizer (its TFLite exporter refuses any other
resizer) and a class head without a background column, which `TFLite_Detection_PostProcess` takes as a label
offset of 0. Here the D0 fixture's config gets a 256x256 fixed_shape_resizer, is restored with `full` and
written as float and int8 .tflite files: the float file's detections equal those of the SavedModel's
serving code (`export.DetectionModule`, run here without the save, whose equality with the OD API's
exporter tests/zoo/test_zoo_parity.py checks) within the tolerance of the other SSDs' TFLite test, class 1
comes out (no column is read as a background), the metadata carries EfficientNet's normalisation, and the
int8 file runs on uint8 pixels.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from detection.architectures import registry
from detection.checkpoints import restore
from detection.serving import export, model_runner, tflite_export, tflite_metadata
from schemas.pipeline_config import parse_pipeline_config_text
from tests.detection import records
from tests.zoo.fixtures import fixture, reference, zoo_config

ZOO = "ssd_efficientdet_d0_256"
SIZE = 256
KEYS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")
pytestmark = pytest.mark.slow


def _fixed_shape_config() -> str:
    """The fixture's D0 config with the resizer the OD API's TFLite export needs."""
    proto = zoo_config(ZOO).proto
    proto.model.ssd.image_resizer.fixed_shape_resizer.height = SIZE
    proto.model.ssd.image_resizer.fixed_shape_resizer.width = SIZE
    from google.protobuf import text_format  # pylint: disable=import-outside-toplevel
    return text_format.MessageToString(proto)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(the serving module, {quantize mode: TfliteExport}, the fixture's images)."""
    root = tmp_path_factory.mktemp("efficientdet_tflite")
    text = _fixed_shape_config()
    config = parse_pipeline_config_text(text, "d0_fixed.config")
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(ZOO)), "full", pipeline_proto=config.proto)
    # The fixture's random weights saturate the sigmoid: hundreds of scores of exactly 1.0 per image, which
    # no two NMS implementations keep in the same order. Its class predictor scaled down spreads the scores.
    [kernel] = [v for v in bundle.model.variables if v.name.endswith("ClassPredictor/pointwise_kernel:0")]
    kernel.assign(kernel * 0.05)
    # Column 0 of every anchor's class scores (class 1) raised: an op that read it as a background would drop
    # the best detections.
    [bias] = [v for v in bundle.model.variables if v.name.endswith("ClassPredictor/bias:0")]
    num_classes = config.proto.model.ssd.num_classes
    bias.assign(bias + tf.cast(tf.range(bias.shape[0]) % num_classes == 0, tf.float32) * 1.5)
    pattern = records.write_records(str(root / "records"), num_images=4, size=128, shards=1)
    labels = [f"class {i}" for i in range(1, num_classes + 1)]
    files = {q: tflite_export.write_tflite(bundle, labels, str(root / f"d0_{q}.tflite"), q,
                                           pattern if q == "int8" else None, representative_size=4)
             for q in ("none", "int8")}
    return export.DetectionModule(bundle), files, reference(ZOO)["images"]


def _detections(module, tflite: str, images: np.ndarray) -> tuple[dict, dict]:
    serve = module.serve_tensor
    runner = model_runner.load_model(tflite)
    want = [{k: v.numpy() for k, v in serve(input_tensor=tf.constant(image[None])).items()} for image in images]
    got = [runner(image[None]) for image in images]
    return ({k: np.concatenate([w[k] for w in want]) for k in KEYS},
            {k: np.concatenate([np.asarray(g[k]) for g in got]) for k in KEYS})


def test_the_float_file_detects_what_the_serving_code_detects(exported):
    module, files, images = exported
    want, got = _detections(module, files["none"].path, images)
    compared = 0
    for b in range(len(images)):
        n = int(want["num_detections"][b])
        assert int(got["num_detections"][b]) == n and n > 0
        np.testing.assert_allclose(got["detection_scores"][b, :n], want["detection_scores"][b, :n], atol=1e-3)
        # Near-tied scores may come out in either order: each SavedModel detection is found in the file's with
        # its class, its box within 1e-3 and its score within 1e-3.
        for i in range(n):
            same = ((got["detection_classes"][b, :n] == want["detection_classes"][b, i])
                    & (np.abs(got["detection_boxes"][b, :n] - want["detection_boxes"][b, i]).max(1) <= 1e-3)
                    & (np.abs(got["detection_scores"][b, :n] - want["detection_scores"][b, i]) <= 1e-3))
            assert same.any(), (b, i, want["detection_classes"][b, i], want["detection_scores"][b, i])
        compared += n
    assert compared >= 100
    # No background column: the op's label offset is 0, so class 1 (the head's column 0, raised above) is
    # detected as in the SavedModel, not dropped as a background would be.
    for b in range(len(images)):
        assert (got["detection_classes"][b, :10] == 1).sum() >= 5, got["detection_classes"][b, :10]


def test_the_metadata_carries_efficientnets_normalisation(exported):
    _, files, _ = exported
    with open(files["none"].path, "rb") as f:
        mean, std = tflite_metadata.normalization_of(tflite_metadata.read_metadata(f.read()))
    # (x / 255 - ImageNet mean) / ImageNet std, in pixel units.
    np.testing.assert_allclose(mean, [0.485 * 255, 0.456 * 255, 0.406 * 255], rtol=1e-5)
    np.testing.assert_allclose(std, [0.229 * 255, 0.224 * 255, 0.225 * 255], rtol=1e-5)


def test_the_int8_file_runs_on_uint8_pixels(exported):
    _, files, images = exported
    result = files["int8"]
    assert result.input_dtype == "uint8" and result.input_shape == [1, SIZE, SIZE, 3]
    assert result.size_bytes < files["none"].size_bytes / 2
    runner = model_runner.load_model(result.path)
    out = runner(images[:1])
    n = int(out["num_detections"][0])
    assert n > 0 and np.all((out["detection_boxes"][0, :n] >= 0) & (out["detection_boxes"][0, :n] <= 1))
    assert np.all((out["detection_classes"][0, :n] >= 1) & (out["detection_classes"][0, :n] <= 90))
