"""A user's zoo workflow: `detflow train` fine-tunes from a TF2 Detection Zoo folder, no extra flag.

The folder is the oracle's zoo-layout FPN-lite 320 (`checkpoint/ckpt-0` + `pipeline.config`); the config
is the zoo's, with num_classes, input size, steps and paths changed as a user would. `detflow run` from a
zoo checkpoint prefix, through the DetectionTrainer, is tests/zoo/test_zoo_faster_rcnn_pipeline.py.
"""
from __future__ import annotations

import json
import os

import pytest
from google.protobuf import text_format

from detection.checkpoints import fine_tune
from pipelines import cli
from tests.detection import records
from tests.zoo.fixtures import fixture, zoo_config

ZOO = "ssd_mobilenet_v2_fpnlite_320"


def _user_config(path, *, num_classes: int, size: int, label_map: str, checkpoint: str, train: str = "",
                 steps: int = 2) -> str:
    proto = zoo_config(ZOO, num_classes=num_classes).proto
    resizer = proto.model.ssd.image_resizer.fixed_shape_resizer
    resizer.height = resizer.width = size
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = checkpoint, "detection"
    tc.batch_size, tc.num_steps = 2, steps
    for reader in (proto.train_input_reader, proto.eval_input_reader[0]):
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
        if train:
            reader.tf_record_input_reader.input_path.append(train)
    path.write_text(text_format.MessageToString(proto))
    return str(path)


def _label_map(path, names) -> str:
    path.write_text("".join(f'item {{ id: {i} name: "{n}" }}\n' for i, n in enumerate(names, 1)))
    return str(path)


def _check_report(report: dict) -> None:
    assert report["checkpoint"] == str(fixture(ZOO) / "checkpoint" / "ckpt-0")
    assert report["reinitialized_by_module"] == {"head_class": 3}          # the separable class conv
    assert report["num_restored"] == 384 - 3
    assert report["network_check"] == f"network settings equal to {fixture(ZOO) / 'pipeline.config'}"


@pytest.mark.slow
def test_detflow_train_fine_tunes_from_a_zoo_folder(tmp_path, capsys):
    pattern = records.write_records(str(tmp_path / "records"), num_images=6, size=128, boxes_per_image=(1, 2))
    config = _user_config(tmp_path / "pipeline.config", num_classes=2, size=128,
                          label_map=_label_map(tmp_path / "label_map.pbtxt", ["c1", "c2"]),
                          checkpoint=str(fixture(ZOO)), train=pattern)
    code = cli.main(["train", "--config", config, "--model-dir", str(tmp_path / "model")])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    _check_report(json.load(open(tmp_path / "model" / fine_tune.RESTORE_REPORT)))
    assert os.path.exists(tmp_path / "model" / "export" / "saved_model.pb")
    assert "Traceback" not in captured.err


def _train_two_steps(tmp_path, capsys, proto, pattern: str) -> dict:
    """`detflow train` of `proto` (its reader given a 2-class label map and `pattern`) for 2 steps of batch 2:
    it must end without a traceback; returns the restore report."""
    reader = proto.train_input_reader
    reader.label_map_path = _label_map(tmp_path / "label_map.pbtxt", ["c1", "c2"])
    del reader.tf_record_input_reader.input_path[:]
    reader.tf_record_input_reader.input_path.append(pattern)
    config = tmp_path / "pipeline.config"
    config.write_text(text_format.MessageToString(proto))
    code = cli.main(["train", "--config", str(config), "--model-dir", str(tmp_path / "model"), "--num-steps", "2",
                     "--batch-size", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    assert "Traceback" not in captured.err
    return json.load(open(tmp_path / "model" / fine_tune.RESTORE_REPORT))


@pytest.mark.slow
def test_the_faster_rcnn_1024_config_as_shipped_trains_from_its_zoo_folder(tmp_path, capsys):
    """The zoo's faster_rcnn_resnet101_v1_1024x1024 config unchanged but for what a user sets (classes, paths,
    steps): fixed_shape_resizer (at the fixture's 128x128) and random_square_crop_by_scale in training."""
    name = "faster_rcnn_resnet101_v1_128"
    pattern = records.write_records(str(tmp_path / "records"), num_images=4, size=96, boxes_per_image=(1, 2))
    proto = zoo_config(name, num_classes=2).proto
    assert proto.train_config.data_augmentation_options[-1].HasField("random_square_crop_by_scale")
    assert proto.model.faster_rcnn.image_resizer.HasField("fixed_shape_resizer")
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = str(fixture(name)), "detection"
    cosine = tc.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate   # scaled to batch 2
    cosine.learning_rate_base, cosine.warmup_learning_rate = 0.0005, 0.0001
    report = _train_two_steps(tmp_path, capsys, proto, pattern)
    assert report["reinitialized_by_module"] == {"detection_head_class": 2}
    assert os.path.exists(tmp_path / "model" / "export" / "saved_model.pb")


@pytest.mark.slow
@pytest.mark.long        # 30 s; tests/detection/test_center_net_train.py, also long, trains from the same config
def test_the_center_net_config_as_shipped_trains_from_its_zoo_folder(tmp_path, capsys):
    """The zoo's CenterNet ResNet-101 V1 FPN config unchanged but for what a user sets (classes, paths, steps):
    keep_aspect_ratio_resizer (the fixture's 128), random_absolute_pad_image and random_crop_image, Adam with a
    manual step schedule. `detection` takes the feature extractor; every head starts anew, as in the OD API."""
    name = "center_net_resnet101_v1_fpn_128"
    pattern = records.write_records(str(tmp_path / "records"), num_images=4, size=96, boxes_per_image=(1, 2))
    proto = zoo_config(name, num_classes=2).proto
    assert proto.train_config.data_augmentation_options[-1].HasField("random_absolute_pad_image")
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = str(fixture(name)), "detection"
    report = _train_two_steps(tmp_path, capsys, proto, pattern)
    assert report["restored"] == {"backbone": 624, "feature_maps": 26}
    assert report["reinitialized_by_module"] == {"head_class": 4, "head_box_scale": 4, "head_box_offset": 4}
    assert os.path.exists(tmp_path / "model" / "export" / "saved_model.pb")


@pytest.mark.slow
@pytest.mark.long
def test_the_hourglass_config_trains_from_its_zoo_folder(tmp_path, capsys):
    """The zoo's CenterNet HourGlass104 512x512 config with the OD API's `hourglass_20` network (the fixture's;
    the same blocks in one stack) and what a user sets: its BGR channel normalisation, `detection` restoring the
    whole hourglass network (it has no classification backbone to freeze: all of it trains, as in the OD API)."""
    name = "center_net_hourglass20_128"
    pattern = records.write_records(str(tmp_path / "records"), num_images=4, size=96, boxes_per_image=(1, 2))
    proto = zoo_config(name, num_classes=2).proto
    assert proto.model.center_net.feature_extractor.bgr_ordering
    tc = proto.train_config
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = str(fixture(name)), "detection"
    report = _train_two_steps(tmp_path, capsys, proto, pattern)
    assert report["restored"] == {"backbone": 150}
    assert report["reinitialized_by_module"] == {"head_class": 4, "head_box_scale": 4, "head_box_offset": 4}
    assert os.path.exists(tmp_path / "model" / "export" / "saved_model.pb")
