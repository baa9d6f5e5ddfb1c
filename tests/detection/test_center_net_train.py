"""CenterNet learns: `detflow train` fine-tunes the zoo-layout CenterNet ResNet-101 V1 FPN checkpoint on the
embedded sample data.

The start is the oracle's `center_net_resnet101_v1_fpn_128` (the zoo's network and checkpoint layout, random
weights with batch-norm statistics measured on its fixed images) under the zoo config as a user edits it:
num_classes 5, its keep_aspect_ratio_resizer at 128 (the sample images' size), batch 4, the zoo's Adam at its
peak rate 1e-3 (constant), the config's augmentations (flip, crop, colour, absolute pad). `detection` takes the
feature extractor and starts every head anew, as the OD API's does; the starting model (through the export's
serving code) and the fine-tuned one's export are scored on the same held-out split.
"""
import os

import numpy as np
import pytest
from google.protobuf import text_format

import sample_data
from tests.detection import learning
from tests.zoo.fixtures import fixture, zoo_config

ZOO = "center_net_resnet101_v1_fpn_128"
NUM_STEPS = 200
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
pytestmark = [pytest.mark.slow, pytest.mark.long]


def _config(root, label_map: str, *, num_classes: int, num_steps: int) -> str:
    """The zoo config with a user's edits for the sample data; returns its path."""
    proto = zoo_config(ZOO, num_classes=num_classes).proto
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = str(fixture(ZOO) / "checkpoint" / "ckpt-0"), "detection"
    tc.batch_size, tc.num_steps = 4, num_steps
    tc.optimizer.adam_optimizer.learning_rate.ClearField("manual_step_learning_rate")
    tc.optimizer.adam_optimizer.learning_rate.constant_learning_rate.learning_rate = 1e-3
    for reader in (proto.train_input_reader, proto.eval_input_reader[0]):
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
    path = os.path.join(str(root), "center_net.config")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(proto))
    return path


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """(train result, {start|trained: COCO metrics on the eval split})."""
    root = tmp_path_factory.mktemp("center_net")
    records, label_map = learning.sample_records(root, 120)
    config = _config(root, label_map, num_classes=len(sample_data.DEMO_CLASSES), num_steps=NUM_STEPS)
    return learning.fine_tune_and_score(root, ZOO, config, records, label_map)


def test_fine_tuning_center_net_lowers_the_loss_and_raises_map(learned):
    result, metrics = learned
    assert result["meta_architecture"] == "center_net" and result["steps"] == NUM_STEPS
    report = result["restore_report"]
    assert report["checkpoint_type"] == "detection"
    assert report["restored"] == {"backbone": 624, "feature_maps": 26}
    assert report["reinitialized_by_module"] == {"head_class": 4, "head_box_scale": 4, "head_box_offset": 4}
    first, final = result["first_losses"], result["final_losses"]
    start, trained = metrics["start"][MAP50], metrics["trained"][MAP50]
    print(f"CenterNet R101 FPN mAP@.50IOU: start {start:.4f}, after {NUM_STEPS} steps {trained:.4f}; losses {first} "
          f"-> {final}")
    assert all(np.isfinite(v) for v in final.values())
    assert final["loss"] < first["loss"], (first, final)
    # Measured (2026-12-07): start 0.0000 (the new heads score no box right), after 200 steps 0.048 (the ResNet
    # frozen as by default, its FPN and heads training; with the FPN frozen too, 100 steps gave 0.0017).
    assert trained > 0.01 and trained > 4 * start, metrics
