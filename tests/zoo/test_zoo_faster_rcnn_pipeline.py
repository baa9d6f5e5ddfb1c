"""`detflow run` with a zoo Faster R-CNN config and checkpoint: trains, evaluates, blesses, pushes and audits.

The checkpoint is the oracle's zoo-layout `faster_rcnn_resnet50_v1_256` (the
zoo's ResNet-50 network, random weights); the config is the zoo's with what a
user changes (num_classes, label map, steps, batch size, learning rate) plus a
tiny input, few proposals and a small second-stage sample so that it runs on
2 CPU cores in about a minute.
"""
from __future__ import annotations

import pytest
from google.protobuf import text_format

import sample_data
from tests.pipelines import e2e_helpers
from tests.zoo.fixtures import fixture, zoo_config

ZOO = "faster_rcnn_resnet50_v1_256"
pytestmark = pytest.mark.e2e


def _user_config(path, label_map: str, checkpoint: str) -> str:
    proto = zoo_config(ZOO, num_classes=len(sample_data.DEMO_CLASSES)).proto
    frcnn = proto.model.faster_rcnn
    resizer = frcnn.image_resizer.keep_aspect_ratio_resizer
    resizer.min_dimension = resizer.max_dimension = 96
    frcnn.first_stage_max_proposals = 32
    frcnn.second_stage_batch_size = 16
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = checkpoint, "detection"
    tc.batch_size, tc.num_steps = 2, 2
    tc.optimizer.momentum_optimizer.learning_rate.constant_learning_rate.learning_rate = 0.0005
    for reader in (proto.train_input_reader, proto.eval_input_reader[0]):
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
    path.write_text(text_format.MessageToString(proto))
    return str(path)


def test_a_zoo_faster_rcnn_is_fine_tuned_blessed_pushed_and_audited(tmp_path):
    e2e_helpers.make_span(tmp_path / "data", 1)
    label_map = tmp_path / "label_map.pbtxt"
    label_map.write_text(sample_data.label_map_text(sample_data.DEMO_CLASSES))
    checkpoint = str(fixture(ZOO) / "checkpoint" / "ckpt-0")
    config = _user_config(tmp_path / "pipeline.config", str(label_map), checkpoint)
    root = tmp_path / "root"

    summary, result = e2e_helpers.run_fine_tune_to_push(root, tmp_path / "data", config, str(label_map))
    assert result["meta_architecture"] == "faster_rcnn" and result["steps"] == 2
    report = result["restore_report"]
    assert report["checkpoint"] == checkpoint
    # share_box_across_classes (the zoo's): only the class-dependent second-stage layer is new.
    assert report["reinitialized_by_module"] == {"detection_head_class": 2}
    assert report["num_restored"] == 275 - 2
    assert report["network_check"].startswith("network settings equal to")

    e2e_helpers.assert_pushed_model_is_audited(root, summary.pushed)
