"""A zoo CenterNet Keypoints checkpoint in detflow computes the OD API's keypoints.

The oracle wrote `center_net_resnet50_v1_fpn_kpts_128` from the zoo's CenterNet ResNet-50 V1 FPN Keypoints
512x512 config as shipped (COCO's 17 person keypoints; its keypoint label map tests/data/label_maps'), at 128:
random weights in the OD API's layout, with heads scaled so that some detections are persons and some of their
regressed keypoints snap to heatmap candidates. detflow's network restores it and must give the OD API's
keypoint heads, keypoints and keypoint scores: as configured (90 classes: the OD API's multi-class keypoint
post-processing), with other post-processing switches, and as a one-class model (its single-class one).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from detection.architectures import registry
from detection.architectures.center_net import keypoint_targets
from detection.architectures.center_net import keypoints as kp_lib
from detection.checkpoints import restore
from detection.serving import export
from tests.zoo.fixtures import (CENTER_NET_KEYPOINT_ARCHITECTURES, assert_close, assert_detections_match, fixture,
                                reference, zoo_config)

NAME, = CENTER_NET_KEYPOINT_ARCHITECTURES
KEYPOINT_HEADS = ("human_pose/keypoint/heatmap", "human_pose/keypoint/regression", "human_pose/keypoint/offset")
KEYPOINT_OUTPUTS = ("detection_keypoints", "detection_keypoint_scores", "detection_scores")


@pytest.fixture(scope="module")
def restored():
    """(bundle restored with `full`, its report, the OD API's tensors, detflow's predictions on its input)."""
    config = zoo_config(NAME)
    bundle = registry.build_detector(config.proto)
    report = restore.restore(bundle.model, str(fixture(NAME)), "full", pipeline_proto=config.proto)
    ref = reference(NAME)
    return bundle, report, ref, bundle.model(ref["preprocessed"], training=False)


def _postprocess(model, predictions, ref, **task_changes):
    settings = model.settings
    tasks = tuple(t.replace_post(**task_changes) for t in settings.keypoint_tasks)
    model.settings = dataclasses.replace(settings, keypoint_tasks=tasks)
    try:
        return model.postprocess(predictions, tf.constant(ref["true_image_shapes"]))
    finally:
        model.settings = settings


def test_every_variable_restores_and_the_keypoint_heads_are_their_own_modules(restored):
    bundle, report, _, _ = restored
    reader = tf.train.load_checkpoint(str(fixture(NAME) / "checkpoint" / "ckpt-0"))
    keys = [k for k in reader.get_variable_to_shape_map() if k.startswith("model/") and k.endswith("VALUE")]
    assert report.num_restored == len(keys) == len(bundle.model.variables)
    assert not report.reinitialized
    assert {m: n for m, n in report.restored.items() if m.startswith("head_keypoint")} == {
        "head_keypoint_heatmap": 4, "head_keypoint_regression": 4, "head_keypoint_offset": 4}


def test_the_keypoint_task_is_the_label_maps(restored):
    """The OD API's builder: the class by item name (`/m/01g317`, id 1 → class 0), its 17 keypoints in the item's
    order, each std from keypoint_label_to_std."""
    task, = restored[0].model.settings.keypoint_tasks
    assert (task.task_name, task.class_id, task.num_keypoints) == ("human_pose", 0, 17)
    assert task.keypoint_labels[:3] == ("nose", "left_eye", "right_eye")
    assert task.keypoint_std_dev[:3] == pytest.approx((0.26, 0.25, 0.25))
    assert task.heads.per_keypoint_offset and task.losses.offset_peak_radius == 3


def test_keypoint_heads_and_keypoints_equal_the_od_api(restored):
    """The three heads; then every detection's keypoints and scores (the persons' snapped or regressed, the
    other classes' zero), and the detection scores, bit for bit up to 1e-4 x max."""
    bundle, _, ref, out = restored
    for head in KEYPOINT_HEADS:
        assert_close(out[head][-1], ref[head.replace("/", "_")], head)
    detections = bundle.model.postprocess(out, tf.constant(ref["true_image_shapes"]))
    for key in KEYPOINT_OUTPUTS:
        assert_close(detections[key], ref[key], key)
    scores = ref["detection_keypoint_scores"]
    # What the references hold: persons among the detections, snapped keypoints (score > the unmatched 0.1) and
    # unmatched ones.
    assert (scores > 0.1).sum() > 10 and (scores == np.float32(0.1)).sum() > 10


def test_post_processing_switches_equal_the_od_api(restored):
    """clip_out_of_frame_keypoints, rescore_instances (threshold 0.3) and the score_distance_ratio ranking."""
    bundle, _, ref, out = restored
    got = _postprocess(bundle.model, out, ref, clip_out_of_frame_keypoints=True, rescore_instances=True,
                       rescoring_threshold=0.3, candidate_ranking_mode="score_distance_ratio")
    for key in KEYPOINT_OUTPUTS:
        assert_close(got[key], ref[f"variant_{key}"], f"variant {key}")
    assert not np.array_equal(ref["variant_detection_scores"], ref["detection_scores"])


def test_a_one_class_model_gives_every_detection_keypoints_as_the_od_api(restored):
    """The OD API's single-class path (one task, one class): keypoints for every peak, valid or not."""
    bundle, _, ref, out = restored
    model = bundle.model
    one_class = {**out, "object_center": [p[..., :1] for p in out["object_center"]]}
    settings = model.settings
    model.num_classes = 1
    model.settings = dataclasses.replace(settings, num_classes=1)
    try:
        got = model.postprocess(one_class, tf.constant(ref["true_image_shapes"]))
    finally:
        model.num_classes, model.settings = settings.num_classes, settings
    for key in (*KEYPOINT_OUTPUTS, "detection_boxes", "num_detections"):
        assert_close(got[key], ref[f"single_{key}"], f"one class: {key}")


