"""The Evaluator's keypoint metrics on a real exported CenterNet with a keypoint task, end to end.

The model is the honoured-field probes' 64-px MobileNetV2 FPN CenterNet whose class c1 has three keypoints
(tests/schemas/probe_kit.py, label map tests/data/label_maps/probe_keypoints.pbtxt), untrained, exported
as the Trainer exports (`export_saved_model`) with `eval_config.parameterized_metric` asking for c1's
keypoint AP. Its AP is not the point: that the Evaluator reads the records' keypoints and the model's, that
the numbers are pycocotools' on what the SavedModel itself gives for the same images, and that a keypoint
metric blesses (or is refused for a model without keypoints) through the Executor.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from google.protobuf import text_format
from tfx.types import standard_artifacts

from components.evaluator import model_eval
from components.evaluator.executor import Executor
from components.evaluator.keypoint_metrics import keypoint_setup
from components.evaluator.parameters import EvaluatorParameters
from components.names import (BLESSING_KEY, EVALUATION_KEY, EXAMPLES_KEY, METRIC_VALUE_PROPERTY, MODEL_KEY)
from schemas import example_format as ef
from schemas.label_map import load_label_map
from schemas.protos import pipeline_pb2
from tests.evaluator import tiny
from tests.evaluator.test_keypoint_metrics import _pycocotools_stats, _reference_coco, STATS
from tests.schemas import probe_kit

pytestmark = pytest.mark.long

LABEL_MAP = str(probe_kit.LABEL_MAPS / "probe_keypoints.pbtxt")
METRIC = "Keypoints_Precision/mAP@.50IOU ByCategory/c1"
SIGMAS = {"a": 0.5, "b": 0.3, "c": 0.8}
K = 3


def _config_text() -> str:
    proto = text_format.Parse(probe_kit._center_net_keypoints_text(), pipeline_pb2.TrainEvalPipelineConfig())
    metric = proto.eval_config.parameterized_metric.add().coco_keypoint_metrics
    metric.class_label = "c1"
    metric.keypoint_label_to_sigmas.update(SIGMAS)
    return text_format.MessageToString(proto)


def _example(rng, name: str, image: np.ndarray, given: dict) -> tuple[bytes, dict]:
    """A tf.Example of `image` whose c1 objects lie near c1 detections the model `given` for it (so its AP is
    neither 0 nor 1), with objects of classes 2 and 3 and keypoints not labelled; and its arrays."""
    height, width = image.shape[:2]
    near = [i for i in np.flatnonzero(given["classes"] == 1)[:3] if rng.uniform() < 0.8]
    count = len(near) + 2
    points = np.concatenate([given["keypoints"][near] + rng.normal(0, 0.02, (len(near), K, 2)),
                             rng.uniform(0.1, 0.9, (2, K, 2))]).clip(0, 1)
    boxes = np.concatenate([points.min(axis=1) - 0.05, points.max(axis=1) + 0.05], axis=1).clip(0, 1)
    classes = np.concatenate([np.ones(len(near), np.int64), rng.integers(2, 4, 2)])
    visibility = rng.choice([0, 1, 2], (count, K), p=[0.2, 0.2, 0.6])
    area = np.full(count, 0.1 * height * width)
    floats = lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(v).tolist()))  # noqa: E731
    ints = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(v).tolist()))  # noqa: E731
    feature = {
        ef.IMAGE_ENCODED: tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.encode_png(image).numpy()])),
        ef.IMAGE_FORMAT: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"png"])),
        ef.SOURCE_ID: tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()])),
        ef.HEIGHT: ints([height]), ef.WIDTH: ints([width]),
        ef.BBOX_YMIN: floats(boxes[:, 0]), ef.BBOX_XMIN: floats(boxes[:, 1]),
        ef.BBOX_YMAX: floats(boxes[:, 2]), ef.BBOX_XMAX: floats(boxes[:, 3]), ef.CLASS_LABEL: ints(classes),
        ef.AREA: floats(area), ef.KEYPOINT_Y: floats(points[..., 0]), ef.KEYPOINT_X: floats(points[..., 1]),
        ef.KEYPOINT_VISIBILITY: ints(visibility),
    }
    arrays = {"image": image, "boxes": boxes, "classes": classes, "is_crowd": np.zeros(count, np.int64),
              "area": area, "keypoints": points, "labelled": visibility > 0}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(), arrays


def _direct_outputs(export_dir: str, images: list) -> list[dict]:
    """What the SavedModel gives for each image, called one by one outside the Evaluator."""
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    found = []
    for image in images:
        out = serve(input_tensor=tf.constant(image[None]))
        m = int(out["num_detections"][0])
        found.append({"classes": np.rint(out["detection_classes"][0][:m].numpy()).astype(np.int64),
                      "scores": out["detection_scores"][0][:m].numpy(),
                      "keypoints": out["detection_keypoints"][0][:m].numpy()})
    return found


def _favour_c1(model) -> None:
    """Raises the untrained model's c1 centre bias, so that most of its detections are c1's (keypoints)."""
    for net in model._prediction_head_dict["object_center"]:
        bias = net.trainable_variables[-1]
        assert bias.shape == (3,), bias.name
        bias.assign_add([2.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(examples uri, Model uri, the records' arrays, the model's own outputs for them) of the exported
    CenterNet and 10 eval images of two sizes."""
    from detection.architectures import registry
    from detection.serving import export

    root = tmp_path_factory.mktemp("keypoint_evaluator")
    text = _config_text()
    tf_keras.utils.set_random_seed(0)
    bundle = registry.build_detector(text_format.Parse(text, pipeline_pb2.TrainEvalPipelineConfig()))
    _favour_c1(bundle.model)
    export_dir = export.export_saved_model(bundle, LABEL_MAP, text, None, str(root / "model" / "Format-Serving"))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, ((64, 64), (48, 80))[n % 2] + (3,), dtype=np.uint8) for n in range(10)]
    direct = _direct_outputs(export_dir, images)
    records = [_example(rng, f"kp{n}", image, given) for n, (image, given) in enumerate(zip(images, direct))]
    for split in ("train", "eval"):
        os.makedirs(root / "examples" / f"Split-{split}")
        with tf.io.TFRecordWriter(str(root / "examples" / f"Split-{split}" / "data.gz"), "GZIP") as writer:
            for serialized, _ in records:
                writer.write(serialized)
    return str(root / "examples"), str(root / "model"), [arrays for _, arrays in records], direct


