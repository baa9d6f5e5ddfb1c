"""A zoo CenterNet checkpoint in detflow's OD-API CenterNet computes what the OD API computes.

The oracle (`make oracle`) wrote `center_net_resnet101_v1_fpn_128` from the zoo's CenterNet ResNet-101 V1
FPN 512x512 config as shipped, and `center_net_resnet50_v2_128` from its ResNet-50 V2 512x512 config, their
keep_aspect_ratio_resizer at 128 (the fixed 360x480 images become 96x128, padded to 128x128): random weights
in the OD API's checkpoint layout, the OD API's tensors at every stage on those images and its exporter's
outputs; for the first, its training targets and losses on two images with known boxes. detflow's network
built from the same config restores each and must give the same numbers.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from detection.architectures import registry
from detection.architectures.center_net import targets
from detection.checkpoints import network_settings, restore
from detection.data import resizing
from detection.networks import postprocess as post_lib
from detection.serving import export
from tests.zoo.fixtures import (CENTER_NET_ARCHITECTURES, assert_close, assert_detections_match, fixture, reference,
                                zoo_config)

DETECTION_KEYS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
HEADS = ("object_center", "box/scale", "box/offset")
NAME = "center_net_resnet101_v1_fpn_128"


@pytest.fixture(scope="module", params=list(CENTER_NET_ARCHITECTURES))
def restored(request):
    """(name, bundle restored with `full`, its report, the OD API's tensors, the config)."""
    name = request.param
    config = zoo_config(name)
    bundle = registry.build_detector(config.proto)
    report = restore.restore(bundle.model, str(fixture(name)), "full", pipeline_proto=config.proto)
    return name, bundle, report, reference(name), config


# Variables by report module: ResNet-101's 624 and its FPN's 26 (7 convs with biases, 3 batch norms); ResNet50V2's
# 270 and its 3 convs and 3 transposed convs with biases and 6 batch norms (36); MobileNetV2's 260 and its FPN's 26.
# Each head: 2 convs of 2, or with use_depthwise (the MobileNetV2 config) a separable conv of 3 and a conv of 2.
HEAD_MODULES = {"head_class": 4, "head_box_scale": 4, "head_box_offset": 4}
HOURGLASS_104_VARIABLES = 800    # its 188M numbers, in 800 variables
MODULES = {"center_net_resnet101_v1_fpn_128": {"backbone": 624, "feature_maps": 26, **HEAD_MODULES},
           "center_net_resnet50_v2_128": {"backbone": 270, "feature_maps": 36, **HEAD_MODULES},
           "center_net_mobilenet_v2_fpn_128": {"backbone": 260, "feature_maps": 26, "head_class": 5,
                                               "head_box_scale": 5, "head_box_offset": 5},
           # Hourglass: the network is the feature extractor (no FPN); Hourglass-104's two stacks each have heads.
           "center_net_hourglass20_128": {"backbone": 150, **HEAD_MODULES},
           "center_net_hourglass104_256": {"backbone": HOURGLASS_104_VARIABLES,
                                           **{k: 2 * v for k, v in HEAD_MODULES.items()}}}


def test_every_checkpoint_variable_restores_with_full(restored):
    name, bundle, report, _, _ = restored
    reader = tf.train.load_checkpoint(str(fixture(name) / "checkpoint" / "ckpt-0"))
    keys = [k for k in reader.get_variable_to_shape_map() if k.startswith("model/") and k.endswith("VALUE")]
    assert report.num_restored == len(keys) == len(bundle.model.variables)
    assert report.restored == MODULES[name]
    assert not report.reinitialized
    assert [u["variable"] for u in report.unused] == ["save_counter"]
    assert report.network_check.startswith("network settings equal to")


def test_every_stage_equals_the_od_api(restored):
    """Preprocessing (resize, pad, channel normalisation, Keras' ResNet preprocessing), the ResNet's block
    outputs, the stride-4 map, the three heads, and the peaks the post-processing turns into boxes."""
    _, bundle, _, ref, _ = restored
    model, spec = bundle.model, bundle.spec
    resize = lambda images: resizing.resize_to_input(  # noqa: E731
        images, spec.input.height, spec.input.width, spec.input.keep_aspect_ratio, spec.input.min_dimension,
        spec.input.max_dimension)
    prepared, valid_hw = registry.architecture("center_net").prepare(bundle, tf.constant(ref["images"], tf.float32),
                                                                     resize)
    assert_close(prepared, ref["preprocessed"], "preprocessed input")
    np.testing.assert_array_equal(np.broadcast_to(valid_hw.numpy(), (2, 2)), ref["true_image_shapes"][:, :2])
    extractor = model._feature_extractor  # pylint: disable=protected-access
    blocks = (getattr(extractor, "_resnet_model", None) or getattr(extractor, "_fpn_model", None)
              or extractor._network)(ref["preprocessed"])         # Hourglass: its stacks' outputs
    for i, tensor in enumerate(blocks if isinstance(blocks, list) else [blocks]):
        assert_close(tensor, ref[f"backbone_{i}"], f"backbone endpoint {i}")
    out = model(ref["preprocessed"], training=False)
    assert_close(out["extracted_features"][-1], ref["feature_map_0"], "FPN feature map")
    for head in HEADS:
        assert_close(out[head][-1], ref[head.replace("/", "_")], head)
    detections = model.postprocess(out, tf.constant(ref["true_image_shapes"]))
    for key in (*DETECTION_KEYS, "detection_multiclass_scores", "detection_boxes_strided"):
        assert_close(detections[key], ref[key], key)


def test_nms_post_processing_equals_the_od_api(restored):
    """A `post_processing` (the oracle's: score 0.01, IoU 0.4, 8 per class, 30 in all, change_coordinate_frame
    false): the OD API's multiclass NMS over the peaks' boxes, each scored for its own class, the boxes of zero
    area dropped (the random scale heads give many: the ResNet-50 V2 fixture keeps 9 and 13 of 30)."""
    _, bundle, _, ref, config = restored
    proto = config.proto
    text_format.Merge("batch_non_max_suppression { score_threshold: 0.01 iou_threshold: 0.4 "
                      "max_detections_per_class: 8 max_total_detections: 30 change_coordinate_frame: false }",
                      proto.model.center_net.post_processing)
    settings = bundle.model.settings
    bundle.model.settings = dataclasses.replace(settings, nms=post_lib.PostProcessing.from_proto(
        proto.model.center_net.post_processing))
    try:
        out = bundle.model.postprocess(bundle.model(ref["preprocessed"], training=False),
                                       tf.constant(ref["true_image_shapes"]))
    finally:
        bundle.model.settings = settings
    assert assert_detections_match({k: v.numpy() for k, v in out.items()}, ref, "NMS", prefix="nms_") == 0


# The export's serving code is one per family: exported in `make test` for the ResNet FPN and the MobileNetV2 FPN
# (whose TFLite file tests/zoo/test_zoo_center_net_tflite.py checks against it), in `make test-long` for the
# ResNet v2 and the hourglass too.
@pytest.mark.parametrize("restored", ("center_net_resnet101_v1_fpn_128", "center_net_mobilenet_v2_fpn_128",
                                      pytest.param("center_net_resnet50_v2_128", marks=pytest.mark.long),
                                      pytest.param("center_net_hourglass20_128", marks=pytest.mark.long)),
                         indirect=True)
def test_exported_serving_default_equals_the_od_api_exporter(restored, tmp_path):
    """detflow's SavedModel on each uint8 image vs the OD API's exporter: 1-based classes, padding rows zero.

    Boxes to 5e-4 as for Faster R-CNN: grappler's rewrites in both SavedModels round differently from the
    eager networks.
    """
    name, bundle, _, ref, config = restored
    out = export.export_saved_model(bundle, None, config.text, None, str(tmp_path / name))
    serve = tf.saved_model.load(out).signatures["serving_default"]
    got = [serve(input_tensor=tf.constant(image[None])) for image in ref["images"]]
    served = {key: np.concatenate([g[key].numpy() for g in got]) for key in DETECTION_KEYS}
    assert_detections_match(served, ref, "serving_default", prefix="serving_", box_tolerance=5e-4)


def test_training_targets_and_losses_equal_the_od_api():
    """The OD API's `loss` on two images (the second's true shape 3/4 of the input, so the valid-cell weights
    count) with five and two boxes, large and small: the same center heatmaps and the same three losses."""
    config = zoo_config(NAME)
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(NAME)), "full", pipeline_proto=config.proto)
    with np.load(fixture(NAME) / "loss_reference.npz") as data:
        ref = {k: data[k] for k in data.files}
    boxes, classes = np.zeros((2, 8, 4), np.float32), -np.ones((2, 8), np.int32)     # padded as the input pipeline
    for i in range(2):
        count = len(ref[f"classes_{i}"])
        boxes[i, :count], classes[i, :count] = ref[f"boxes_{i}"], ref[f"classes_{i}"]
    labels = {"groundtruth_boxes": tf.constant(boxes), "groundtruth_classes": tf.constant(classes),
              "image_shape": tf.constant(ref["true_image_shapes"][:, :2], tf.float32)}
    size = ref["heatmap_targets"].shape[1]
    heat = targets.center_heatmap_targets(labels["groundtruth_boxes"], labels["groundtruth_classes"],
                                          tf.cast(classes >= 1, tf.float32), size, size, 90, 0.7)
    np.testing.assert_allclose(heat.numpy(), ref["heatmap_targets"], atol=1e-6)
    out = registry.task_for(bundle).losses(bundle.model, bundle.preprocess(tf.constant(ref["images"])), labels)
    for ours, theirs in (("center_loss", "Loss_object_center"), ("scale_loss", "Loss_box_scale"),
                         ("offset_loss", "Loss_box_offset")):
        assert float(out[ours]) == pytest.approx(float(ref[theirs]), rel=1e-4), ours
    assert float(out["loss"]) == pytest.approx(sum(float(ref[k]) for k in ref if k.startswith("Loss_")), rel=1e-4)


