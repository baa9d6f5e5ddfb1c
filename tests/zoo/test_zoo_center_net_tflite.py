"""CenterNet MobileNetV2 FPN to TFLite: the zoo's fastest model as the OD API's `CenterNetModule` exports it.

The OD API exports CenterNet to TFLite with a fixed_shape_resizer (its exporter refuses any other resizer), the
network and its own post-processing in builtin ops, classes 0-based. Here the oracle's MobileNetV2 FPN fixture's
config gets a 128x128 fixed_shape_resizer, is restored with `full` and written as float and int8 .tflite
files: the float file's detections equal those of the SavedModel's serving code (`export.DetectionModule`,
whose equality with the OD API's exporter tests/zoo/test_zoo_center_net.py checks), the metadata carries
MobileNetV2's normalisation, and the int8 file runs on uint8 pixels. A keep-aspect config is refused naming
the resizer to use.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from google.protobuf import text_format

from detection.architectures import registry
from detection.checkpoints import restore
from detection.serving import export, model_runner, tflite_export, tflite_metadata
from schemas.pipeline_config import parse_pipeline_config_text
from schemas.problems import ProblemsError
from schemas.protos import pipeline_pb2
from tests.detection import records
from tests.zoo.fixtures import fixture, reference, zoo_config

ZOO = "center_net_mobilenet_v2_fpn_128"
SIZE = 128
KEYS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")
pytestmark = [pytest.mark.slow, pytest.mark.long]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(the serving module, {quantize mode: TfliteExport}, the fixture's images)."""
    root = tmp_path_factory.mktemp("center_net_tflite")
    proto = zoo_config(ZOO).proto
    proto.model.center_net.image_resizer.fixed_shape_resizer.height = SIZE
    proto.model.center_net.image_resizer.fixed_shape_resizer.width = SIZE
    config = parse_pipeline_config_text(text_format.MessageToString(proto), "center_net_fixed.config")
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(ZOO)), "full", pipeline_proto=config.proto)
    pattern = records.write_records(str(root / "records"), num_images=4, size=128, shards=1)
    labels = [f"class {i}" for i in range(1, config.proto.model.center_net.num_classes + 1)]
    files = {q: tflite_export.write_tflite(bundle, labels, str(root / f"center_net_{q}.tflite"), q,
                                           pattern if q == "int8" else None, representative_size=4)
             for q in ("none", "int8")}
    return export.DetectionModule(bundle), files, reference(ZOO)["images"]


def test_the_float_file_detects_what_the_serving_code_detects(exported):
    module, files, images = exported
    runner = model_runner.load_model(files["none"].path)
    for image in images:
        want = {k: v.numpy() for k, v in module.serve_tensor(input_tensor=tf.constant(image[None])).items()}
        got = {k: np.asarray(v) for k, v in runner(image[None]).items()}
        n = int(want["num_detections"][0])
        assert n == 20 and int(got["num_detections"][0]) == n          # the config's max_box_predictions
        np.testing.assert_allclose(got["detection_scores"][0, :n], want["detection_scores"][0, :n], atol=1e-4)
        np.testing.assert_array_equal(got["detection_classes"][0, :n], want["detection_classes"][0, :n])
        np.testing.assert_allclose(got["detection_boxes"][0, :n], want["detection_boxes"][0, :n], atol=1e-4)


def test_the_metadata_carries_mobilenets_normalisation(exported):
    _, files, _ = exported
    with open(files["none"].path, "rb") as f:
        mean, std = tflite_metadata.normalization_of(tflite_metadata.read_metadata(f.read()))
    np.testing.assert_allclose(mean, [127.5] * 3, rtol=1e-5)          # x / 127.5 - 1
    np.testing.assert_allclose(std, [127.5] * 3, rtol=1e-5)


def test_the_int8_file_runs_on_uint8_pixels(exported):
    _, files, images = exported
    result = files["int8"]
    assert result.input_dtype == "uint8" and result.input_shape == [1, SIZE, SIZE, 3]
    assert result.size_bytes < files["none"].size_bytes / 2
    out = model_runner.load_model(result.path)(images[:1])
    n = int(out["num_detections"][0])
    assert n > 0 and np.all((out["detection_boxes"][0, :n] >= 0) & (out["detection_boxes"][0, :n] <= 1))
    assert np.all((out["detection_classes"][0, :n] >= 1) & (out["detection_classes"][0, :n] <= 90))


def test_a_keep_aspect_ratio_center_net_is_refused_naming_the_resizer(tmp_path):
    config = zoo_config(ZOO)
    bundle = registry.build_detector(config.proto)
    with pytest.raises(ProblemsError, match="model.center_net.image_resizer: TFLite needs a fixed input size: use "
                                            "fixed_shape_resizer"):
        tflite_export.write_tflite(bundle, ["a"] * 90, str(tmp_path / "x.tflite"))


def test_a_center_net_with_nms_post_processing_is_refused_before_training():
    """The OD API's NMS is not a TFLite builtin: refused from the config, before anything is trained."""
    proto = zoo_config(ZOO).proto
    proto.model.center_net.image_resizer.fixed_shape_resizer.height = SIZE
    proto.model.center_net.image_resizer.fixed_shape_resizer.width = SIZE
    proto.model.center_net.post_processing.batch_non_max_suppression.change_coordinate_frame = False
    with pytest.raises(ProblemsError, match="model.center_net.post_processing: TFLite has no builtin op for "
                                            "CenterNet's NMS"):
        tflite_export.check_config_exportable(proto, "pipeline.config")


def test_a_keypoint_model_exports_its_keypoints_as_the_serving_code(tmp_path):
    """A CenterNet with a keypoint task (the probes' 64-px MobileNetV2 FPN, class c1's three keypoints, made one
    class: the OD API's TFLite keypoint path) gives six outputs: the boxes' four, then its keypoints and their
    scores, equal to the SavedModel serving code's."""
    from tests.schemas.probe_kit import BASES
    proto = text_format.Parse(BASES["centernet_kpts"](), pipeline_pb2.TrainEvalPipelineConfig())
    cn = proto.model.center_net
    cn.num_classes = 1
    cn.image_resizer.Clear()
    cn.image_resizer.fixed_shape_resizer.height = cn.image_resizer.fixed_shape_resizer.width = 64
    tf_keras.utils.set_random_seed(1)
    bundle = registry.build_detector(proto)
    result = tflite_export.write_tflite(bundle, ["c1"], str(tmp_path / "keypoints.tflite"))
    with open(result.path, "rb") as f:
        names = tflite_metadata.output_names(tflite_metadata.read_metadata(f.read()))
    assert names == ["location", "category", "score", "number of detections", "keypoints", "keypoint scores"]
    module = export.DetectionModule(bundle)
    image = np.random.default_rng(0).integers(0, 255, (1, 64, 64, 3), dtype=np.uint8)
    want = {k: v.numpy() for k, v in module.serve_tensor(input_tensor=tf.constant(image)).items()}
    got = {k: np.asarray(v) for k, v in model_runner.load_model(result.path)(image).items()}
    n = int(want["num_detections"][0])
    assert n == int(got["num_detections"][0]) > 0
    np.testing.assert_allclose(got["detection_keypoints"][0, :n], want["detection_keypoints"][0, :n], atol=1e-4)
    np.testing.assert_allclose(got["detection_keypoint_scores"][0, :n], want["detection_keypoint_scores"][0, :n],
                               atol=1e-4)