def test_the_evaluator_collects_the_models_keypoints_and_scores_them_as_pycocotools(setup):
    examples, model, arrays, direct = setup
    export_dir = os.path.join(model, "Format-Serving")
    detector = model_eval.load_detector(export_dir)
    keypoints = model_eval.keypoint_setup(detector, LABEL_MAP)
    assert keypoints == keypoint_setup(text_format.Parse(_config_text(), pipeline_pb2.TrainEvalPipelineConfig()),
                                       load_label_map(LABEL_MAP), keypoints.config_path)
    assert keypoints.num_keypoints == K and keypoints.classes[0].sigmas == pytest.approx((0.5, 0.3, 0.8))
    accumulators, _ = model_eval.evaluate_exports(
        model_eval.split_files(examples, "eval"), {"candidate": export_dir}, model_eval.read_label_map(LABEL_MAP),
        batch_size=4, detectors={"candidate": detector}, keypoints=keypoints)
    result = accumulators["candidate"].result()

    images = [(a["image"].shape[0], a["image"].shape[1], a, d) for a, d in zip(arrays, direct)]
    klass = keypoints.classes[0]
    gt, dt = _reference_coco(images, klass)             # from the records' arrays and the model's own outputs
    assert len(dt) >= 5 and len(gt["annotations"]) >= 5
    collected_gt, collected_dt = accumulators["candidate"].keypoints.to_coco(klass)
    ours = [result.metrics[f"{s} ByCategory/c1"] for s in STATS]
    np.testing.assert_allclose(ours, _pycocotools_stats(collected_gt, collected_dt, klass.sigmas), rtol=0, atol=1e-12)
    assert 0 < ours[1] < 1
    # What the Evaluator collected (its images grouped by size) is what the records hold and the SavedModel gives
    # (batched by 4 there, one by one here: float noise only), so pycocotools on the latter agrees but for ties.
    first = gt["images"][0]["id"]                                                      # the reference's image ids
    order = [int(record.key[2:]) + first for record in accumulators["candidate"].images]     # "kpN" -> its id
    for collected, reference, by_image in ((collected_dt, dt, _by_image), (collected_gt["annotations"],
                                                                           gt["annotations"], _labelled_by_image)):
        found, expected = by_image(collected), by_image(reference)
        assert sorted(found) == sorted(i + 1 for i in range(len(order)) if order[i] in expected)
        for image_id, rows in found.items():
            np.testing.assert_allclose(rows, expected[order[image_id - 1]], atol=1e-2)
    np.testing.assert_allclose(ours, _pycocotools_stats(gt, dt, klass.sigmas), atol=5e-3)
    assert result.metrics["DetectionBoxes_Precision/mAP"] >= 0        # the box metrics beside them