def test_detection_restore_takes_the_feature_extractor_only_as_the_od_api():
    """`detection` (the OD API's: `_feature_extractor` only) at the checkpoint's 90 classes: every head is new, even
    where the shapes fit, and the report says why for each; the feature extractor is the checkpoint's."""
    for num_classes in (90,):
        config = zoo_config(NAME, num_classes=num_classes)
        bundle = registry.build_detector(config.proto)
        initial = {path: var.numpy() for path, var in restore.variable_paths(bundle.model).items()}
        report = restore.restore(bundle.model, str(fixture(NAME)), "detection", pipeline_proto=config.proto)
        heads = {"head_class": 4, "head_box_scale": 4, "head_box_offset": 4}
        assert report.restored == {"backbone": 624, "feature_maps": 26}
        assert report.reinitialized_by_module() == heads
        assert all("takes its backbone and feature_maps only" in r["reason"] for r in report.reinitialized)
        assert report.unused_by_module() == {"save_counter": 1, **heads}
        reader = tf.train.load_checkpoint(str(fixture(NAME) / "checkpoint" / "ckpt-0"))
        for path, var in restore.variable_paths(bundle.model).items():
            if registry.module_of(path, "center_net") in heads:
                np.testing.assert_array_equal(var.numpy(), initial[path], err_msg=path)
            else:
                np.testing.assert_array_equal(
                    var.numpy(), reader.get_tensor(f"model/{path}/.ATTRIBUTES/VARIABLE_VALUE"), err_msg=path)


