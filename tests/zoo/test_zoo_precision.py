"""Every zoo family trains under a mixed-precision policy: two steps of `detflow train` from each fixture.

tests/detection/test_precision.py checks the policies on the embedded network; here the zoo's own networks
(EfficientDet's BiFPN, Faster R-CNN's crops and second stage, the ResNet and MobileNet FPNs, the SSD
MobileNetV2 predictor, CenterNet's upsampling FPN and heatmap losses) run their losses, targets, batch-norm re-estimation and export under float16 and
bfloat16 compute. `make test-long` runs it (eight short trainings).
"""
from __future__ import annotations

import json
import math

import pytest
import tensorflow as tf
from google.protobuf import text_format

from pipelines import cli
from tests.detection import records
from tests.zoo.fixtures import fixture, zoo_config

pytestmark = [pytest.mark.slow, pytest.mark.long]
FAMILIES = ("ssd_efficientdet_d0_256", "faster_rcnn_resnet50_v1_256", "ssd_resnet50_v1_fpn_320",
            "ssd_mobilenet_v2_320", "ssd_mobilenet_v1_fpn_320", "center_net_resnet101_v1_fpn_128")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("precision")
    pattern = records.write_records(str(root / "rec"), num_images=4, size=128, num_classes=3, shards=1)
    label_map = root / "label_map.pbtxt"
    label_map.write_text("".join(f'item {{ id: {i} name: "c{i}" }}\n' for i in range(1, 4)))
    return root, pattern, str(label_map)


def _config(root, zoo: str, pattern: str, label_map: str) -> str:
    proto = zoo_config(zoo, num_classes=3).proto
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = str(fixture(zoo) / "checkpoint" / "ckpt-0"), "detection"
    tc.batch_size, tc.num_steps = 2, 2
    for reader in [proto.train_input_reader, *proto.eval_input_reader]:
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
        reader.tf_record_input_reader.input_path.append(pattern)
    path = root / f"{zoo}.config"
    path.write_text(text_format.MessageToString(proto))
    return str(path)


# float16 (loss scaling) on every family; bfloat16 where the network has ops of its own beside Keras layers
# (the BiFPN's weighted fusion, Faster R-CNN's matmul crops). Measured: about a minute each on 2 cores.
CASES = [(zoo, "mixed_float16") for zoo in FAMILIES] + [
    ("ssd_efficientdet_d0_256", "mixed_bfloat16"), ("faster_rcnn_resnet50_v1_256", "mixed_bfloat16")]


@pytest.mark.parametrize("zoo, policy", CASES)
def test_the_zoo_network_trains_and_exports_under_the_policy(data, zoo, policy, capsys):
    root, pattern, label_map = data
    model_dir = root / f"{zoo}-{policy}"
    code = cli.main(["train", "--config", _config(root, zoo, pattern, label_map), "--model-dir", str(model_dir),
                     "--precision", policy])
    err = capsys.readouterr().err
    # 1: trained and exported, with a health note (two steps at the zoo's learning rate and batch 2)
    assert code in (0, 1) and "Traceback" not in err, err[-3000:]
    result = json.loads((model_dir / "train_result.json").read_text())
    assert result["precision"] == policy and math.isfinite(result["final_loss"]), result
    serving = tf.saved_model.load(result["export_dir"]).signatures["serving_default"]
    size = 256 if "efficientdet" in zoo else 128
    out = serving(tf.zeros([1, size, size, 3], tf.uint8))
    assert out["detection_boxes"].dtype == tf.float32 and out["detection_scores"].dtype == tf.float32
