"""models: pipeline.config → the OD API's SSD networks (and Model Garden's Faster R-CNN): spec, layout, errors.

The numbers these networks compute are checked against the OD API itself in tests/zoo/.
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from detection.architectures import registry
from detection.networks import anchors as anchor_lib
from detection.networks import spec as spec_lib
from schemas.problems import ProblemsError
from tests.detection.detector_fixtures import ssd_proto


@pytest.fixture(scope="module")
def fpn_lite():
    return registry.build_detector(ssd_proto(num_classes=3, size=64))


def test_spec_carries_the_config(fpn_lite):
    spec = fpn_lite.spec
    assert (spec.meta_architecture, spec.feature_extractor) == ("ssd", "ssd_mobilenet_v2_fpn_keras")
    assert (spec.input.height, spec.input.width, spec.input.keep_aspect_ratio) == (64, 64, False)
    assert (spec.num_classes, spec.mg_num_classes) == (3, 4)
    anchors, training = spec.anchors, spec.training
    assert (anchors.min_level, anchors.max_level, anchors.num_scales, anchors.anchor_size) == (3, 6, 2, 4.0)
    assert anchors.aspect_ratios == (1.0, 2.0, 0.5) and anchors.num_anchors_per_location == 6
    assert anchors.box_coder_weights == (10.0, 10.0, 5.0, 5.0)
    assert (training.focal_gamma, training.focal_alpha, training.huber_delta) == (2.0, 0.25, 1.0)
    assert (training.matched_threshold, training.unmatched_threshold) == (0.5, 0.5)
    assert (spec.score_threshold, spec.iou_threshold, spec.max_detections) == (
        pytest.approx(0.001), pytest.approx(0.6), 20)
    # 8x8 + 4x4 + 2x2 + 1x1 cells, 6 anchors each
    assert spec.anchors.num_anchors == (64 + 16 + 4 + 1) * 6 == fpn_lite.anchors.shape[0]
    assert spec.to_dict()["anchors"]["aspect_ratios"] == [1.0, 2.0, 0.5]
    assert spec.to_dict()["training"]["focal_alpha"] == 0.25


def test_outputs_are_the_od_api_layout(fpn_lite):
    out = fpn_lite.model(tf.zeros([2, 64, 64, 3]), training=True)
    assert out["box_encodings"].shape == (2, 510, 4)
    assert out["class_predictions_with_background"].shape == (2, 510, 4)      # background first
    assert [tuple(m.shape[1:3]) for m in out["feature_maps"]] == [(8, 8), (4, 4), (2, 2), (1, 1)]
    det = fpn_lite.model.postprocess(fpn_lite.model(tf.zeros([2, 64, 64, 3]), training=False))
    assert det["detection_boxes"].shape == (2, 20, 4)
    classes = det["detection_classes"].numpy()[det["detection_scores"].numpy() > 0]
    assert classes.size and classes.min() >= 0 and classes.max() <= 2           # 0-based, background gone
    bias = fpn_lite.model._box_predictor._prediction_heads[  # pylint: disable=protected-access
        "class_predictions_with_background"]._class_predictor_layers[0].bias.numpy()
    np.testing.assert_allclose(bias, -4.6, rtol=1e-6)


def test_variables_sit_under_the_od_api_object_paths(fpn_lite, tmp_path):
    prefix = tf.train.Checkpoint(model=fpn_lite.model).write(str(tmp_path / "ckpt-1"))
    keys = [k for k in tf.train.load_checkpoint(prefix).get_variable_to_shape_map() if k.startswith("model/")]
    tops = {"/".join(k.split("/")[1:3]) for k in keys}
    assert tops == {"_feature_extractor/classification_backbone", "_feature_extractor/_fpn_features_generator",
                    "_feature_extractor/_coarse_feature_layers",
                    "_box_predictor/_head_scope_conv_layers", "_box_predictor/_base_tower_layers_for_heads",
                    "_box_predictor/_box_prediction_head", "_box_predictor/_prediction_heads"}
    assert any("classification_backbone/layer_with_weights-0/kernel" in k for k in keys)


def test_preprocessing_follows_the_feature_extractor():
    images = tf.constant([[[[0.0, 127.5, 255.0]]]])
    mobilenet = registry.build_detector(ssd_proto(num_classes=2, size=64))
    np.testing.assert_allclose(mobilenet.preprocess(images).numpy().ravel(), [-1.0, 0.0, 1.0], atol=1e-6)


def test_multiscale_anchors_are_aspect_major_with_the_od_offset():
    boxes = anchor_lib.multiscale_grid_anchors([(1, 1)], 96, 96, min_level=5, anchor_scale=1.0,
                                               aspect_ratios=[1.0, 4.0], scales_per_octave=2)
    # 96 % 32 == 0: centre at 16 px; ratio 1 at scales 1, 2^0.5, then ratio 4 at both scales.
    sizes = (boxes[:, 2:] - boxes[:, :2]) * 96
    np.testing.assert_allclose(sizes, [[32, 32], [45.25, 45.25], [16, 64], [22.63, 90.51]], atol=0.01)
    np.testing.assert_allclose((boxes[0, :2] + boxes[0, 2:]) / 2 * 96, [16, 16], atol=1e-4)
    # 100 % 32 != 0: the OD API puts the first centre on the cell corner.
    corner = anchor_lib.multiscale_grid_anchors([(1, 1)], 100, 100, min_level=5, anchor_scale=1.0,
                                                aspect_ratios=[1.0], scales_per_octave=1)
    np.testing.assert_allclose((corner[0, :2] + corner[0, 2:]) / 2 * 100, [0, 0], atol=1e-4)


def test_ssd_mobilenet_v2_with_extra_layers_and_frozen_batchnorm():
    bundle = registry.build_detector(ssd_proto(feature_extractor="ssd_mobilenet_v2_keras", freeze_batchnorm=True))
    out = bundle.model(tf.zeros([1, 64, 64, 3]), training=True)
    assert [tuple(m.shape[1:]) for m in out["feature_maps"]] == [(4, 4, 192), (2, 2, 448), (1, 1, 179)]
    norms = [layer for layer in spec_lib.all_layers(bundle.model)
             if isinstance(layer, tf_keras.layers.BatchNormalization)]
    assert norms and not any(layer.trainable for layer in norms)
    assert not any("gamma" in v.name for v in bundle.model.trainable_variables)


@pytest.mark.parametrize("field,mutate", [
    ("model.ssd.feature_extractor.type",
     lambda p: setattr(p.model.ssd.feature_extractor, "type", "ssd_mobilenet_v1_keras")),
    # EfficientDet takes no depth multiplier (the OD API refuses it too).
    ("model.ssd.feature_extractor.depth_multiplier",
     lambda p: setattr(p.model.ssd.feature_extractor, "type", "ssd_efficientnet-b0_bifpn_keras")),
    ("model.ssd.image_resizer", lambda p: p.model.ssd.image_resizer.identity_resizer.SetInParent()),
    ("model.ssd.loss.classification_loss",
     lambda p: p.model.ssd.loss.classification_loss.weighted_softmax.SetInParent()),
    ("model.ssd.box_coder", lambda p: p.model.ssd.ClearField("box_coder")),
    ("model.ssd.image_resizer.fixed_shape_resizer.height",
     lambda p: setattr(p.model.ssd.image_resizer.fixed_shape_resizer, "height", 100)),
    ("model.ssd.anchor_generator.multiscale_anchor_generator",
     lambda p: setattr(p.model.ssd.anchor_generator.multiscale_anchor_generator, "max_level", 7)),
    ("model", lambda p: p.ClearField("model")),
])
def test_unsupported_or_impossible_fields_are_named(field, mutate):
    proto = ssd_proto()
    mutate(proto)
    with pytest.raises(ProblemsError) as err:
        registry.build_detector(proto)
    assert f"{field}:" in str(err.value)


def test_an_input_size_the_fpn_cannot_take_says_what_would_fit():
    proto = ssd_proto()
    proto.model.ssd.image_resizer.fixed_shape_resizer.width = 100
    with pytest.raises(ProblemsError, match=r"width: 100 px does not fit the FPN of levels 3..5: its maps would "
                                            r"be 13 / 7 / 4 cells .* multiple of 32 \(e.g. 96\) or set "
                                            r"feature_extractor.pad_to_multiple: 32"):
        registry.build_detector(proto)
    proto.model.ssd.feature_extractor.pad_to_multiple = 32
    assert registry.build_detector(proto).spec.input.width == 100


def test_faster_rcnn_builds_runs_and_restores(tmp_path):
    """The OD API's Faster R-CNN (architectures/faster_rcnn): grid anchors on cell corners, detections inside the true image."""
    from detection.checkpoints import restore  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel
    with open("tests/data/configs/faster_rcnn_resnet50_v1_640x640.config", encoding="utf-8") as f:
        text = f.read()
    text = (text.replace("min_dimension: 640", "min_dimension: 48").replace("max_dimension: 640", "max_dimension: 64")
            .replace("num_classes: 90", "num_classes: 3"))
    bundle = registry.build_detector(parse_pipeline_config_text(text, "frcnn.config").proto)
    spec, model = bundle.spec, bundle.model
    assert (spec.meta_architecture, spec.input.keep_aspect_ratio, spec.input.height, spec.anchors.min_level) == (
        "faster_rcnn", True, 64, 4)
    assert spec.anchors.num_anchors_per_location == 12
    anchors = model.anchors_for(4, 4, 64, 64).numpy().reshape(4, 4, 12, 4)
    # scale 0.25, aspect ratio 0.5 at the cell corner (0, 16), clipped to the image.
    np.testing.assert_allclose(anchors[0, 1, 0], [0, 0, 45.255, 16 + 22.627], atol=1e-3)
    images = bundle.preprocess(tf.zeros([1, 64, 64, 3], tf.uint8))
    out = model.detect(images, tf.constant([[64, 48, 3]]))
    assert out["detection_boxes"].shape == (1, 300, 4)
    boxes = out["detection_boxes"].numpy()
    assert boxes.min() >= 0.0 and boxes.max() <= 1.0      # normalised to the unpadded 64x48 image
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt-1"))
    report = restore.restore(model, prefix, "full")
    assert set(report.restored) == {"backbone", "box_classifier_features", "rpn_head", "detection_head_class",
                                    "detection_head_box"}
    assert report.num_restored == len(model.variables) and not report.reinitialized
