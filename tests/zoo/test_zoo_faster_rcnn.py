"""A zoo Faster R-CNN checkpoint in detflow's OD-API Faster R-CNN computes what the OD API computes.

The oracle (`make oracle`) wrote, from the zoo's configs as shipped at smaller inputs:
`faster_rcnn_resnet50_v1_256` (the 640x640 config, its keep_aspect_ratio_resizer at
256: the fixed 360x480 images become 192x256, padded to 256x256),
`faster_rcnn_resnet101_v1_128` (the 1024x1024 config, its fixed_shape_resizer at
128x128, aspect not kept) and `faster_rcnn_resnet152_v1_96x160` (the 800x1333
config, its keep_aspect_ratio_resizer at 96..160: 96x128 padded to 160x160); random
weights in the OD API's checkpoint layout, and the OD API's tensors of both
stages on those images. detflow's network built from the same config restores
it with `full` and must give the same numbers at every stage.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from detection.architectures import registry
from detection.checkpoints import network_settings, restore
from detection.data import resizing
from detection.serving import export
from tests.zoo.fixtures import (FASTER_RCNN_ARCHITECTURES, assert_close, assert_detections_match, fixture, reference,
                                tie_order, zoo_config)

DETECTION_KEYS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")


@pytest.fixture(scope="module", params=list(FASTER_RCNN_ARCHITECTURES))
def restored(request):
    """(name, bundle restored with `full`, its report, the OD API's tensors, both stages' outputs, the config)."""
    name = request.param
    config = zoo_config(name)
    bundle = registry.build_detector(config.proto)
    report = restore.restore(bundle.model, str(fixture(name)), "full", pipeline_proto=config.proto)
    ref = reference(name)
    outputs = bundle.model(ref["preprocessed"], ref["true_image_shapes"], training=False)
    return name, bundle, report, ref, outputs, config


def test_every_checkpoint_variable_restores_with_full(restored):
    name, bundle, report, _, _, _ = restored
    reader = tf.train.load_checkpoint(str(fixture(name) / "checkpoint" / "ckpt-0"))
    keys = [k for k in reader.get_variable_to_shape_map() if k.startswith("model/") and k.endswith("VALUE")]
    assert report.num_restored == len(keys) == len(bundle.model.variables)
    conv4 = len([k for k in keys if k.startswith("model/_feature_extractor_for_proposal_features/")])
    assert report.restored == {"backbone": conv4, "box_classifier_features": 50, "rpn_head": 6,
                               "detection_head_class": 2, "detection_head_box": 2}
    assert (len(keys), conv4) == {"faster_rcnn_resnet50_v1_256": (275, 215),
                                  "faster_rcnn_resnet101_v1_128": (530, 470),
                                  "faster_rcnn_resnet152_v1_96x160": (785, 725)}[name]
    assert not report.reinitialized
    assert [u["variable"] for u in report.unused] == ["save_counter"]
    assert report.network_check.startswith("network settings equal to")


def test_preprocessing_equals_the_od_api(restored):
    _, bundle, _, ref, _, _ = restored
    spec = bundle.spec
    resized, valid = resizing.resize_to_input(ref["images"], spec.input.height, spec.input.width,
                                              spec.input.keep_aspect_ratio, spec.input.min_dimension, spec.input.max_dimension)
    np.testing.assert_array_equal(np.asarray(valid), ref["true_image_shapes"][0, :2])
    assert_close(bundle.preprocess(resized), ref["preprocessed"], "preprocessed input")


def test_first_stage_equals_the_od_api(restored):
    """conv4 features, RPN box encodings and 2-class objectness logits, anchors, proposals and their scores."""
    _, _, _, ref, out, _ = restored
    assert_close(out["rpn_features_to_crop"], ref["feature_map_0"], "conv4 features")
    assert_close(out["rpn_box_predictor_features"], ref["rpn_box_predictor_features"], "RPN conv features")
    assert_close(out["anchors"], ref["anchors"], "anchors")
    assert_close(out["rpn_box_encodings"], ref["rpn_box_encodings"], "RPN box encodings")
    assert_close(out["rpn_objectness_predictions_with_background"], ref["rpn_objectness_predictions_with_background"],
                 "RPN objectness")
    np.testing.assert_array_equal(out["num_proposals"], ref["num_proposals"])
    order = _tie_order(out, ref)
    for key, what in (("proposal_boxes", "proposal boxes"), ("proposal_boxes_normalized", "normalised proposal boxes"),
                      ("proposal_scores", "proposal scores")):
        assert_close(np.take_along_axis(np.asarray(out[key]), order.reshape(order.shape + (1,) * (
            np.ndim(out[key]) - 2)), axis=1), ref[key], what)


def _tie_order(out, ref) -> np.ndarray:
    """Our proposals' order where exactly tied scores came out swapped (fixtures.tie_order)."""
    return tie_order(out["proposal_boxes"], out["proposal_scores"], ref["proposal_boxes"], ref["proposal_scores"])


