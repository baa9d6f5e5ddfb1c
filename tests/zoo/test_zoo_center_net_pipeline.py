"""`detflow run` with a zoo CenterNet config and checkpoint: trains, evaluates, blesses, pushes and audits.

The checkpoint is the oracle's zoo-layout `center_net_mobilenet_v2_fpn_128` (the zoo's MobileNetV2 FPN
network, random weights); the config is the zoo's with what a user changes (num_classes, label map, steps,
batch size, the checkpoint, its type and version) at 128 px. `detection` takes the feature extractor, every head starts anew (the OD API's
CenterNet restore), and the lineage audit names the checkpoint, config and label map of the pushed model.
"""
from __future__ import annotations

import pytest
from google.protobuf import text_format

import sample_data
from schemas.protos import train_pb2
from tests.pipelines import e2e_helpers
from tests.zoo.fixtures import fixture, zoo_config

ZOO = "center_net_mobilenet_v2_fpn_128"
pytestmark = [pytest.mark.e2e, pytest.mark.long]


def _user_config(path, label_map: str, checkpoint: str) -> str:
    proto = zoo_config(ZOO, num_classes=len(sample_data.DEMO_CLASSES)).proto
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = checkpoint, "detection"
    tc.fine_tune_checkpoint_version = train_pb2.V2    # the zoo's MobileNetV2 configs leave it unset (V1)
    tc.batch_size, tc.num_steps = 2, 2
    for reader in (proto.train_input_reader, proto.eval_input_reader[0]):
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
    path.write_text(text_format.MessageToString(proto))
    return str(path)


def test_a_zoo_center_net_is_fine_tuned_blessed_pushed_and_audited(tmp_path):
    e2e_helpers.make_span(tmp_path / "data", 1)
    label_map = tmp_path / "label_map.pbtxt"
    label_map.write_text(sample_data.label_map_text(sample_data.DEMO_CLASSES))
    checkpoint = str(fixture(ZOO) / "checkpoint" / "ckpt-0")
    config = _user_config(tmp_path / "pipeline.config", str(label_map), checkpoint)
    root = tmp_path / "root"

    summary, result = e2e_helpers.run_fine_tune_to_push(root, tmp_path / "data", config, str(label_map))
    assert result["meta_architecture"] == "center_net" and result["steps"] == 2
    report = result["restore_report"]
    assert report["checkpoint"] == checkpoint
    assert report["restored"] == {"backbone": 260, "feature_maps": 26}
    assert report["reinitialized_by_module"] == {"head_class": 5, "head_box_scale": 5, "head_box_offset": 5}
    assert report["network_check"].startswith("network settings equal to")

    e2e_helpers.assert_pushed_model_is_audited(root, summary.pushed)