def _by_image(results: list) -> dict[int, np.ndarray]:
    """Per image id, its detections' [score, x..., y...] sorted by score."""
    rows: dict[int, list] = {}
    for d in results:
        rows.setdefault(d["image_id"], []).append([d["score"], *d["keypoints"][0::3], *d["keypoints"][1::3]])
    return {i: np.asarray(sorted(r)) for i, r in rows.items()}


def _labelled_by_image(annotations: list) -> dict[int, np.ndarray]:
    """Per image id, its objects' labelled keypoints [x, y, v]... (0 where not labelled), in order."""
    rows: dict[int, list] = {}
    for a in annotations:
        points = np.asarray(a["keypoints"]).reshape(-1, 3)
        rows.setdefault(a["image_id"], []).append(np.where(points[:, 2:] > 0, points, 0).ravel())
    return {i: np.asarray(r) for i, r in rows.items()}


def _artifacts(examples: str, model: str, out: str) -> tuple[dict, dict]:
    records = standard_artifacts.Examples()
    records.uri, records.split_names = examples, '["train", "eval"]'
    candidate = standard_artifacts.Model()
    candidate.uri = model
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = os.path.join(out, "evaluation"), os.path.join(out, "blessing")
    return {EXAMPLES_KEY: [records], MODEL_KEY: [candidate]}, {EVALUATION_KEY: [evaluation], BLESSING_KEY: [blessing]}


def test_a_keypoint_metric_blesses_through_the_executor(setup, tmp_path):
    examples, model, _, _ = setup
    inputs, outputs = _artifacts(examples, model, str(tmp_path))
    parameters = EvaluatorParameters(min_map=0.0, metric=METRIC, num_images_drawn=1, batch_size=4)
    Executor().Do(inputs, outputs, parameters.to_exec_properties())
    evaluation, blessing = outputs[EVALUATION_KEY][0], outputs[BLESSING_KEY][0]
    document = json.loads(open(os.path.join(evaluation.uri, "metrics.json")).read())
    value = document["metrics"][METRIC]
    assert document["metric"] == METRIC and 0 <= value <= 1
    assert evaluation.get_float_custom_property(METRIC) == pytest.approx(value)
    assert blessing.get_float_custom_property(METRIC_VALUE_PROPERTY) == pytest.approx(value)
    assert document["judgement"]["blessed"] or not document["health"]["healthy"]
    assert f"candidate {METRIC} {value:.4f} >= min_map" in document["judgement"]["reasons"][0]
    summary = open(os.path.join(evaluation.uri, "summary.txt")).read()
    assert f"{METRIC}" in summary and "(AP at OKS .50)" in summary and "DetectionBoxes_Precision/mAP" in summary


def test_a_keypoint_metric_is_refused_for_a_model_without_keypoints(setup, tmp_path):
    examples, _, _, _ = setup
    plain = tiny.write_model(str(tmp_path / "plain"))
    inputs, outputs = _artifacts(examples, plain, str(tmp_path))
    parameters = EvaluatorParameters(metric=METRIC)
    with pytest.raises(ValueError, match="is a keypoint metric, but the model .* has no keypoint metrics: its "
                                         "pipeline.config asks for none"):
        Executor().Do(inputs, outputs, parameters.to_exec_properties())
