"""Zoo checkpoints under `detection` and `classification`, and the checkpoints that must be refused."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf

from detection.architectures import registry
from detection.checkpoints import restore
from schemas.problems import ProblemsError
from tests.zoo.fixtures import ARCHITECTURES, assert_close, fixture, reference, zoo_config

# One network per box predictor and backbone kind: which variables depend on num_classes is the predictor's
# layout (the other ResNet depths and the FPN-lite 640 differ from these in their backbone or input only).
CLASS_HEAD_VARIABLES = {
    # weight-shared predictors: one class conv (separable in FPN-lite) shared by every level
    "ssd_mobilenet_v2_fpnlite_320": 3, "ssd_resnet50_v1_fpn_320": 2, "ssd_mobilenet_v1_fpn_320": 2,
    # convolutional predictor: a class conv per feature map (6)
    "ssd_mobilenet_v2_320": 12,
}


@pytest.mark.parametrize("name", list(CLASS_HEAD_VARIABLES))
def test_detection_at_3_classes_reinitialises_exactly_the_class_predictor(name):
    config = zoo_config(name, num_classes=3)
    model = registry.build_detector(config.proto).model
    report = restore.restore(model, str(fixture(name)), "detection", pipeline_proto=config.proto)
    reinit = report.reinitialized
    assert {item["module"] for item in reinit} == {"head_class"}
    assert len(reinit) == CLASS_HEAD_VARIABLES[name]
    assert all("ClassPredictor" in item["variable"] or "_class_predictor_layers" in item["variable"]
               for item in reinit)
    assert all("num_classes differs" in item["reason"] for item in reinit)
    assert report.num_restored == len(model.variables) - len(reinit)
    unused = {u["variable"]: u for u in report.unused if u["variable"] != "save_counter"}
    assert len(unused) == len(reinit) and all(u["module"] == "head_class" for u in unused.values())
    # What was restored computes what the OD API computes: the box encodings do not depend on the classes.
    ref = reference(name)
    assert_close(model(ref["preprocessed"], training=False)["box_encodings"], ref["box_encodings"], "box encodings")


@pytest.mark.parametrize("name", [n for n, has in ARCHITECTURES.items() if has])
def test_classification_restores_the_whole_backbone(name):
    config = zoo_config(name, num_classes=3)
    model = registry.build_detector(config.proto).model
    prefix = tf.train.latest_checkpoint(str(fixture(name) / "classification"))
    report = restore.restore(model, prefix, "classification", pipeline_proto=config.proto)
    assert report.layout == "classification"
    assert report.restored == {"backbone": len(model.backbone.variables)}
    assert {item["module"] for item in report.reinitialized} >= {"feature_maps", "head_class", "head_box"}
    assert report.num_restored + len(report.reinitialized) == len(model.variables)
    ref = reference(name)
    endpoints = model.backbone(ref["preprocessed"])
    endpoints = endpoints if isinstance(endpoints, (list, tuple)) else [endpoints]     # EfficientNet: its logits
    for i, tensor in enumerate(endpoints):
        assert_close(tensor, ref[f"backbone_{i}"], f"backbone endpoint {i}")


def test_classification_from_a_detection_checkpoint_takes_its_backbone():
    name = "ssd_mobilenet_v2_fpnlite_320"
    config = zoo_config(name, num_classes=3)
    model = registry.build_detector(config.proto).model
    report = restore.restore(model, str(fixture(name)), "classification", pipeline_proto=config.proto)
    assert report.layout == "model" and report.restored == {"backbone": len(model.backbone.variables)}
    assert {u["reason"] for u in report.unused if u["variable"] != "save_counter"} == {
        "not restored by type classification"}


def test_a_classification_checkpoint_under_detection_is_refused_with_what_to_set():
    name = "ssd_mobilenet_v2_fpnlite_320"
    config = zoo_config(name)
    model = registry.build_detector(config.proto).model
    with pytest.raises(ProblemsError, match='fine_tune_checkpoint_type: "classification"'):
        restore.restore(model, str(fixture(name) / "classification"), "detection", pipeline_proto=config.proto)


@pytest.mark.parametrize("checkpoint,config", [
    ("ssd_mobilenet_v2_fpnlite_320", "ssd_resnet50_v1_fpn_320"),
    ("ssd_resnet50_v1_fpn_320", "ssd_mobilenet_v2_320"),
    ("ssd_mobilenet_v2_320", "ssd_mobilenet_v2_fpnlite_320"),
])
def test_a_zoo_checkpoint_under_another_architecture_is_refused(checkpoint, config):
    cfg = zoo_config(config)
    model = registry.build_detector(cfg.proto).model
    before = [v.numpy() for v in model.variables[:5]]
    with pytest.raises(ProblemsError) as err:
        restore.restore(model, str(fixture(checkpoint)), "detection", pipeline_proto=cfg.proto)
    message = str(err.value)
    assert str(fixture(checkpoint)) in message and ("does not fit" in message or "network differs" in message)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables[:5]))   # nothing assigned


def test_same_shapes_but_another_function_is_refused_naming_the_setting():
    """RELU in place of the zoo's RELU_6 keeps every shape: only the pipeline.config beside it tells."""
    name = "ssd_mobilenet_v2_fpnlite_320"
    config = zoo_config(name)
    config.proto.model.ssd.feature_extractor.conv_hyperparams.activation = 1     # RELU
    model = registry.build_detector(config.proto).model
    with pytest.raises(ProblemsError) as err:
        restore.restore(model, str(fixture(name)), "full", pipeline_proto=config.proto)
    message = str(err.value)
    assert "network differs" in message
    assert "model.ssd.feature_extractor.conv_hyperparams.activation: the checkpoint's config has RELU_6" in message


def test_a_bare_checkpoint_prefix_restores_and_says_what_was_not_checked(tmp_path):
    name = "ssd_mobilenet_v2_fpnlite_320"
    for path in (fixture(name) / "checkpoint").glob("ckpt-0.*"):
        shutil.copy(path, tmp_path / path.name)
    config = zoo_config(name)
    model = registry.build_detector(config.proto).model
    report = restore.restore(model, str(tmp_path / "ckpt-0"), "full", pipeline_proto=config.proto)
    assert report.num_restored == len(model.variables)
    assert "no pipeline.config beside the checkpoint" in report.network_check


def test_a_detflow_0_1_checkpoint_is_refused_with_what_to_do(tmp_path):
    """detflow 0.1 wrote Model Garden RetinaNet checkpoints: model/_backbone, model/_decoder, model/_head."""
    old = tf.Module()
    old._backbone, old._head = tf.Module(), tf.Module()   # pylint: disable=protected-access
    old._backbone.kernel = tf.Variable(tf.zeros([3, 3, 3, 16]))   # pylint: disable=protected-access
    old._head.bias = tf.Variable(tf.zeros([6]))   # pylint: disable=protected-access
    prefix = tf.train.Checkpoint(model=old).write(str(tmp_path / "ckpt-0"))
    model = registry.build_detector(zoo_config("ssd_mobilenet_v2_fpnlite_320").proto).model
    with pytest.raises(ProblemsError, match="written by detflow 0.1") as err:
        restore.restore(model, prefix, "detection")
    assert "embedded base checkpoint" in str(err.value) and "detflow predict" in str(err.value)
