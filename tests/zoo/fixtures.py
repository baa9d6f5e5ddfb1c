"""The oracle's zoo-layout fixtures (`make oracle`): where they are and how to compare against them."""
from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

from schemas.pipeline_config import parse_pipeline_config_text

REPO = pathlib.Path(__file__).resolve().parents[2]
ROOT = pathlib.Path(os.environ.get("DETFLOW_ZOO_FIXTURES", REPO / ".cache" / "zoo-fixtures"))
# Architecture → whether the oracle wrote a classification checkpoint for it.
ALL_SSD = {
    "ssd_mobilenet_v2_fpnlite_320": True,
    "ssd_mobilenet_v2_320": False,
    "ssd_mobilenet_v1_fpn_320": True,
    "ssd_resnet50_v1_fpn_320": True,
    "ssd_resnet101_v1_fpn_256": False,
    "ssd_efficientdet_d0_256": True,
    "ssd_efficientdet_d7_256": False,
}
# Checked on demand only (`make zoo-large`, which writes them to .cache/zoo-fixtures-large and names them in
# DETFLOW_ZOO_ONLY): networks too large for `make test`'s time.
LARGE = ("ssd_efficientdet_d7_256", "center_net_hourglass104_256")
_ONLY = [n for n in os.environ.get("DETFLOW_ZOO_ONLY", "").split(",") if n]
# The SSD fixtures the tests check: `make test`'s, or those DETFLOW_ZOO_ONLY names.
ARCHITECTURES = ({n: ALL_SSD[n] for n in _ONLY if n in ALL_SSD} if _ONLY
                 else {n: c for n, c in ALL_SSD.items() if n not in LARGE})
# The OD API's Faster R-CNN fixtures (same layout; their own tests, tests/zoo/test_zoo_faster_rcnn.py).
FASTER_RCNN_ARCHITECTURES = {
    "faster_rcnn_resnet50_v1_256": True,
    "faster_rcnn_resnet101_v1_128": False,
    "faster_rcnn_resnet152_v1_96x160": False,
}
# The OD API's CenterNet fixtures (their own tests, tests/zoo/test_zoo_center_net.py): all, and those checked
# (`make test`'s, or those DETFLOW_ZOO_ONLY names).
ALL_CENTER_NET = {
    "center_net_resnet101_v1_fpn_128": True,
    "center_net_resnet50_v2_128": False,
    "center_net_mobilenet_v2_fpn_128": True,
    "center_net_hourglass20_128": False,
    "center_net_hourglass104_256": False,
}
CENTER_NET_ARCHITECTURES = ({n: ALL_CENTER_NET[n] for n in _ONLY if n in ALL_CENTER_NET} if _ONLY
                            else {n: c for n, c in ALL_CENTER_NET.items() if n not in LARGE})
# CenterNet fixtures with a keypoint task (tests/zoo/test_zoo_center_net_keypoints.py).
CENTER_NET_KEYPOINT_ARCHITECTURES = ("center_net_resnet50_v1_fpn_kpts_128",)
TOLERANCE = 1e-4     # max |diff| <= TOLERANCE * max |reference|


def oracle_file(relative: str) -> pathlib.Path:
    """A file the oracle wrote (a fixture's `reference.npz`, `augmentations/...npz`); fails (never skips) when the
    oracle has not run."""
    path = ROOT / relative
    if not (ROOT / ".complete").exists() or not path.exists():
        pytest.fail(f"no {relative} at {ROOT}: run `make oracle` (make test does)")
    return path


def fixture(name: str) -> pathlib.Path:
    """The folder of one architecture's fixture; fails (never skips) when the oracle has not run."""
    return oracle_file(f"{name}/reference.npz").parent


def zoo_config(name: str, num_classes: int | None = None):
    """The fixture's pipeline.config as a detflow PipelineConfig (num_classes changed when given)."""
    path = fixture(name) / "pipeline.config"
    text = path.read_text()
    config = parse_pipeline_config_text(text, str(path))
    cn = config.proto.model.center_net
    if config.proto.model.WhichOneof("model") == "center_net" and cn.keypoint_label_map_path:
        cn.keypoint_label_map_path = str(path.parent / cn.keypoint_label_map_path)    # beside it, by name
    if num_classes is not None:
        getattr(config.proto.model, config.proto.model.WhichOneof("model")).num_classes = num_classes
    return config


def reference(name: str) -> dict[str, np.ndarray]:
    """The OD API's reference tensors of one fixture."""
    with np.load(fixture(name) / "reference.npz") as data:
        return {k: data[k] for k in data.files}


