"""Faster R-CNN learns: `detflow train` fine-tunes the zoo-layout ResNet-50 checkpoint on the embedded sample data.

The start is the oracle's `faster_rcnn_resnet50_v1_256` (the zoo's network and checkpoint layout,
random weights with batch-norm statistics measured on its fixed images) under the zoo config as a
user edits it: num_classes 5 (`detection`: the class head is re-initialised), a 128 px input, fewer
proposals and a smaller second-stage sample, batch norm frozen (`batch_norm_trainable: false`, the
usual choice for small batches), batch 4, gradients clipped at norm 10, the backbone (conv1-4)
frozen as by default. The starting model (through the export's serving code) and the fine-tuned
one's export are scored on the same held-out split.
"""
import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

import sample_data
from detection.training import train_loop
from detection.training.train_settings import TrainJob
from schemas.pipeline_config import load_pipeline_config
from tests.detection import learning
from tests.zoo.fixtures import fixture, zoo_config

ZOO = "faster_rcnn_resnet50_v1_256"
NUM_STEPS = 60
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
# One fixture: data, the starting model's export, 60 steps, the export and both evaluations (145 s alone on
# 2026-12-07's machine, 0.8 steps/s; conv5 on the second stage's crops is most of a step, hence 8 of them per
# image: twice the steps/s of 16).
pytestmark = [pytest.mark.slow, pytest.mark.long]


def _config(root, label_map: str, *, num_classes: int, num_steps: int, checkpoint: str,
            checkpoint_type: str = "detection") -> str:
    """The zoo Faster R-CNN config with a user's edits for the sample data; returns its path."""
    proto = zoo_config(ZOO, num_classes=num_classes).proto
    frcnn = proto.model.faster_rcnn
    resizer = frcnn.image_resizer.keep_aspect_ratio_resizer
    resizer.min_dimension = resizer.max_dimension = 128
    frcnn.first_stage_max_proposals, frcnn.second_stage_batch_size = 32, 8
    frcnn.feature_extractor.batch_norm_trainable = False
    frcnn.second_stage_post_processing.batch_non_max_suppression.max_total_detections = 100
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = checkpoint, checkpoint_type
    tc.batch_size, tc.num_steps = 4, num_steps
    # Without it a run with the backbone trained diverged within 11 steps (second-stage logits past 1e34).
    tc.gradient_clipping_by_norm = 10.0
    tc.optimizer.momentum_optimizer.learning_rate.constant_learning_rate.learning_rate = 0.002
    for reader in (proto.train_input_reader, proto.eval_input_reader[0]):
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
    path = os.path.join(str(root), f"frcnn_{num_classes}.config")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(proto))
    return path


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """(root, records, label map, train result, {start|trained: COCO metrics on the eval split})."""
    root = tmp_path_factory.mktemp("frcnn")
    records, label_map = learning.sample_records(root, 200)
    config = _config(root, label_map, num_classes=len(sample_data.DEMO_CLASSES), num_steps=NUM_STEPS,
                     checkpoint=str(fixture(ZOO) / "checkpoint" / "ckpt-0"))
    result, metrics = learning.fine_tune_and_score(root, ZOO, config, records, label_map,
                                                   ("--eval", f"{records}/Split-eval/*"))
    return root, records, label_map, result, metrics


def test_fine_tuning_the_zoo_checkpoint_lowers_the_loss_and_raises_map(learned):
    _, _, _, result, metrics = learned
    assert result["meta_architecture"] == "faster_rcnn" and result["steps"] == NUM_STEPS
    report = result["restore_report"]
    assert report["checkpoint_type"] == "detection" and report["reinitialized_by_module"] == {
        "detection_head_class": 2}
    first, final = result["first_losses"], result["final_losses"]
    assert {"rpn_score_loss", "rpn_box_loss", "frcnn_cls_loss", "frcnn_box_loss"} <= set(final)
    assert all(np.isfinite(v) for v in final.values()) and np.isfinite(result["eval_loss"])
    # The first step meets a re-initialised 6-way class head; the RPN's objectness is learnt within
    # a few steps. (The second stage's box loss is no trend: it grows as proposals start to hit objects.)
    assert final["loss"] < first["loss"], (first, final)
    assert final["rpn_score_loss"] < 0.5 * first["rpn_score_loss"], (first, final)
    # Measured: start 0.0069-0.0071 in every run (seeded; random weights still rank a few boxes); after 60 steps
    # 0.041 and 0.026 in two runs (2026-12-07), after 100 steps 0.025, after 150 steps 0.039 and 0.030 in two runs, after 250 steps 0.022, 0.032 and 0.037 in three (the
    # input order is not seeded), so twice the start is asserted
    # (16 second-stage samples: 0.039-0.041 in two runs, at twice the time; learning rate 0.005: 0.028 after
    # 100 steps, 0.014 after 150; 150 steps with the backbone trained and clipping: 0.014-0.026; unclipped
    # 0.031-0.059 or diverged).
    start, trained = metrics["start"][MAP50], metrics["trained"][MAP50]
    assert trained > 2 * start, metrics


def test_export_serves_od_api_outputs(learned):
    _, _, _, result, _ = learned
    loaded = tf.saved_model.load(result["export_dir"])
    image = np.zeros((1, 50, 90, 3), np.uint8)
    image[0, 10:30, 20:60] = (255, 40, 40)
    out = loaded.signatures["serving_default"](input_tensor=tf.constant(image))
    assert set(out) >= {"detection_boxes", "detection_scores", "detection_classes", "num_detections"}
    assert out["detection_boxes"].shape == (1, 100, 4) and out["num_detections"].shape == (1,)
    boxes, classes = out["detection_boxes"].numpy(), out["detection_classes"].numpy()
    n = int(out["num_detections"][0])
    assert np.all(boxes >= 0) and np.all(boxes <= 1)
    assert n == 0 or set(classes[0, :n].astype(int)) <= set(range(1, len(sample_data.DEMO_CLASSES) + 1))


def _variables(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith("model/") and k.endswith("VARIABLE_VALUE")}


def test_detection_restore_with_other_num_classes_reinitialises_only_the_class_head(learned):
    root, records, label_map, result, _ = learned
    config = load_pipeline_config(_config(root, label_map, num_classes=3, num_steps=1,
                                          checkpoint=result["export_dir"]))
    r = train_loop.train(config, TrainJob(f"{records}/Split-train/*", None, str(root / "three"), num_steps=1,
                                          export=False))
    report = r.restore_report
    assert report["checkpoint_type"] == "detection"
    assert set(report["reinitialized_by_module"]) == {"detection_head_class"}
    # share_box_across_classes (the zoo config): the box head does not depend on num_classes.
    assert set(report["restored"]) == {"backbone", "box_classifier_features", "rpn_head", "detection_head_box"}
    before, after = _variables(result["export_checkpoint"]), _variables(r.paths.checkpoint)
    backbone = [k for k in before if k.startswith("model/_feature_extractor_for_proposal_features/")]
    assert len(backbone) > 100
    for key in backbone:   # frozen by default
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
