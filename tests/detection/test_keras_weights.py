"""Keras weight files as a `classification` start (`keras_weights`), and `detflow checkpoint convert`.

Made here with Keras itself (no download, no ../shared): the Keras-applications MobileNetV2 at alpha 0.35
and ResNet-50, random weights, saved the ways users have them. Real ImageNet weights are in
tests/realdata/test_bccd_fine_tune.py.
"""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from bench import realdata
from detection.architectures import registry
from detection.checkpoints import keras_weights, restore
from pipelines import cli
from schemas.pipeline_config import parse_pipeline_config_text
from schemas.problems import ProblemsError

SIZE = 96


def _config_text(min_depth: int = 8, config=realdata.ZOO_CONFIG) -> str:
    text = realdata.recipe_config(3, realdata.Recipe(input_size=SIZE), "train-*", "eval-*", "label_map.pbtxt")
    return text.replace("min_depth: 8", f"min_depth: {min_depth}")


def _detector(text: str):
    return registry.build_detector(parse_pipeline_config_text(text, "k.config").proto)


def _randomise(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        low, high = (0.5, 2.0) if "variance" in weight.name else (-0.5, 0.5)
        weight.assign(rng.uniform(low, high, weight.shape).astype(np.float32))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same random MobileNetV2 0.35 as a Keras 2 model with the backbone nested, bare weights, a .keras."""
    root = tmp_path_factory.mktemp("keras")
    base = tf_keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, include_top=False,
                                             weights=None)
    _randomise(base)
    whole = tf_keras.Sequential([base, tf_keras.layers.GlobalAveragePooling2D(), tf_keras.layers.Dense(4, name="dense")])
    whole.save(str(root / "teachable.h5"))
    base.save_weights(str(root / "applications_no_top.h5"))
    base3 = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, include_top=False, weights=None)
    base3.set_weights(base.get_weights())
    base3.save(str(root / "model.keras"))
    base3.save_weights(str(root / "model.weights.h5"))
    return {"root": root, "base": base, "names": {layer.name: layer for layer in base.layers if layer.weights}}


@pytest.mark.parametrize("name", ["teachable.h5", "applications_no_top.h5", "model.keras"])
def test_every_format_fills_102_of_the_104_layers_by_name_and_names_the_two_it_cannot(files, name):
    bundle = _detector(_config_text())
    report = keras_weights.restore_backbone(bundle.model, str(files["root"] / name))
    loaded = {item["layer"] for item in report.layers["loaded"]}
    left = {item["layer"]: item["reason"] for item in report.layers["left_initialised"]}
    assert len(loaded) == 102 and report.layers["backbone_layers"] == 104
    assert set(left) == {"Conv_1", "Conv_1_bn"}
    assert left["Conv_1"] == "kernel model [1, 1, 112, 448], file [1, 1, 112, 1280]"
    backbone = bundle.model.backbone
    for layer_name in ("Conv1", "bn_Conv1", "block_16_project", "block_16_project_BN"):
        for ours, theirs in zip(backbone.get_layer(layer_name).weights, files["names"][layer_name].weights):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert report.restored == {"backbone": 255} and report.layout == "keras_weights"
    assert any(r["reason"] == "not restored by type classification" and r["module"] == "head_class"
               for r in report.reinitialized)
    if name == "teachable.h5":
        assert {u["variable"].rsplit("/", 1)[-1] for u in report.unused if u["reason"].startswith("not a layer")} \
            == {"dense"}
    assert "backbone layers loaded 102 of 104, left initialised: Conv_1" in report.summary()


def test_the_zoo_min_depth_widens_the_first_block_and_the_report_names_it(files):
    report = keras_weights.restore_backbone(_detector(_config_text(min_depth=16)).model,
                                            str(files["root"] / "teachable.h5"))
    left = {item["layer"] for item in report.layers["left_initialised"]}
    assert {"expanded_conv_project", "expanded_conv_project_BN", "block_1_expand", "Conv_1"} <= left
    assert len(report.layers["loaded"]) >= 52


def test_files_that_cannot_start_this_backbone_are_refused_in_one_line(files, tmp_path):
    model = _detector(_config_text()).model
    with pytest.raises(ProblemsError, match="keeps no layer names"):
        keras_weights.restore_backbone(model, str(files["root"] / "model.weights.h5"))
    with pytest.raises(ProblemsError, match='set fine_tune_checkpoint_type: "classification"'):
        keras_weights.restore_backbone(model, str(files["root"] / "teachable.h5"), "detection")
    other = tf_keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=False, weights=None)
    other.save_weights(str(tmp_path / "alpha1.h5"))
    with pytest.raises(ProblemsError) as raised:
        keras_weights.restore_backbone(model, str(tmp_path / "alpha1.h5"))
    message = str(raised.value.problems[0])
    assert "does not hold this backbone" in message and "Conv1 (kernel model [3, 3, 3, 16], file [3, 3, 3, 32])" \
        in message and "depth_multiplier" in message
    (tmp_path / "notes.h5").write_text("not hdf5")
    with pytest.raises(ProblemsError, match="not an HDF5 file"):
        keras_weights.restore_backbone(model, str(tmp_path / "notes.h5"))


def test_keras_resnet_conv_biases_fold_into_the_batch_norm_that_follows(tmp_path):
    """Keras' ResNet-50 convs have biases, the OD API's have none: folded into the moving mean, same function."""
    with open("tests/data/configs/ssd_resnet50_v1_fpn_640x640.config", encoding="utf-8") as f:
        text = f.read().replace("height: 640", "height: 160").replace("width: 640", "width: 160")
    bundle = _detector(text)
    keras_resnet = tf_keras.applications.ResNet50(input_shape=(160, 160, 3), include_top=False, weights=None)
    _randomise(keras_resnet, seed=1)
    keras_resnet.save_weights(str(tmp_path / "resnet50_notop.h5"))
    report = keras_weights.restore_backbone(bundle.model, str(tmp_path / "resnet50_notop.h5"))
    assert report.layers["left_initialised"] == []
    notes = {item["layer"]: item.get("note", "") for item in report.layers["loaded"]}
    assert notes["conv1_conv"] == "its bias folded into the moving mean of conv1_bn"
    image = tf.random.stateless_uniform([1, 160, 160, 3], seed=[1, 2], minval=-1, maxval=1)
    ours = tf_keras.Model(bundle.model.backbone.inputs, bundle.model.backbone.get_layer("conv1_bn").output)
    theirs = tf_keras.Model(keras_resnet.inputs, keras_resnet.get_layer("conv1_bn").output)
    want, got = theirs(image, training=False).numpy(), ours(image, training=False).numpy()
    # Keras' batch norm has epsilon 1.001e-5, the OD API's 1e-5: the rest is the same function.
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_checkpoint_convert_writes_the_od_api_classification_layout(files, tmp_path, capsys):
    config = tmp_path / "pipeline.config"
    config.write_text(_config_text())
    out = tmp_path / "ckpt"
    assert cli.main(["checkpoint", "convert", "--config", str(config), "--weights",
                     str(files["root"] / "teachable.h5"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "loaded 102 of the backbone's 104 layers" in printed and "left initialised: Conv_1:" in printed
    keys = tf.train.load_checkpoint(str(out / "ckpt-1")).get_variable_to_shape_map()
    assert any(k.startswith("feature_extractor/layer_with_weights-0/") for k in keys)
    assert json.loads((out / "restore_report.json").read_text())["layers"]["backbone_layers"] == 104
    bundle = _detector(_config_text())
    report = restore.restore(bundle.model, str(out / "ckpt-1"), "classification")
    assert report.layout == "classification" and report.restored == {"backbone": 260}
    for ours, theirs in zip(bundle.model.backbone.get_layer("block_3_depthwise_BN").weights,
                            files["names"]["block_3_depthwise_BN"].weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    code = cli.main(["checkpoint", "convert", "--config", str(config), "--weights", str(tmp_path / "nope.h5"),
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "nope.h5: Keras weights file not found" in err and "Traceback" not in err