def test_the_candidates_of_a_keypoint_type_are_its_heatmap_peaks():
    """Per keypoint type, the top peaks of its own channel, with its own offset (per_keypoint_offset)."""
    heatmap = np.zeros((1, 4, 4, 2), np.float32)
    heatmap[0, 1, 2, 0], heatmap[0, 3, 0, 1], heatmap[0, 0, 0, 1] = 0.9, 0.8, 0.3
    offsets = np.zeros((1, 4, 4, 4), np.float32)
    offsets[0, 1, 2] = [0.25, 0.5, 9.0, 9.0]
    offsets[0, 3, 0] = [9.0, 9.0, -0.5, 0.25]
    task = kp_lib.KeypointTask("t", 0, (0, 1), ("a", "b"), (1.0, 1.0),
                               post=kp_lib.KeypointPostprocessing(num_candidates_per_keypoint=2))
    candidates, scores, num = kp_lib.keypoint_candidates(tf.constant(heatmap), tf.constant(offsets), task)
    np.testing.assert_allclose(candidates.numpy()[0, 0], [[1.25, 2.5], [2.5, 0.25]])
    np.testing.assert_allclose(scores.numpy()[0], [[0.9, 0.8], [0.0, 0.3]])
    np.testing.assert_array_equal(num.numpy(), [[1, 2]])


@pytest.mark.long
def test_exported_serving_default_gives_the_od_api_exporters_keypoints(restored, tmp_path):
    """detflow's SavedModel on each uint8 image vs the OD API's exporter: the keypoints normalised to the
    original image, their scores, beside the boxes (5e-4: grappler rounds both SavedModels differently)."""
    bundle, _, ref, _ = restored
    config = zoo_config(NAME)
    out = export.export_saved_model(bundle, None, config.text, None, str(tmp_path / NAME))
    serve = tf.saved_model.load(out).signatures["serving_default"]
    got = [serve(input_tensor=tf.constant(image[None])) for image in ref["images"]]
    served = {key: np.concatenate([g[key].numpy() for g in got]) for key in (
        "detection_boxes", "detection_scores", "detection_classes", "num_detections", "detection_keypoints",
        "detection_keypoint_scores")}
    assert_detections_match(served, ref, "serving_default", prefix="serving_", box_tolerance=5e-4)
    np.testing.assert_allclose(served["detection_keypoints"], ref["serving_detection_keypoints"], atol=5e-4)
    np.testing.assert_allclose(served["detection_keypoint_scores"], ref["serving_detection_keypoint_scores"],
                               atol=5e-4)


def test_keypoint_targets_and_losses_equal_the_od_api():
    """The OD API's `loss` on two images (the second's true shape 3/4 of the input): persons with 17 keypoints,
    a third of them not labelled (NaN), among objects of other classes: the same keypoint heatmaps, the same
    blacked-out boxes, and the same heatmap, offset (per keypoint, within radius 3) and regression losses."""
    config = zoo_config(NAME)
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(NAME)), "full", pipeline_proto=config.proto)
    with np.load(fixture(NAME) / "loss_reference.npz") as data:
        ref = {k: data[k] for k in data.files}
    # Padded as the input pipeline pads: boxes 0, classes -1, keypoints NaN.
    boxes, classes = np.zeros((2, 8, 4), np.float32), -np.ones((2, 8), np.int32)
    keypoints = np.full((2, 8, 17, 2), np.nan, np.float32)
    for i in range(2):
        count = len(ref[f"classes_{i}"])
        boxes[i, :count], classes[i, :count] = ref[f"boxes_{i}"], ref[f"classes_{i}"]
        keypoints[i, :count] = ref[f"keypoints_{i}"]
    labels = {"groundtruth_boxes": tf.constant(boxes), "groundtruth_classes": tf.constant(classes),
              "groundtruth_keypoints": tf.constant(keypoints),
              "image_shape": tf.constant(ref["true_image_shapes"][:, :2], tf.float32)}
    task, = bundle.model.settings.keypoint_tasks
    size = ref["human_pose_heatmap_targets"].shape[1]
    absolute, weights = keypoint_targets.task_keypoints(labels["groundtruth_keypoints"], labels["groundtruth_classes"],
                                                        task, size, size)
    heat, valid = keypoint_targets.heatmap_targets(labels["groundtruth_boxes"], absolute, weights, task, size, size)
    np.testing.assert_allclose(heat.numpy(), ref["human_pose_heatmap_targets"], atol=1e-6)
    np.testing.assert_array_equal(valid.numpy(), ref["human_pose_valid_mask"])
    assert 0 < valid.numpy().mean() < 1          # boxes of other classes black out some cells
    out = registry.task_for(bundle).losses(bundle.model, bundle.preprocess(tf.constant(ref["images"])), labels)
    for ours, theirs in (("keypoint_heatmap_loss", "Loss_human_pose_keypoint_heatmap"),
                         ("keypoint_offset_loss", "Loss_human_pose_keypoint_offset"),
                         ("keypoint_regression_loss", "Loss_human_pose_keypoint_regression"),
                         ("center_loss", "Loss_object_center"), ("scale_loss", "Loss_box_scale"),
                         ("offset_loss", "Loss_box_offset")):
        assert float(out[ours]) == pytest.approx(float(ref[theirs]), rel=1e-4), ours
    assert float(out["loss"]) == pytest.approx(sum(float(ref[k]) for k in ref if k.startswith("Loss_")), rel=1e-4)