def _per_proposal(tensor, order: np.ndarray) -> np.ndarray:
    """A second-stage tensor [B * P, ...] with each image's proposals put in `order` ([B, P])."""
    tensor = np.asarray(tensor)
    images, per_image = order.shape
    rows = (order + np.arange(images)[:, None] * per_image).reshape(-1)
    return tensor[rows]


def test_second_stage_and_detections_equal_the_od_api(restored):
    """conv5 features of the crops, refined box encodings, class logits, then the post-processed detections."""
    _, bundle, _, ref, out, _ = restored
    per_image = out["proposal_boxes"].shape[1]
    order = _tie_order(out, ref)
    features = _per_proposal(out["box_classifier_features"], order)
    head = np.concatenate([features[i * per_image:i * per_image + 8] for i in range(len(ref["images"]))])
    assert_close(head, ref["box_classifier_features_head"], "box classifier features")
    assert_close(_per_proposal(out["refined_box_encodings"], order), ref["refined_box_encodings"],
                 "refined box encodings")
    assert_close(_per_proposal(out["class_predictions_with_background"], order),
                 ref["class_predictions_with_background"], "second-stage class logits")
    detections = bundle.model.postprocess(out)
    # Up to the order of scores tied within float noise (two classes of one proposal at 0.0284918 and
    # 0.0284917 swap places), which the fixture's 32 proposals make occur.
    assert_detections_match({k: detections[k].numpy() for k in DETECTION_KEYS}, ref, "second-stage detections")


# The export's serving code is one per family, feature-extractor kind and resizer: exported for one network of
# each (keep_aspect_ratio_resizer: ResNet-50; fixed_shape_resizer: ResNet-101; ResNet-152, built by the same
# code, is compared stage by stage above).
@pytest.mark.parametrize("restored", ("faster_rcnn_resnet50_v1_256", "faster_rcnn_resnet101_v1_128"), indirect=True)
def test_exported_serving_default_equals_the_od_api_exporter(restored, tmp_path):
    """detflow's SavedModel on each uint8 image (resized, padded, preprocessed inside) vs the OD API's exporter.

    Boxes to 5e-4 (0.13 px at 256) rather than 1e-4: in a tf.function, grappler's rewrites change
    the float rounding of the deep random-weight network, and one box of the ResNet-50 fixture
    moves by 1.1e-4 (measured: 9e-6 from the OD API's box eagerly and with the meta optimizer off;
    the OD API's own batch and serving paths differ by 2.6e-5). Scores and counts keep 1e-4.
    """
    name, bundle, _, ref, _, config = restored
    out = export.export_saved_model(bundle, None, config.text, None, str(tmp_path / name))
    serve = tf.saved_model.load(out).signatures["serving_default"]
    got = [serve(input_tensor=tf.constant(image[None])) for image in ref["images"]]
    served = {key: np.concatenate([g[key].numpy() for g in got]) for key in DETECTION_KEYS}
    assert_detections_match(served, ref, "serving_default", prefix="serving_", box_tolerance=5e-4)


