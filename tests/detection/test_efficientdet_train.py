"""EfficientDet learns: `detflow train` fine-tunes the zoo-layout EfficientDet-D0 checkpoint on the embedded sample data.

The start is the oracle's `ssd_efficientdet_d0_256` (the zoo's D0 network and checkpoint layout, random
weights with batch-norm statistics measured on its fixed images) under the D0 zoo config as a user edits
it: num_classes 5 (`detection`: the class head is re-initialised), its keep_aspect_ratio_resizer at 256
(the sample images are 128 px: scaled up, nothing padded), batch 4, the zoo's peak learning rate (0.08,
constant), the backbone frozen as by default, the config's augmentations (flip, random scale, crop and pad
to a square). The starting model (through the export's serving code) and the fine-tuned one's export
are scored on the same held-out split.
"""
import os

import numpy as np
import pytest
from google.protobuf import text_format

import sample_data
from tests.detection import learning
from tests.zoo.fixtures import fixture, zoo_config

ZOO = "ssd_efficientdet_d0_256"
NUM_STEPS = 100
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
pytestmark = [pytest.mark.slow, pytest.mark.long]


def _config(root, label_map: str, *, num_classes: int, num_steps: int) -> str:
    """The D0 zoo config with a user's edits for the sample data; returns its path."""
    proto = zoo_config(ZOO, num_classes=num_classes).proto
    resizer = proto.model.ssd.image_resizer.keep_aspect_ratio_resizer
    resizer.min_dimension = resizer.max_dimension = 256
    for step in proto.train_config.data_augmentation_options:
        if step.HasField("random_scale_crop_and_pad_to_square"):
            step.random_scale_crop_and_pad_to_square.output_size = 256
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = str(fixture(ZOO) / "checkpoint" / "ckpt-0"), "detection"
    tc.batch_size, tc.num_steps = 4, num_steps
    tc.use_bfloat16 = False
    tc.optimizer.momentum_optimizer.learning_rate.ClearField("cosine_decay_learning_rate")
    tc.optimizer.momentum_optimizer.learning_rate.constant_learning_rate.learning_rate = 0.08
    if not proto.eval_input_reader:       # the D0 config in tests/data keeps the model and training parts only
        proto.eval_input_reader.add()
    for reader in (proto.train_input_reader, proto.eval_input_reader[0]):
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
    path = os.path.join(str(root), "efficientdet_d0.config")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(proto))
    return path


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """(train result, {start|trained: COCO metrics on the eval split})."""
    root = tmp_path_factory.mktemp("efficientdet")
    records, label_map = learning.sample_records(root, 120)
    config = _config(root, label_map, num_classes=len(sample_data.DEMO_CLASSES), num_steps=NUM_STEPS)
    return learning.fine_tune_and_score(root, ZOO, config, records, label_map)


def test_fine_tuning_efficientdet_d0_lowers_the_loss_and_raises_map(learned):
    result, metrics = learned
    assert result["meta_architecture"] == "ssd" and result["steps"] == NUM_STEPS
    report = result["restore_report"]
    assert report["checkpoint_type"] == "detection" and report["reinitialized_by_module"] == {"head_class": 3}
    # EfficientNet's variables sit under `_feature_extractor/_efficientnet/` in the OD API's checkpoints.
    assert report["restored"] == {"backbone": 311, "feature_maps": 228, "head_box": 3, "head_box_tower": 69,
                                  "head_class_tower": 69}
    first, final = result["first_losses"], result["final_losses"]
    start, trained = metrics["start"][MAP50], metrics["trained"][MAP50]
    print(f"EfficientDet-D0 mAP@.50IOU: start {start:.4f}, after {NUM_STEPS} steps {trained:.4f}; losses {first} "
          f"-> {final}")
    assert all(np.isfinite(v) for v in final.values())
    assert final["loss"] < first["loss"], (first, final)
    # Measured (2026-12-07): start 0.0005 (random weights, seeded), after 100 steps 0.0100 (60 steps: 0.0032).
    # The zoo's own peak rate, 0.08, is needed: at 0.004-0.02 the class loss stayed at its start (1.14: every
    # positive still at the prior 0.01 of class_prediction_bias_init) for 60 steps, the backbone trained or not.
    assert trained > 4 * start, metrics