def assert_close(got, want, what: str) -> float:
    """max |got - want| <= TOLERANCE * max |want|; returns the relative difference."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, the OD API's {want.shape}"
    scale = max(float(np.abs(want).max()), 1e-12)
    diff = float(np.abs(got - want).max()) if got.size else 0.0
    assert diff <= TOLERANCE * scale, f"{what}: max |diff| {diff:.3g} > {TOLERANCE} x max |ref| {scale:.3g}"
    return diff / scale


def assert_detections_match(got: dict, want: dict, what: str, prefix: str = "",
                            box_tolerance: float = TOLERANCE) -> int:
    """Post-processed detections equal the OD API's, up to the order of near-tied scores.

    Scores (sorted) and counts must be equal to TOLERANCE. Each of the OD API's
    detections must be found with the same class, its box within TOLERANCE and
    its score within the tie window, except where its score ties the last one
    kept (max_total_detections cuts between near-equal scores, and a 1e-7
    difference, which the OD API shows itself between batch sizes, picks another).
    `box_tolerance` replaces TOLERANCE for the box coordinates only.
    Returns how many detections were excused that way.
    """
    boxes, scores = np.asarray(got["detection_boxes"]), np.asarray(got["detection_scores"])
    classes, num = np.asarray(got["detection_classes"]), np.asarray(got["num_detections"])
    ref_boxes, ref_scores = want[prefix + "detection_boxes"], want[prefix + "detection_scores"]
    ref_classes, ref_num = want[prefix + "detection_classes"], want[prefix + "num_detections"]
    np.testing.assert_array_equal(num, ref_num, err_msg=f"{what}: num_detections")
    assert_close(scores, ref_scores, f"{what}: detection scores")
    tie = TOLERANCE * max(float(np.abs(ref_scores).max()), 1e-12)
    excused = 0
    for b in range(ref_boxes.shape[0]):
        n = int(ref_num[b])
        cut = float(ref_scores[b, :n].min()) if n else 0.0
        for i in range(n):
            near = np.abs(scores[b, :n] - ref_scores[b, i]) <= tie
            same = near & (classes[b, :n] == ref_classes[b, i]) & (
                np.abs(boxes[b, :n] - ref_boxes[b, i]).max(axis=1) <= box_tolerance)
            if same.any():
                continue
            assert ref_scores[b, i] <= cut + tie, (
                f"{what}: image {b}, the OD API's detection {i} (class {ref_classes[b, i]}, score "
                f"{ref_scores[b, i]:.6f}, box {ref_boxes[b, i]}) is not among detflow's")
            excused += 1
    assert excused <= 2, f"{what}: {excused} detections differ at the max_total_detections cut"
    return excused


def tie_order(boxes, scores, ref_boxes, ref_scores) -> np.ndarray:
    """[B, N] indices that put our ranked rows in the oracle's order where scores tie exactly (to TOLERANCE).

    NMS and top-k break exact ties by position, which a difference in the last bit of an earlier
    computation can swap: two proposals of one score come out in either order. Each of the
    oracle's rows is matched to one of ours with the same score (within TOLERANCE) and the same box
    (within TOLERANCE of the largest coordinate); rows that match nothing keep their place, so the
    comparison that follows still fails on them.
    """
    boxes, scores = np.asarray(boxes), np.asarray(scores)
    tie = TOLERANCE * max(float(np.abs(ref_scores).max()), 1e-12)
    close = TOLERANCE * max(float(np.abs(ref_boxes).max()), 1e-12)
    order = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    for b in range(scores.shape[0]):
        free = set(range(scores.shape[1]))
        for i in range(scores.shape[1]):
            candidates = [j for j in sorted(free, key=lambda j: abs(j - i))
                          if abs(scores[b, j] - ref_scores[b, i]) <= tie
                          and np.abs(boxes[b, j] - ref_boxes[b, i]).max() <= close]
            if candidates:
                order[b, i] = candidates[0]
                free.discard(candidates[0])
    return order


def keypoint_config_for_sample_data(name: str, num_classes: int, label_map: str, keypoint_class: str,
                                    sigma: float):
    """A keypoint fixture's zoo config as a user edits it for the sample data with keypoints
    (`sample_data.generate(keypoints=True)`, whose label map declares them): the task's class and label map, the
    records' keypoint count, the flip swapping left and right, the Evaluator's keypoint metric for the class at
    OKS `sigma` per keypoint, the readers' label map (their TFRecords left to the command line). A proto."""
    import sample_data  # pylint: disable=import-outside-toplevel
    proto = zoo_config(name, num_classes=num_classes).proto
    cn = proto.model.center_net
    cn.keypoint_label_map_path = label_map
    task = cn.keypoint_estimation_task[0]
    task.keypoint_class_name = keypoint_class
    task.ClearField("keypoint_label_to_std")                # COCO's person keypoints' stds
    flip = proto.train_config.data_augmentation_options[0].random_horizontal_flip
    del flip.keypoint_flip_permutation[:]
    flip.keypoint_flip_permutation.extend(sample_data.KEYPOINT_FLIP_PERMUTATION)
    ev = proto.eval_config
    ev.ClearField("keypoint_edge")
    del ev.parameterized_metric[:]
    metric = ev.parameterized_metric.add().coco_keypoint_metrics
    metric.class_label = keypoint_class
    for keypoint in sample_data.KEYPOINT_NAMES:
        metric.keypoint_label_to_sigmas[keypoint] = sigma
    for reader in (proto.train_input_reader, proto.eval_input_reader[0]):
        reader.label_map_path, reader.num_keypoints = label_map, len(sample_data.KEYPOINT_NAMES)
        del reader.tf_record_input_reader.input_path[:]
    return proto
