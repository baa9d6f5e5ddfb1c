"""`detflow run` with a zoo CenterNet Keypoints config and checkpoint on data with keypoints: converts the COCO
keypoints, checks the keypoint task against the label map, trains, evaluates keypoint AP, blesses on it, pushes
and audits.

The checkpoint is the oracle's zoo-layout `center_net_resnet50_v1_fpn_kpts_128` (random weights); the config is
the zoo's Keypoints config as a user edits it for the sample data with keypoints (`sample_data`'s extreme
points): num_classes, the label map (which declares the keypoints) as keypoint_label_map_path, the keypoint
class, num_keypoints 4, the flip's permutation, the Evaluator's keypoint metric for that class, steps, batch
size, the checkpoint and its type. The blessing metric is the class's keypoint mAP@.50.
"""
from __future__ import annotations

import glob
import json

import pytest
from google.protobuf import text_format

import sample_data
from tests.pipelines import e2e_helpers
from tests.zoo.fixtures import CENTER_NET_KEYPOINT_ARCHITECTURES, fixture, keypoint_config_for_sample_data

ZOO, = CENTER_NET_KEYPOINT_ARCHITECTURES
CLASS = "bolt"
METRIC = f"Keypoints_Precision/mAP@.50IOU ByCategory/{CLASS}"
pytestmark = [pytest.mark.e2e, pytest.mark.long]


def _user_config(path, label_map: str, checkpoint: str) -> str:
    proto = keypoint_config_for_sample_data(ZOO, len(sample_data.DEMO_CLASSES), label_map, CLASS, 0.2)
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = checkpoint, "detection"
    tc.batch_size, tc.num_steps = 2, 2
    path.write_text(text_format.MessageToString(proto))
    return str(path)


def test_a_zoo_center_net_keypoints_model_is_fine_tuned_blessed_on_keypoint_ap_pushed_and_audited(tmp_path):
    data = sample_data.generate_span(tmp_path / "data", 1, num_images=e2e_helpers.NUM_IMAGES,
                                     image_size=(e2e_helpers.IMAGE_SIZE, e2e_helpers.IMAGE_SIZE), seed=1,
                                     keypoints=True)
    label_map = str(data.label_map)
    checkpoint = str(fixture(ZOO) / "checkpoint" / "ckpt-0")
    config = _user_config(tmp_path / "pipeline.config", label_map, checkpoint)
    root = tmp_path / "root"

    summary, result = e2e_helpers.run_fine_tune_to_push(root, tmp_path / "data", config, label_map, metric=METRIC)
    assert METRIC in summary.metrics, summary.metrics
    assert result["meta_architecture"] == "center_net" and result["steps"] == 2
    assert {"keypoint_heatmap_loss", "keypoint_offset_loss", "keypoint_regression_loss"} <= set(result["final_losses"])
    assert result["restore_report"]["reinitialized_by_module"]["head_keypoint_heatmap"] == 4
    [metrics_file] = glob.glob(str(root / "Evaluator" / "evaluation" / "*" / "metrics.json"))
    assert "Keypoints_Precision/mAP ByCategory/bolt" in json.dumps(json.load(open(metrics_file)))

    audit = e2e_helpers.assert_pushed_model_is_audited(root, summary.pushed)
    assert METRIC in audit["evaluation"]["keypoint_metrics"]