@pytest.mark.parametrize("name", ["faster_rcnn_resnet50_v1_256"])
@pytest.mark.parametrize("share_box", [True, False])
def test_detection_restore_at_3_classes_reinitialises_only_the_class_dependent_second_stage(name, share_box):
    """`detection` at num_classes 3: the 91-way class head (and per-class box head) re-initialised, all else restored.

    With share_box_across_classes (the zoo config) the box head has 4 outputs whatever num_classes
    is, so it is restored; without, it has 4 per class and is re-initialised with the class head.
    """
    config = zoo_config(name, num_classes=3)
    config.proto.model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.share_box_across_classes = (
        share_box)
    bundle = registry.build_detector(config.proto)
    initial = {path: var.numpy() for path, var in restore.variable_paths(bundle.model).items()}
    report = restore.restore(bundle.model, str(fixture(name)), "detection")
    reinitialised = {"detection_head_class": 2} if share_box else {"detection_head_class": 2, "detection_head_box": 2}
    assert report.reinitialized_by_module() == reinitialised
    assert all("num_classes differs from the checkpoint's" in r["reason"] for r in report.reinitialized)
    assert report.restored == {"backbone": 215, "box_classifier_features": 50, "rpn_head": 6,
                               **({"detection_head_box": 2} if share_box else {})}   # ResNet-50
    assert report.unused_by_module() == {"save_counter": 1, **reinitialised}
    summary = report.summary()
    assert "re-initialised: " + ", ".join(f"{m} 2" for m in sorted(reinitialised)) + ";" in summary
    reader = tf.train.load_checkpoint(str(fixture(name) / "checkpoint" / "ckpt-0"))
    for path, var in restore.variable_paths(bundle.model).items():
        module = registry.module_of(path)
        if module in reinitialised:
            np.testing.assert_array_equal(var.numpy(), initial[path], err_msg=path)
        else:
            np.testing.assert_array_equal(var.numpy(), reader.get_tensor(f"model/{path}/.ATTRIBUTES/VARIABLE_VALUE"),
                                          err_msg=path)


def test_fine_tuning_settings_are_not_network_differences_but_crop_and_rpn_depth_are():
    """What users change to fine-tune a zoo Faster R-CNN (proposals, samples, NMS, loss weights) keeps the
    checkpoint's function; a crop size or RPN depth would not, and is named."""
    zoo = zoo_config("faster_rcnn_resnet50_v1_256").proto
    tuned = zoo_config("faster_rcnn_resnet50_v1_256", num_classes=3).proto
    frcnn = tuned.model.faster_rcnn
    frcnn.first_stage_max_proposals, frcnn.second_stage_batch_size = 32, 16
    frcnn.first_stage_nms_iou_threshold, frcnn.first_stage_minibatch_size = 0.6, 64
    frcnn.second_stage_post_processing.batch_non_max_suppression.max_total_detections = 20
    frcnn.second_stage_classification_loss_weight = 2.0
    frcnn.feature_extractor.batch_norm_trainable = True
    assert network_settings.differences(zoo, tuned) == []
    frcnn.initial_crop_size, frcnn.first_stage_box_predictor_depth = 7, 256
    assert network_settings.differences(zoo, tuned) == [
        "model.faster_rcnn.first_stage_box_predictor_depth: the checkpoint's config has 512, this config 256",
        "model.faster_rcnn.initial_crop_size: the checkpoint's config has 14, this config 7"]


def test_classification_restore_takes_the_whole_resnet_from_a_classification_checkpoint():
    """The OD API restores `feature_extractor` = the whole ResNet: conv1-4 and the conv5 the second stage runs."""
    name = "faster_rcnn_resnet50_v1_256"
    config = zoo_config(name, num_classes=3)
    bundle = registry.build_detector(config.proto)
    report = restore.restore(bundle.model, str(fixture(name) / "classification"), "classification",
                             pipeline_proto=config.proto)
    assert report.layout == "classification"
    assert report.restored == {"backbone": 215, "box_classifier_features": 50}
    assert report.reinitialized_by_module() == {"rpn_head": 6, "detection_head_class": 2, "detection_head_box": 2}
    assert report.unused_by_module() == {"save_counter": 1}
    # The classification checkpoint holds the detection fixture's own ResNet: the same numbers come out.
    ref = reference(name)
    features = bundle.model.first_stage_outputs(ref["preprocessed"], training=False)["rpn_features_to_crop"]
    assert_close(features, ref["feature_map_0"], "conv4 features after a classification restore")
    reader = tf.train.load_checkpoint(str(fixture(name) / "checkpoint" / "ckpt-0"))
    conv5 = {path: var for path, var in restore.variable_paths(bundle.model).items()
             if path.startswith("_feature_extractor_for_box_classifier_features/")}
    assert len(conv5) == 50
    for path, var in conv5.items():
        np.testing.assert_array_equal(var.numpy(), reader.get_tensor(f"model/{path}/.ATTRIBUTES/VARIABLE_VALUE"))
