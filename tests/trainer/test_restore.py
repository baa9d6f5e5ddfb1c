"""restore: OD API fine_tune_checkpoint_type semantics on real checkpoints."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from components.trainer import model_builder, restore
from schemas.problems import ProblemsError
from tests.trainer.detector_fixtures import ssd_proto


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A 3-class source model with checkpoints in both layouts, and a 5-class target."""
    root = tmp_path_factory.mktemp("ckpts")
    source = model_builder.build_detector(ssd_proto(num_classes=3)).model
    for var in source.variables:  # distinct from any fresh initialisation
        var.assign(tf.random.uniform(var.shape, 0.5, 1.5, seed=7))
    model_prefix = tf.train.CheckpointManager(tf.train.Checkpoint(model=source), str(root / "model_layout"),
                                              max_to_keep=1).save(checkpoint_number=12)
    items_prefix = tf.train.Checkpoint(**source.checkpoint_items).write(str(root / "items" / "ckpt-3"))
    backbone_prefix = tf.train.Checkpoint(backbone=source.backbone).write(str(root / "backbone" / "ckpt-1"))
    target = model_builder.build_detector(ssd_proto(num_classes=5)).model
    return {"source": source, "target": target, "root": root, "model": model_prefix,
            "items": items_prefix, "backbone": backbone_prefix}


def _values(model, module):
    return {p: v.numpy() for p, v in restore.variable_paths(model).items() if restore.module_of(p) == module}


def _equal_to_checkpoint(model, prefix, module, layout="model"):
    reader = tf.train.load_checkpoint(prefix)
    values = _values(model, module)
    assert values
    for path, value in values.items():
        key = restore._checkpoint_key(path, layout)  # pylint: disable=protected-access
        if not np.array_equal(value, reader.get_tensor(key)):
            return False
    return True


def test_find_checkpoint_accepts_prefix_dir_and_artifact_layouts(models, tmp_path):
    prefix = models["model"]
    assert restore.find_checkpoint(prefix) == prefix
    assert restore.find_checkpoint(os.path.dirname(prefix)) == prefix
    artifact = tmp_path / "artifact" / "Format-Serving" / "checkpoint"
    artifact.mkdir(parents=True)
    for name in os.listdir(os.path.dirname(prefix)):  # no state file: found by ckpt-N.index
        if name.startswith("ckpt-12"):
            tf.io.gfile.copy(os.path.join(os.path.dirname(prefix), name), str(artifact / name))
    assert restore.find_checkpoint(str(tmp_path / "artifact")) == str(artifact / "ckpt-12")
    with pytest.raises(ProblemsError, match="no checkpoint found"):
        restore.find_checkpoint(str(tmp_path))
    with pytest.raises(ProblemsError, match="checkpoint not found"):
        restore.find_checkpoint(str(tmp_path / "nope"))


def test_detection_with_other_num_classes_reinitialises_only_the_class_predictor(models):
    target = models["target"]
    class_before = _values(target, "head_class")
    report = restore.restore(target, os.path.dirname(models["model"]), "detection")
    for module in ("backbone", "decoder", "head_box", "head_box_tower", "head_class_tower"):
        assert _equal_to_checkpoint(target, models["model"], module), module
        assert report.restored[module] == len(_values(target, module))
    assert "head_class" not in report.restored
    for path, value in _values(target, "head_class").items():
        np.testing.assert_array_equal(value, class_before[path])
    reinit = {item["variable"] for item in report.reinitialized}
    assert reinit == set(class_before)
    assert all("num_classes" in item["reason"] for item in report.reinitialized)
    summary = report.to_dict()
    assert summary["reinitialized_by_module"] == {"head_class": len(class_before)}
    assert summary["num_restored"] + len(reinit) == len(target.variables)


def test_detection_with_same_num_classes_restores_the_class_head_from_either_layout(models):
    source = models["source"]
    for var in source.variables:
        var.assign(tf.zeros_like(var))
    report = restore.restore(source, models["items"], "detection")
    assert report.layout == "items" and not report.reinitialized
    assert report.restored["head_class"] == len(_values(source, "head_class"))
    assert _equal_to_checkpoint(source, models["model"], "head_class")
    assert report.num_restored == len(source.variables)


def test_classification_restores_the_backbone_only(models):
    target = models["target"]
    for var in target.variables:
        var.assign(tf.zeros_like(var))
    report = restore.restore(target, models["backbone"], "classification")
    assert set(report.restored) == {"backbone"}
    assert _equal_to_checkpoint(target, models["model"], "backbone")
    assert not any(v.any() for v in _values(target, "decoder").values())
    assert {item["module"] for item in report.reinitialized} >= {"decoder", "head_class", "head_box"}
    assert report.num_restored + len(report.reinitialized) == len(target.variables)


def test_full_with_other_shapes_fails_naming_variables_and_assigns_nothing(models):
    target = models["target"]
    for var in target.variables:
        var.assign(tf.zeros_like(var))
    with pytest.raises(ProblemsError) as err:
        restore.restore(target, models["model"], "full")
    message = str(err.value)
    assert "module head_class" in message and "_head/_classifier/pointwise_kernel" in message
    assert "model [1, 1, 32, 36], checkpoint [1, 1, 32, 24]" in message
    assert not any(v.any() for v in _values(target, "backbone").values())


def test_wrong_architecture_fails_naming_module(models, tmp_path):
    with pytest.raises(ProblemsError) as err:
        restore.restore(models["target"], models["backbone"], "detection")
    assert "module decoder:" in str(err.value) and "variables missing from checkpoint" in str(err.value)
    other = tf_keras.Sequential([tf_keras.layers.Dense(3, input_shape=(4,))])
    prefix = tf.train.Checkpoint(model=other).write(str(tmp_path / "other" / "ckpt-1"))
    with pytest.raises(ProblemsError, match="no variable of this model is in the checkpoint"):
        restore.restore(models["target"], prefix, "full")
    with pytest.raises(ProblemsError, match="fine_tune_checkpoint_type"):
        restore.restore(models["target"], prefix, "fine_tune")