def test_classification_restore_takes_the_resnet_from_a_classification_checkpoint():
    """The OD API's `classification`: `feature_extractor` = Keras' ResNet; the FPN and heads are new."""
    config = zoo_config(NAME, num_classes=3)
    bundle = registry.build_detector(config.proto)
    report = restore.restore(bundle.model, str(fixture(NAME) / "classification"), "classification",
                             pipeline_proto=config.proto)
    assert report.layout == "classification"
    assert report.restored == {"backbone": 624}
    assert report.reinitialized_by_module() == {"feature_maps": 26, "head_class": 4, "head_box_scale": 4,
                                                "head_box_offset": 4}
    ref = reference(NAME)
    blocks = bundle.model._feature_extractor._resnet_model(ref["preprocessed"])  # pylint: disable=protected-access
    assert_close(blocks[-1], ref["backbone_3"], "conv5 after a classification restore")


def test_loss_weights_are_not_network_differences_but_head_convs_are():
    """What users change to fine-tune (loss weights, peaks kept, the Gaussian's IoU) keeps the checkpoint's
    function; a head's intermediate convs would not, and are named."""
    zoo = zoo_config(NAME).proto
    tuned = zoo_config(NAME, num_classes=3).proto
    cn = tuned.model.center_net
    cn.object_detection_task.scale_loss_weight, cn.object_center_params.max_box_predictions = 0.2, 20
    cn.object_center_params.min_box_overlap_iou, cn.object_center_params.heatmap_bias_init = 0.5, -4.0
    assert network_settings.differences(zoo, tuned) == []
    cn.object_detection_task.scale_head_params.num_filters.append(128)
    cn.object_detection_task.scale_head_params.kernel_sizes.append(3)
    assert network_settings.differences(zoo, tuned) == [
        "model.center_net.object_detection_task.scale_head_params: the checkpoint's config has nothing, "
        "this config set",
        "model.center_net.object_detection_task.scale_head_params.kernel_sizes: the checkpoint's config has "
        "nothing, this config [3]",
        "model.center_net.object_detection_task.scale_head_params.num_filters: the checkpoint's config has "
        "nothing, this config [128]"]
