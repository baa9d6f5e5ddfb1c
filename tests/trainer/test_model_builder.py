"""model_builder: pipeline.config → Model Garden RetinaNet, spec, outputs, normalisation."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from official.vision.ops import preprocess_ops

from components.trainer import model_builder
from schemas.problems import ProblemsError
from tests.trainer.detector_fixtures import ssd_proto


@pytest.fixture(scope="module")
def fpn_lite():
    return model_builder.build_detector(ssd_proto(num_classes=3, size=64))


def test_spec_carries_the_config(fpn_lite):
    spec = fpn_lite.spec
    assert (spec.meta_architecture, spec.feature_extractor) == ("ssd", "ssd_mobilenet_v2_fpn_keras")
    assert (spec.input_height, spec.input_width, spec.keep_aspect_ratio) == (64, 64, False)
    assert (spec.num_classes, spec.mg_num_classes) == (3, 4)
    assert (spec.min_level, spec.max_level, spec.num_scales, spec.anchor_size) == (3, 6, 2, 4.0)
    assert spec.aspect_ratios == (1.0, 2.0, 0.5) and spec.num_anchors_per_location == 6
    assert spec.box_coder_weights == (10.0, 10.0, 5.0, 5.0)
    assert (spec.focal_gamma, spec.focal_alpha, spec.huber_delta) == (2.0, 0.25, 1.0)
    assert (spec.matched_threshold, spec.unmatched_threshold) == (0.5, 0.5)
    assert (spec.score_threshold, spec.iou_threshold, spec.max_detections) == (
        pytest.approx(0.001), pytest.approx(0.6), 20)
    assert spec.to_dict()["aspect_ratios"] == [1.0, 2.0, 0.5]
    anchors = spec.anchor_boxes()
    assert sorted(anchors) == ["3", "4", "5", "6"] and anchors["3"].shape == (8, 8, 24)


def test_mapping_to_model_garden(fpn_lite):
    cfg = fpn_lite.model_config
    assert cfg.backbone.mobilenet.model_id == "MobileNetV2"
    assert cfg.backbone.mobilenet.filter_size_scale == pytest.approx(0.35)
    assert cfg.decoder.type == "fpn" and cfg.decoder.fpn.use_separable_conv and cfg.decoder.fpn.num_filters == 32
    assert (cfg.head.num_convs, cfg.head.num_filters, cfg.head.use_separable_conv) == (2, 32, True)
    assert sorted(fpn_lite.modules) == ["backbone", "decoder", "head"]
    bias = fpn_lite.model.head._classifier.bias.numpy()  # pylint: disable=protected-access
    np.testing.assert_allclose(bias, -4.6, rtol=1e-6)


def test_training_outputs_by_level_and_inference_outputs(fpn_lite):
    images = model_builder.preprocess_images(tf.zeros([2, 50, 70, 3], tf.uint8), fpn_lite.spec)
    out = model_builder.forward_train(fpn_lite.model, images)
    assert sorted(out["cls_outputs"]) == ["3", "4", "5", "6"]
    for level, size in (("3", 8), ("4", 4), ("5", 2), ("6", 1)):
        assert out["cls_outputs"][level].shape == (2, size, size, 6 * 4)
        assert out["box_outputs"][level].shape == (2, size, size, 6 * 4)
    det = fpn_lite.model(images, training=False)
    assert det["detection_boxes"].shape == (2, 20, 4)
    assert det["detection_scores"].shape == (2, 20)
    classes = det["detection_classes"].numpy()[det["detection_scores"].numpy() > 0]
    assert classes.size and classes.min() >= 1 and classes.max() <= 3  # background removed, 1-based


def test_fpn_gets_only_the_levels_it_takes_without_warnings(fpn_lite):
    import warnings  # pylint: disable=import-outside-toplevel
    images = tf.zeros([1, 64, 64, 3])
    assert "6" in fpn_lite.model.backbone(images)          # MobileNet's extra top endpoint
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fpn_lite.model(images, training=True)
        model_builder.build_detector(ssd_proto(num_classes=2, size=64))
    assert not [w for w in caught if "did not match any model input" in str(w.message)]
    assert isinstance(fpn_lite.model.decoder, model_builder.BackboneLevelsFPN)


def test_preprocess_is_model_garden_normalisation():
    image = tf.constant(np.arange(4 * 6 * 3).reshape(1, 4, 6, 3) % 256, tf.uint8)
    got = model_builder.preprocess_images(image)
    want = preprocess_ops.normalize_image(tf.image.convert_image_dtype(image[0], tf.float32))
    np.testing.assert_allclose(got[0].numpy(), want.numpy(), atol=1e-5)


def test_ssd_mobilenet_v2_without_fpn_and_frozen_batchnorm():
    bundle = model_builder.build_detector(ssd_proto(feature_extractor="ssd_mobilenet_v2_keras",
                                                    freeze_batchnorm=True))
    assert isinstance(bundle.model.decoder, model_builder.SsdExtraLayers)
    out = bundle.model(tf.zeros([1, 64, 64, 3]), training=True)
    assert sorted(out["cls_outputs"]) == ["4", "5", "6"]
    assert out["cls_outputs"]["6"].shape == (1, 1, 1, 24)
    norms = [layer for layer in model_builder._all_layers(bundle.model)  # pylint: disable=protected-access
             if isinstance(layer, tf_keras.layers.BatchNormalization)]
    assert norms and not any(layer.trainable for layer in norms)
    assert not any("gamma" in v.name for v in bundle.model.trainable_variables)


@pytest.mark.parametrize("field,mutate", [
    ("model.ssd.feature_extractor.type",
     lambda p: setattr(p.model.ssd.feature_extractor, "type", "ssd_efficientnet-b0_bifpn_keras")),
    ("model.ssd.image_resizer", lambda p: p.model.ssd.image_resizer.identity_resizer.SetInParent()),
    ("model.ssd.loss.classification_loss",
     lambda p: p.model.ssd.loss.classification_loss.weighted_softmax.SetInParent()),
    ("model.ssd.post_processing.score_converter",
     lambda p: setattr(p.model.ssd.post_processing, "score_converter", 2)),
    ("model", lambda p: p.ClearField("model")),
])
def test_unsupported_fields_are_named(field, mutate):
    proto = ssd_proto()
    mutate(proto)
    with pytest.raises(ProblemsError) as err:
        model_builder.build_detector(proto)
    assert f"{field}:" in str(err.value)


def test_faster_rcnn_builds_runs_and_restores(tmp_path):
    from components.trainer import faster_rcnn_builder, restore  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel
    with open("tests/data/configs/faster_rcnn_resnet50_v1_640x640.config", encoding="utf-8") as f:
        text = f.read()
    text = (text.replace("min_dimension: 640", "min_dimension: 48").replace("max_dimension: 640", "max_dimension: 64")
            .replace("num_classes: 90", "num_classes: 3"))
    bundle = model_builder.build_detector(parse_pipeline_config_text(text, "frcnn.config").proto)
    spec = bundle.spec
    assert (spec.meta_architecture, spec.keep_aspect_ratio, spec.input_height, spec.min_level) == (
        "faster_rcnn", True, 64, 4)
    assert spec.num_anchors_per_location == 12 and spec.anchor_boxes()["4"].shape == (4, 4, 48)
    anchors = spec.anchor_boxes()["4"].numpy().reshape(4, 4, 12, 4)
    np.testing.assert_allclose(anchors[0, 0, 0], [8 - 45.25, 8 - 22.627, 8 + 45.25, 8 + 22.627], atol=1e-2)
    images = model_builder.preprocess_images(tf.zeros([1, 64, 64, 3], tf.uint8))
    out = faster_rcnn_builder.inference(bundle.model, spec, images, tf.constant([[64.0, 48.0]]))
    assert out["detection_boxes"].shape == (1, 300, 4)
    valid = out["detection_scores"].numpy() > 0
    assert out["detection_classes"].numpy()[valid].min() >= 1
    assert out["detection_boxes"].numpy()[..., 3].max() <= 48.0  # clipped to the unpadded width
    prefix = tf.train.Checkpoint(model=bundle.model).write(str(tmp_path / "ckpt-1"))
    report = restore.restore(bundle.model, prefix, "full")
    assert {"backbone", "rpn_head", "detection_head_class", "detection_head_box",
            "detection_head_tower"} <= set(report.restored)
