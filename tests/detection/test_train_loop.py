"""The training loop on tiny data: loss falls, frozen parts stay, resume, input accounting, EMA export."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from detection.training import train_loop, train_result
from detection.training.train_settings import TrainJob
from schemas.problems import ProblemsError
from tests.detection import records


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    pattern = records.write_records(str(root / "rec"), num_images=8, size=64, boxes_per_image=(3, 4), seed=0)
    return root, pattern


@pytest.fixture(scope="module")
def scratch_run(data):
    """12 steps of full training from scratch, max_number_of_boxes 2 (so boxes are dropped), exported."""
    root, pattern = data
    # Learning rate 0.02: the loss after 12 steps is 0.57-0.65 of the first (at 0.01 0.71-0.80, too near 0.8).
    config = records.tiny_config(str(root), pattern, num_steps=12, max_boxes=2, learning_rate_base=0.02)
    model_dir = str(root / "scratch")
    return train_loop.train(config, TrainJob(pattern, pattern, model_dir, freeze_backbone=False,
                                             checkpoint_every=4, log_every=4))


def test_loss_falls_and_everything_is_written(scratch_run):
    r = scratch_run
    assert r.steps == 12 and r.start_step == 0 and not r.resumed
    assert r.losses.final_loss < 0.8 * r.losses.first_loss, (r.losses.first_loss, r.losses.final_loss)
    assert r.throughput.images_per_sec > 0 and r.losses.eval_loss is not None
    assert r.paths.checkpoint.endswith("ckpt-12")
    assert tf.io.gfile.glob(os.path.join(r.paths.model_dir, "train", "events.out.tfevents.*"))
    assert tf.saved_model.contains_saved_model(r.paths.export_dir)
    recorded = json.load(open(train_result.write_result(r, r.paths.model_dir)))   # JSON-ready, as `detflow train` writes it
    assert recorded == json.loads(json.dumps(r.to_dict()))
    assert recorded["steps"] == 12 and recorded["boxes_dropped"] == r.boxes.boxes_dropped


def test_boxes_beyond_max_number_of_boxes_are_counted(scratch_run):
    # 8 images of 3-4 boxes, max 2 kept: every image drops 1-2 boxes; 12 batches of 4 see 48 images.
    assert 48 <= scratch_run.boxes.boxes_dropped <= 96
    assert scratch_run.boxes.max_number_of_boxes == 2


def _variables(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith("model/") and k.endswith("VARIABLE_VALUE")}


def test_fine_tune_keeps_frozen_backbone_then_resumes_without_restoring_again(data, scratch_run):
    root, pattern = data
    base = scratch_run.paths.export_checkpoint
    config = records.tiny_config(str(root), pattern, num_classes=3, num_steps=5)
    model_dir = str(root / "finetune")
    first = train_loop.train(config, TrainJob(pattern, None, model_dir, num_steps=3, base_checkpoint=base,
                                              checkpoint_every=1, log_every=1, export=False))
    report = first.restore_report
    assert report["checkpoint_type"] == "detection" and report["restored"]["backbone"] > 0
    assert report["reinitialized_by_module"].get("head_class", 0) > 0   # 2 -> 3 classes

    before, after = _variables(base), _variables(first.paths.checkpoint)
    backbone = [k for k in before if k.startswith("model/_feature_extractor/classification_backbone/")]
    assert len(backbone) > 100   # weights and batch-norm statistics
    for key in backbone:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    head_box = [k for k in before if "_box_prediction_head" in k]
    assert head_box and any(not np.array_equal(after[k], before[k]) for k in head_box)

    resumed = train_loop.train(config, TrainJob(pattern, None, model_dir, base_checkpoint=base,
                                                log_every=1, export=False))
    assert resumed.start_step == 3 and resumed.steps == 5 and resumed.resumed
    assert resumed.restore_report == report   # recorded once, not restored over the resumed weights
    mid, end = _variables(first.paths.checkpoint), _variables(resumed.paths.checkpoint)
    assert any(not np.array_equal(end[k], mid[k]) for k in head_box)


def test_moving_averages_are_exported_when_on(data):
    root, pattern = data
    config = records.tiny_config(str(root), pattern, num_steps=2)
    config.proto.train_config.optimizer.use_moving_average = True
    config.proto.train_config.optimizer.moving_average_decay = 0.5
    r = train_loop.train(config, TrainJob(pattern, None, str(root / "ema"), log_every=1))
    assert r.variables.moving_average_exported
    trained, exported = _variables(r.paths.checkpoint), _variables(r.paths.export_checkpoint)
    head = [k for k in trained if "_box_prediction_head" in k and "OPTIMIZER" not in k]
    assert head and any(not np.array_equal(trained[k], exported[k]) for k in head)


def test_forever_is_refused_with_the_field(data):
    root, pattern = data
    config = records.tiny_config(str(root), pattern)
    config.proto.train_config.num_steps = 0
    with pytest.raises(ProblemsError, match="num_steps"):
        train_loop.train(config, TrainJob(pattern, None, str(root / "never")))


def test_resuming_with_another_network_whose_variables_fit_is_refused(data, scratch_run):
    """Other anchors fit every variable of the run's checkpoint but compute another function."""
    root, pattern = data
    kept = os.path.join(scratch_run.paths.model_dir, "pipeline.config")
    assert os.path.exists(kept)
    config = records.tiny_config(str(root), pattern, num_steps=14, max_boxes=2)
    config.proto.model.ssd.anchor_generator.multiscale_anchor_generator.anchor_scale = 3.0
    with pytest.raises(ProblemsError, match="another network.*\n.*anchor_scale: the checkpoint's config has 2.0, "
                                            "this config 3.0"):
        train_loop.train(config, TrainJob(pattern, None, scratch_run.paths.model_dir, export=False))
    assert tf.train.latest_checkpoint(scratch_run.paths.model_dir).endswith("ckpt-12")   # nothing trained


def test_a_config_kept_in_its_own_model_dir_is_not_rewritten(data, tmp_path):
    """The OD API's layout: models/my_ssd/pipeline.config trained with the model dir models/my_ssd."""
    _, pattern = data
    config = records.tiny_config(str(tmp_path), pattern, num_steps=2)
    path = tmp_path / "pipeline.config"
    text = "# my notes\n" + path.read_text()
    path.write_text(text)
    train_loop.train(config, TrainJob(pattern, None, str(tmp_path), export=False))
    assert path.read_text() == text


def test_a_model_dir_holding_another_networks_checkpoint_is_refused(data, tmp_path):
    """A detflow 0.1 model dir, or one trained from another config: resuming would match nothing."""
    root, pattern = data
    other = tf.Module()
    other._backbone = tf.Module()   # pylint: disable=protected-access
    other._backbone.kernel = tf.Variable(tf.zeros([3]))   # pylint: disable=protected-access
    model_dir = tmp_path / "old"
    tf.train.CheckpointManager(tf.train.Checkpoint(model=other), str(model_dir), max_to_keep=1).save(5)
    config = records.tiny_config(str(root), pattern, num_steps=8)
    with pytest.raises(ProblemsError, match="holds a checkpoint \\(ckpt-5\\) of another network"):
        train_loop.train(config, TrainJob(pattern, None, str(model_dir), export=False))
