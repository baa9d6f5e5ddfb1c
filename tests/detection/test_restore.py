"""restore: OD API fine_tune_checkpoint_type semantics on real checkpoints of tiny SSDs.

tests/zoo/ does the same against the OD API's own zoo-layout checkpoints.
"""
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from detection.architectures import registry
from detection.checkpoints import restore
from schemas.problems import ProblemsError
from tests.detection.detector_fixtures import ssd_proto


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A 3-class source model with a detection and a classification checkpoint, and a 5-class target."""
    root = tmp_path_factory.mktemp("ckpts")
    source = registry.build_detector(ssd_proto(num_classes=3)).model
    for var in source.variables:  # distinct from any fresh initialisation
        var.assign(tf.random.uniform(var.shape, 0.5, 1.5, seed=7))
    model_prefix = tf.train.CheckpointManager(tf.train.Checkpoint(model=source), str(root / "model_layout"),
                                              max_to_keep=1).save(checkpoint_number=12)
    backbone_prefix = tf.train.Checkpoint(feature_extractor=source.backbone).write(str(root / "backbone" / "ckpt-1"))
    target = registry.build_detector(ssd_proto(num_classes=5)).model
    return {"source": source, "target": target, "root": root, "model": model_prefix, "backbone": backbone_prefix}


def _values(model, module):
    return {p: v.numpy() for p, v in restore.variable_paths(model).items() if registry.module_of(p) == module}


def _equal_to_checkpoint(model, prefix, module):
    reader = tf.train.load_checkpoint(prefix)
    keys = set(reader.get_variable_to_shape_map())
    checked = 0
    for var, paths in restore.all_variable_paths(model):
        if registry.module_of(paths[0]) != module:
            continue
        key = next(f"model/{p}/.ATTRIBUTES/VARIABLE_VALUE" for p in paths
                   if f"model/{p}/.ATTRIBUTES/VARIABLE_VALUE" in keys)
        if not np.array_equal(var.numpy(), reader.get_tensor(key)):
            return False
        checked += 1
    return checked > 0


def _zero(model):
    for var in model.variables:
        var.assign(tf.zeros_like(var))


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
    for module in ("backbone", "feature_maps", "head_box", "head_box_tower", "head_class_tower"):
        assert _equal_to_checkpoint(target, models["model"], module), module
    assert "head_class" not in report.restored
    for path, value in _values(target, "head_class").items():
        np.testing.assert_array_equal(value, class_before[path])
    reinit = {item["variable"] for item in report.reinitialized}
    assert reinit == set(class_before) and len(reinit) == 3       # separable class conv: 2 kernels + bias
    assert all("num_classes" in item["reason"] for item in report.reinitialized)
    summary = report.to_dict()
    assert summary["reinitialized_by_module"] == {"head_class": len(class_before)}
    assert summary["num_restored"] + len(reinit) == len(target.variables)
    assert summary["unused_by_module"] == {"head_class": 3, "save_counter": 1}


def test_detection_with_same_num_classes_restores_everything(models):
    source = models["source"]
    _zero(source)
    report = restore.restore(source, models["model"], "detection")
    assert report.layout == "model" and not report.reinitialized
    assert report.restored["head_class"] == len(_values(source, "head_class"))
    assert _equal_to_checkpoint(source, models["model"], "head_class")
    assert report.num_restored == len(source.variables)


def test_classification_restores_the_backbone_only(models):
    target = models["target"]
    _zero(target)
    report = restore.restore(target, models["backbone"], "classification")
    assert report.layout == "classification" and set(report.restored) == {"backbone"}
    assert _equal_to_checkpoint(target, models["model"], "backbone")
    assert not any(v.any() for v in _values(target, "feature_maps").values())
    assert {item["module"] for item in report.reinitialized} >= {"feature_maps", "head_class", "head_box"}
    assert report.num_restored + len(report.reinitialized) == len(target.variables)


def test_full_with_other_shapes_fails_naming_variables_and_assigns_nothing(models):
    target = models["target"]
    _zero(target)
    with pytest.raises(ProblemsError) as err:
        restore.restore(target, models["model"], "full")
    message = str(err.value)
    assert "module head_class" in message and "ClassPredictor" not in message
    assert "_prediction_heads/class_predictions_with_background/_class_predictor_layers/0/pointwise_kernel" in message
    assert "model [1, 1, 32, 36], checkpoint [1, 1, 32, 24]" in message
    assert not any(v.any() for v in _values(target, "backbone").values())


def test_wrong_architecture_fails_naming_module(models, tmp_path):
    other = registry.build_detector(ssd_proto(num_classes=3, feature_extractor="ssd_mobilenet_v2_keras")).model
    with pytest.raises(ProblemsError) as err:
        restore.restore(other, models["model"], "detection")
    message = str(err.value)
    assert "module feature_maps:" in message and "variables missing from checkpoint" in message
    assert "checkpoint variables this network does not have" in message
    dense = tf_keras.Sequential([tf_keras.layers.Dense(3, input_shape=(4,))])
    prefix = tf.train.Checkpoint(model=dense).write(str(tmp_path / "other" / "ckpt-1"))
    with pytest.raises(ProblemsError, match="no variable of this model is in the checkpoint"):
        restore.restore(models["target"], prefix, "full")
    with pytest.raises(ProblemsError, match="fine_tune_checkpoint_type"):
        restore.restore(models["target"], prefix, "fine_tune")
