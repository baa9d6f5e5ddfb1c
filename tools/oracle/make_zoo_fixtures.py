"""Writes TF2 Detection Zoo-layout fixtures with the OD API's own code: the test oracle.

Run only inside the oracle environment (`make oracle`), never in detflow's
.venv: this script imports `object_detection`, which detflow never does.

For each architecture it:
- builds the model from its zoo pipeline.config with `model_builder.build`;
- gives it non-trivial random weights (He-scaled kernels, random biases and
  batch-norm scales/offsets, batch-norm statistics measured on the fixed
  images so the deep activations neither vanish nor saturate);
- writes the zoo layout, `<arch>/checkpoint/ckpt-0` + `<arch>/pipeline.config`,
  exactly as the OD API exporter does
  (`tf.train.CheckpointManager(tf.train.Checkpoint(model=...)).save(0)`);
- writes a classification checkpoint of the backbone
  (`tf.train.Checkpoint(feature_extractor=classification_backbone)`);
- saves reference tensors on fixed images in `<arch>/reference.npz`: the
  preprocessed input, backbone endpoints, feature maps (FPN levels), anchors,
  raw box encodings and class predictions, post-processed detections (also
  with `use_class_agnostic_nms: true`, prefixed `agnostic_`) and the
  exporter's `serving_default` outputs;
- for OD_EXPORTS, exports the checkpoint with the OD API's exporter into `<arch>/od_export/`;
- for LOSS_REFERENCES, its training targets and losses on fixed boxes in `<arch>/loss_reference.npz`; for
  TRAIN_STEP_REFERENCES two steps of the OD API's own train step (`model_lib_v2.eager_train_step`, the config's optimizer and
  learning-rate schedule) on a fixed two-image batch: `<arch>/train_step/` (the batch, the losses, the
  weights after each step);
- (first shard) its data augmentations on fixed images, boxes and random draws in `augmentations/<op>.npz`.

Usage: make_zoo_fixtures.py CONFIG_DIR OUT_DIR [ARCH ... | --shard=K/N]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import zlib

import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from object_detection import exporter_lib_v2, model_lib_v2
from object_detection.builders import model_builder, optimizer_builder, post_processing_builder
from object_detection.core import standard_fields as fields
from object_detection.core import preprocessor, preprocessor_cache
from object_detection.meta_architectures import center_net_meta_arch
from object_detection.protos import pipeline_pb2

# name -> (zoo config file, input size override or None, write a classification checkpoint)
ARCHITECTURES = {
    "ssd_mobilenet_v2_fpnlite_320": ("ssd_mobilenet_v2_fpnlite_320x320.config", None, True),
    "ssd_mobilenet_v2_320": ("ssd_mobilenet_v2_320x320.config", None, False),
    # Same networks as the zoo's 640 models; a smaller input keeps the fixture cheap (the 640 input as
    # shipped, its anchors and its export are the FPN-lite 640 fixture's).
    "ssd_resnet50_v1_fpn_320": ("ssd_resnet50_v1_fpn_640x640.config", 320, True),
    "ssd_resnet101_v1_fpn_256": ("ssd_resnet101_v1_fpn_640x640.config", 256, False),
    # SSD MobileNet V1 FPN 640 as shipped (a RetinaNet on MobileNetV1) at 320.
    "ssd_mobilenet_v1_fpn_320": ("ssd_mobilenet_v1_fpn_640x640.config", 320, True),
    # EfficientDet-D0 as shipped (keep_aspect_ratio_resizer padded to a square, no background class, BiFPN
    # levels 3..7) at 256 (360x480 → 192x256, padded); D1..D7 are the same code at other depths and sizes.
    "ssd_efficientdet_d0_256": ("ssd_efficientdet_d0_512x512.config", 256, True),
    # Faster R-CNN: keep_aspect_ratio_resizer min/max dimension set to the size (360x480 → 192x256, padded).
    "faster_rcnn_resnet50_v1_256": ("faster_rcnn_resnet50_v1_640x640.config", 256, True),
    # The zoo's 1024x1024 config as shipped (fixed_shape_resizer, random_square_crop_by_scale, the TPU switches),
    # at 128x128. (Its 640x640 config is the ResNet-50 one but for the feature extractor type.)
    "faster_rcnn_resnet101_v1_128": ("faster_rcnn_resnet101_v1_1024x1024.config", 128, False),
    # The 800x1333 config as shipped, its keep_aspect_ratio_resizer at 96..160 (the same 0.6 ratio).
    "faster_rcnn_resnet152_v1_96x160": ("faster_rcnn_resnet152_v1_800x1333.config", (96, 160), False),
    # EfficientDet-D7 as shipped (EfficientNet-b6, BiFPN of 8 iterations at 384 filters, the `sum` combine:
    # D6's network too) at 256. On demand only (`make zoo-large`): 53M variables, too slow for `make test`.
    "ssd_efficientdet_d7_256": ("ssd_efficientdet_d7_1536x1536.config", 256, False),
    # CenterNet ResNet-101 V1 FPN as shipped (keep_aspect_ratio_resizer, Keras' ResNet101, one stride-4 map) at
    # 128 (360x480 → 96x128, padded).
    "center_net_resnet101_v1_fpn_128": ("centernet_resnet101_v1_fpn_512x512.config", 128, True),
    # CenterNet ResNet-50 V2 512x512 (Keras' ResNet50V2 and three conv + transposed-conv stages) at 128.
    "center_net_resnet50_v2_128": ("centernet_resnet50_v2_512x512.config", 128, False),
    # CenterNet MobileNetV2 FPN 512x512 (the zoo's network: the type without use_separable_conv) at 128.
    "center_net_mobilenet_v2_fpn_128": ("centernet_mobilenetv2_fpn_512x512.config", 128, True),
    # CenterNet ResNet-50 V1 FPN Keypoints as shipped (COCO's 17 person keypoints: the three keypoint heads,
    # their candidates and refinement), at 128; its keypoint label map is tests/data/label_maps' COCO person one.
    "center_net_resnet50_v1_fpn_kpts_128": ("centernet_resnet50_v1_fpn_512x512_kpts.config", 128, False),
    # CenterNet Hourglass: the zoo's HourGlass104 512x512 config with the OD API's `hourglass_20` type (one
    # stack of the same blocks, three stages) at 128; and as shipped (two stacks, 188M variables) on demand, at
    # 256: at 128 its fifth stage is 1x1, where two images' batch statistics leave the random network's
    # activations at 1e11 and its outputs to rounding.
    "center_net_hourglass20_128": ("centernet_hourglass104_512x512.config", 128, False),
    "center_net_hourglass104_256": ("centernet_hourglass104_512x512.config", 256, False),
}
# Fixtures whose config's feature extractor type is changed (to a smaller network of the same OD API code).
FEATURE_EXTRACTOR_TYPES = {"center_net_hourglass20_128": "hourglass_20"}
# The keypoint label map of the configs with a keypoint_estimation_task (theirs say PATH_TO_BE_CONFIGURED).
KEYPOINT_LABEL_MAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data",
                                  "label_maps", "coco_person_keypoints.pbtxt")
# Written only when named (`make zoo-large`), never by default or by a shard.
ON_DEMAND = ("ssd_efficientdet_d7_256", "center_net_hourglass104_256")
# Seconds each fixture took on 2026-12-07's 2-core machine (both shards running), its loss and train-step
# references included: `--shard=K/N` hands them out largest first to the least loaded shard, so the shards end
# together.
SECONDS = {"ssd_mobilenet_v2_fpnlite_320": 105, "ssd_efficientdet_d0_256": 36, "ssd_mobilenet_v2_320": 23,
           "ssd_resnet50_v1_fpn_320": 34, "ssd_resnet101_v1_fpn_256": 32, "faster_rcnn_resnet50_v1_256": 34,
           "faster_rcnn_resnet101_v1_128": 31, "faster_rcnn_resnet152_v1_96x160": 34, "ssd_mobilenet_v1_fpn_320": 25,
           "center_net_resnet101_v1_fpn_128": 26, "center_net_resnet50_v2_128": 11, "center_net_mobilenet_v2_fpn_128": 6,
           "center_net_resnet50_v1_fpn_kpts_128": 27, "center_net_hourglass20_128": 10}
IMAGE_SIZES = ((360, 480), (360, 480))   # (height, width) of the fixed images; one batch
# Faster R-CNN fixtures keep 32 of the zoo's 300 proposals: the same network and weights, fewer crops through
# conv5 (with 300, those crops were most of the two fixtures' 220 s, the longest part of `make test`'s set-up).
FASTER_RCNN_PROPOSALS = 32
# Fixtures also exported by the OD API's own exporter (`exporter_lib_v2.export_inference_graph`, what
# exporter_main_v2.py runs) into <arch>/od_export/: a colleague's OD API export for detflow to predict with.
OD_EXPORTS = ("ssd_mobilenet_v2_fpnlite_320",)
# Fixtures with the OD API's training targets and losses (`loss_reference.npz`): its `model.loss` and
# `_assign_targets` on a fixed image with large and small boxes, the model built for training.
LOSS_REFERENCES = ("ssd_mobilenet_v2_fpnlite_320", "ssd_efficientdet_d0_256", "center_net_resnet101_v1_fpn_128",
                   "center_net_resnet50_v1_fpn_kpts_128")
TRAIN_STEP_REFERENCES = ("ssd_mobilenet_v2_fpnlite_320",)
LOSS_BOXES = np.array([[0.10, 0.10, 0.45, 0.40], [0.50, 0.55, 0.95, 0.90],       # large
                       [0.60, 0.10, 0.655, 0.16], [0.20, 0.70, 0.25, 0.76],       # small: 16-19 px at 320,
                       [0.05, 0.80, 0.11, 0.85]], np.float32)                     # below every anchor's 0.5 IoU
LOSS_CLASSES = np.array([1, 2, 3, 3, 3])


def _without_imagenet_download() -> None:
    """The OD API builds CenterNet's depth-1.0 MobileNetV2 with Keras' ImageNet weights, downloaded at build time;
    the oracle has no network and replaces every weight anyway: build it without."""
    from object_detection.models import center_net_mobilenet_v2_fpn_feature_extractor as extractor
    build = extractor.mobilenetv2.mobilenet_v2

    def without_weights(*args, **kwargs):
        return build(*args, **{**kwargs, "weights": None})
    extractor.mobilenetv2.mobilenet_v2 = without_weights


_without_imagenet_download()


def fixed_images(seed: int = 7) -> np.ndarray:
    """Two deterministic uint8 RGB images: smooth colour fields with rectangles and discs."""
    rng = np.random.default_rng(seed)
    out = []
    for height, width in IMAGE_SIZES:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        image = np.zeros((height, width, 3), np.float32)
        for c in range(3):
            fy, fx, phase = rng.uniform(0.005, 0.03), rng.uniform(0.005, 0.03), rng.uniform(0, 6.3)
            image[..., c] = 127 + 80 * np.sin(fy * yy + fx * xx + phase)
        for _ in range(6):
            y0, x0 = rng.integers(0, height - 60), rng.integers(0, width - 60)
            h, w = rng.integers(30, 160), rng.integers(30, 160)
            image[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 255, 3)
        for _ in range(4):
            cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(15, 70)
            image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
        image += rng.normal(0, 6, image.shape)
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(out)


def load_config(path: str, size: int | tuple[int, int] | None) -> pipeline_pb2.TrainEvalPipelineConfig:
    """The zoo config, with its image resizer set to `size` when given.

    The resizer the config has: fixed_shape_resizer height and width, or keep_aspect_ratio_resizer
    min_dimension and max_dimension (both `size`, or `size`'s (min, max)). Faster R-CNN: FASTER_RCNN_PROPOSALS
    proposals.
    """
    config = pipeline_pb2.TrainEvalPipelineConfig()
    with open(path, encoding="utf-8") as f:
        text_format.Merge(f.read(), config)
    if config.model.WhichOneof("model") == "faster_rcnn":
        config.model.faster_rcnn.first_stage_max_proposals = FASTER_RCNN_PROPOSALS
    resizer = getattr(config.model, config.model.WhichOneof("model")).image_resizer
    if size and resizer.WhichOneof("image_resizer_oneof") == "fixed_shape_resizer":
        resizer.fixed_shape_resizer.height = resizer.fixed_shape_resizer.width = size
    elif size:
        low, high = size if isinstance(size, tuple) else (size, size)
        resizer.keep_aspect_ratio_resizer.min_dimension, resizer.keep_aspect_ratio_resizer.max_dimension = low, high
    return config


def batch_norm_layers(model) -> list:
    """Every batch-norm layer inside the detection model.

    Found by its moving statistics: the OD API's FreezableBatchNorm is not an instance of
    `tf.keras.layers.BatchNormalization` as this environment exports it.
    """
    seen, out = set(), []
    for module in model.submodules:
        if hasattr(module, "moving_variance") and hasattr(module, "momentum") and id(module) not in seen:
            seen.add(id(module))
            out.append(module)
    return out


def randomize(model, rng: np.random.Generator) -> int:
    """He-scaled kernels, random biases and BN scale/offset; returns how many variables were set."""
    count = 0
    for var in model.variables:
        name, shape = var.name, var.shape.as_list()
        if "depthwise_kernel" in name:
            std = np.sqrt(2.0 / (shape[0] * shape[1]))
        elif "kernel" in name:
            std = np.sqrt(2.0 / float(np.prod(shape[:-1])))
        elif name.endswith("bias:0"):
            std = 0.05
        elif "gamma" in name:
            var.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
            count += 1
            continue
        elif "beta" in name:
            std = 0.2
        elif "bifpn_combine_weights" in name:      # BiFPN fast-attention weights: positive, unequal
            var.assign(rng.uniform(0.2, 1.5, shape).astype(np.float32))
            count += 1
            continue
        else:
            continue
        value = rng.normal(0.0, std, shape).astype(np.float32)
        if "ClassPredictor" in name and name.endswith("bias:0"):
            value += -2.0
        var.assign(value)
        count += 1
    return count


def calibrate_batch_norm(model, preprocessed, shapes) -> None:
    """Sets every BN layer's moving statistics to the batch statistics of the fixed images.

    The meta-architectures call their Keras models without a `training` argument, so batch
    norm follows the Keras learning phase: it must be 1 for this one pass (the OD API's own
    training loop sets it so), or every layer keeps its initial statistics (mean 0, variance 1)
    and the random network's activations grow with depth (conv4 of the ResNet-50 Faster
    R-CNN reached a standard deviation of 3e4).
    """
    layers = batch_norm_layers(model)
    # The OD API's FreezableBatchNorm holds `_training`; Keras' own (EfficientNet's) follows the learning phase.
    saved = [(layer, getattr(layer, "_training", None), layer.momentum) for layer in layers]
    for layer in layers:
        if hasattr(layer, "_training"):
            layer._training = True  # pylint: disable=protected-access
        layer.momentum = 0.0
    tf.keras.backend.set_learning_phase(1)
    try:
        model.predict(preprocessed, shapes)
        if any(np.all(layer.moving_variance.numpy() == 1.0) for layer in layers):
            # Layers of the classification backbone the detector does not use (EfficientNet's top_bn):
            # calibrated on a pass of the backbone itself, for its own (ImageNet) outputs.
            model._feature_extractor.classification_backbone(preprocessed)  # pylint: disable=protected-access
    finally:
        tf.keras.backend.set_learning_phase(0)
    for layer, training, momentum in saved:
        if hasattr(layer, "_training"):
            layer._training = training  # pylint: disable=protected-access
        layer.momentum = momentum
    stale = [layer.name for layer in layers if np.all(layer.moving_variance.numpy() == 1.0)]
    if not layers or stale:
        raise RuntimeError(f"batch norm statistics not calibrated: {', '.join(stale[:5])}")


SSD_PREDICTORS = (("class_predictions_with_background", "ClassPredictor", 1.5),
                  ("box_encodings", "BoxPredictor", 0.5),
                  ("box_encodings", "BoxEncodingPredictor", 0.5))
# CenterNet: its heads' last 1x1 convs (the predictions are lists, one per feature map: the last counts).
CENTER_NET_PREDICTORS = (("object_center", 1.5), ("box/scale", 3.0), ("box/offset", 0.5),
                         ("human_pose/keypoint/heatmap", 1.5), ("human_pose/keypoint/offset", 0.5))
# Mean logits of the heatmaps after rescaling: few centers above 0.5; keypoint candidates (>= 0.1) some.
CENTER_NET_HEATMAP_MEANS = (("object_center", -3.5), ("human_pose/keypoint/heatmap", -3.0))
# With a keypoint task: boxes of some 4 cells and the task's class among the top detections, so that keypoints
# regressed about 1 cell from the centers snap to candidates in their boxes (the references' interesting part).
KEYPOINT_REGRESSION_STD = 1.0
KEYPOINT_BOX_SCALE_MEAN = 4.0
KEYPOINT_CLASS_LOGIT_BOOST = 2.0
# Faster R-CNN: the RPN's first (proposals depend on it), then the second stage's.
FRCNN_PREDICTORS = (("rpn_objectness_predictions_with_background", "ClassPredictor", 1.5),
                    ("rpn_box_encodings", "BoxEncodingPredictor", 0.5),
                    ("class_predictions_with_background", "ClassPredictor_dense", 1.5),
                    ("refined_box_encodings", "BoxEncodingPredictor_dense", 0.5))


def rescale_predictors(model, preprocessed, shapes, predictors=SSD_PREDICTORS) -> None:
    """Scales the last box and class convolutions so encodings and logits stay in a useful range.

    Random He-scaled predictors give logits of std ~5 (every sigmoid score 1.0, NMS order left to
    ties) and box encodings that decode far outside the image; aim for std 1.5 and 0.5.
    """
    for key, pattern, target in predictors:
        kernels = [v for v in model.variables if v.name.split("/")[-2] == pattern
                   and v.name.split("/")[-1] in ("kernel:0", "pointwise_kernel:0")]
        if not kernels:
            continue
        std = float(np.std(model.predict(preprocessed, shapes)[key].numpy()))
        for var in kernels:
            var.assign(var * (target / std))


def rescale_center_net_heads(model, preprocessed, shapes) -> None:
    """CENTER_NET_PREDICTORS: scales each head's last conv (kernel and bias) to that output std; the center
    logits are then shifted to a mean of -3.5, so that few locations score above 0.5, as after training."""
    heads = model._prediction_head_dict  # pylint: disable=protected-access
    for key, target in [(k, t) for k, t in CENTER_NET_PREDICTORS if k in heads]:
        std = float(np.std(model.predict(preprocessed, shapes)[key][-1].numpy()))
        for head in heads[key]:
            last = head.layers[-1]
            last.kernel.assign(last.kernel * (target / std))
            last.bias.assign(last.bias * (target / std))
    means = list(CENTER_NET_HEATMAP_MEANS)
    if model._kp_params_dict:  # pylint: disable=protected-access
        means.append(("box/scale", KEYPOINT_BOX_SCALE_MEAN))
        for task in model._kp_params_dict.values():  # pylint: disable=protected-access
            key = f"{task.task_name}/keypoint/regression"
            std = float(np.std(model.predict(preprocessed, shapes)[key][-1].numpy()))
            for head in heads[key]:
                head.layers[-1].kernel.assign(head.layers[-1].kernel * (KEYPOINT_REGRESSION_STD / std))
                head.layers[-1].bias.assign(head.layers[-1].bias * (KEYPOINT_REGRESSION_STD / std))
    for key, target in [(k, t) for k, t in means if k in heads]:
        mean = float(np.mean(model.predict(preprocessed, shapes)[key][-1].numpy()))
        for head in heads[key]:
            head.layers[-1].bias.assign(head.layers[-1].bias - (mean - target))
    for task in (model._kp_params_dict or {}).values():  # pylint: disable=protected-access
        for head in heads["object_center"]:
            boost = np.zeros(head.layers[-1].bias.shape, np.float32)
            boost[task.class_id] = KEYPOINT_CLASS_LOGIT_BOOST
            head.layers[-1].bias.assign_add(boost)


# A CenterNet post_processing for the NMS references (the zoo's CenterNet configs have none).
CENTER_NET_NMS = ("batch_non_max_suppression { score_threshold: 0.01 iou_threshold: 0.4 max_detections_per_class: 8 "
                  "max_total_detections: 30 change_coordinate_frame: false }")


def center_net_references(model, preprocessed, shapes) -> dict:
    """A CenterNet's backbone endpoints, feature map, heads and detections (and `_prediction`)."""
    extractor = model._feature_extractor  # pylint: disable=protected-access
    endpoints = (getattr(extractor, "_resnet_model", None) or getattr(extractor, "_fpn_model", None)
                 or extractor._network)  # pylint: disable=protected-access  (Hourglass: its stacks' outputs)
    outputs = endpoints(preprocessed)
    ref = {f"backbone_{i}": t.numpy() for i, t in enumerate(outputs if isinstance(outputs, list) else [outputs])}
    prediction = model.predict(preprocessed, shapes)
    ref["feature_map_0"] = prediction["extracted_features"][-1].numpy()
    for key in ("object_center", "box/scale", "box/offset"):
        ref[key.replace("/", "_")] = prediction[key][-1].numpy()
    detections = model.postprocess(prediction, shapes)
    for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections",
                "detection_multiclass_scores", "detection_boxes_strided"):
        ref[key] = detections[key].numpy()
    # With the post_processing of CENTER_NET_NMS: the OD API's NMS over the peaks' boxes.
    post = pipeline_pb2.TrainEvalPipelineConfig()
    text_format.Merge(CENTER_NET_NMS, post.model.center_net.post_processing)
    model._non_max_suppression_fn, _ = post_processing_builder.build(  # pylint: disable=protected-access
        post.model.center_net.post_processing)
    try:
        nmsed = model.postprocess(prediction, shapes)
    finally:
        model._non_max_suppression_fn = None  # pylint: disable=protected-access
    for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections"):
        ref[f"nms_{key}"] = nmsed[key].numpy()
    if model._kp_params_dict:  # pylint: disable=protected-access
        ref.update(center_net_keypoint_references(model, prediction, shapes))
    ref["_prediction"] = prediction
    return ref


KEYPOINT_OUTPUTS = ("detection_keypoints", "detection_keypoint_scores", "detection_scores")
# A keypoint task's post-processing switches that change no variable, for a second reference.
KEYPOINT_VARIANT = {"clip_out_of_frame_keypoints": True, "rescore_instances": True, "rescoring_threshold": 0.3,
                    "candidate_ranking_mode": "score_distance_ratio"}


def center_net_keypoint_references(model, prediction, shapes) -> dict:
    """A keypoint CenterNet's keypoint heads and keypoints: as configured (its multi-class post-processing);
    with KEYPOINT_VARIANT (`variant_*`); and as a one-class model, its center heatmap cut to the task's class
    (the OD API's single-class post-processing, `single_*`)."""
    params = model._kp_params_dict  # pylint: disable=protected-access
    ref = {key.replace("/", "_"): prediction[key][-1].numpy() for key in prediction
           if "/keypoint/" in key}
    ref.update({key: value.numpy() for key, value in model.postprocess(prediction, shapes).items()
                if key in KEYPOINT_OUTPUTS})
    # Plain namedtuples in a plain dict: the model's are trackable wrappers, and a namedtuple set into its
    # dict comes back with its fields scrambled.
    original = {name: center_net_meta_arch.KeypointEstimationParams._make(list(task))
                for name, task in params.items()}
    num_classes = model._num_classes  # pylint: disable=protected-access
    try:
        object.__setattr__(model, "_kp_params_dict", {name: task._replace(**KEYPOINT_VARIANT)
                                                      for name, task in original.items()})
        ref.update({f"variant_{key}": value.numpy() for key, value in model.postprocess(prediction, shapes).items()
                    if key in KEYPOINT_OUTPUTS})
        (name, task), = original.items()
        object.__setattr__(model, "_kp_params_dict", {name: task._replace(class_id=0)})
        model._num_classes = 1  # pylint: disable=protected-access
        one_class = {**prediction, "object_center": [p[..., task.class_id:task.class_id + 1]
                                                     for p in prediction["object_center"]]}
        ref["single_object_center"] = one_class["object_center"][-1].numpy()
        ref.update({f"single_{key}": value.numpy() for key, value in model.postprocess(one_class, shapes).items()
                    if key in KEYPOINT_OUTPUTS + ("detection_boxes", "num_detections")})
    finally:
        object.__setattr__(model, "_kp_params_dict", params)
        model._num_classes = num_classes  # pylint: disable=protected-access
    return ref


def class_agnostic_detections(model, config, prediction, shapes) -> dict:
    """The model's post-processed detections with the config's NMS switched to use_class_agnostic_nms."""
    post = pipeline_pb2.TrainEvalPipelineConfig()
    post.CopyFrom(config)
    post.model.ssd.post_processing.batch_non_max_suppression.use_class_agnostic_nms = True
    nms_fn, _ = post_processing_builder.build(post.model.ssd.post_processing)
    original = model._non_max_suppression_fn  # pylint: disable=protected-access
    model._non_max_suppression_fn = nms_fn  # pylint: disable=protected-access
    try:
        detections = model.postprocess(prediction, shapes)
    finally:
        model._non_max_suppression_fn = original  # pylint: disable=protected-access
    return {key: detections[key].numpy()
            for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections")}


def faster_rcnn_references(model, preprocessed, shapes) -> dict:
    """Both stages' tensors of a Faster R-CNN on the preprocessed images, and its detections.

    Proposal scores are not in `predict`'s outputs: they come from the meta-architecture's
    own `_postprocess_rpn` on the same first-stage outputs. Box classifier features are
    kept for the first 8 proposals of each image only (all of them are ~80 MB).
    """
    prediction = model.predict(preprocessed, shapes)
    ref = {key: prediction[key].numpy() for key in (
        "rpn_box_encodings", "rpn_objectness_predictions_with_background", "anchors", "proposal_boxes",
        "proposal_boxes_normalized", "num_proposals", "refined_box_encodings", "class_predictions_with_background")}
    ref["feature_map_0"] = prediction["rpn_features_to_crop"][0].numpy()
    ref["rpn_box_predictor_features"] = prediction["rpn_box_predictor_features"][0].numpy()
    image_shape_2d = model._image_batch_shape_2d(prediction["image_shape"])  # pylint: disable=protected-access
    boxes, scores, _, num, _, _ = model._postprocess_rpn(  # pylint: disable=protected-access
        prediction["rpn_box_encodings"], prediction["rpn_objectness_predictions_with_background"],
        prediction["anchors"], image_shape_2d, shapes)
    np.testing.assert_array_equal(boxes.numpy(), ref["proposal_boxes_normalized"])
    ref["proposal_scores"], ref["num_proposals_check"] = scores.numpy(), num.numpy()
    per_image = model.max_num_proposals
    features = prediction["box_classifier_features"].numpy()
    ref["box_classifier_features_head"] = np.concatenate([features[i * per_image:i * per_image + 8]
                                                          for i in range(preprocessed.shape[0])])
    detections = model.postprocess(prediction, shapes)
    for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections"):
        ref[key] = detections[key].numpy()
    return ref


KEYPOINT_LABEL_MAP_FILE = "keypoint_label_map.pbtxt"


def write_config(config, out: str) -> None:
    """`<out>/pipeline.config`; a keypoint label map by its name beside it (a fixture folder is moved into place
    after it is written: detflow reads a relative path beside the config)."""
    if config.model.WhichOneof("model") == "center_net" and config.model.center_net.keypoint_estimation_task:
        config = pipeline_pb2.TrainEvalPipelineConfig.FromString(config.SerializeToString())
        config.model.center_net.keypoint_label_map_path = KEYPOINT_LABEL_MAP_FILE
    with open(os.path.join(out, "pipeline.config"), "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))


def with_keypoint_label_map(config, out: str):
    """The config with its keypoint label map at its absolute place in fixture folder `out` (the OD API reads the
    path as given)."""
    if config.model.WhichOneof("model") == "center_net" and config.model.center_net.keypoint_estimation_task:
        config.model.center_net.keypoint_label_map_path = os.path.join(os.path.abspath(out), KEYPOINT_LABEL_MAP_FILE)
    return config


def write_fixture(name: str, config_path: str, size: int | tuple[int, int] | None, classification: bool,
                  out_root: str) -> dict:
    """Builds, randomises, saves and runs one architecture; returns a summary."""
    started = time.time()
    config = load_config(config_path, size)
    if name in FEATURE_EXTRACTOR_TYPES:
        getattr(config.model, config.model.WhichOneof("model")).feature_extractor.type = FEATURE_EXTRACTOR_TYPES[name]
    frcnn = config.model.WhichOneof("model") == "faster_rcnn"
    center_net = config.model.WhichOneof("model") == "center_net"
    out = os.path.join(out_root, name)
    tf.io.gfile.makedirs(out)
    if center_net and config.model.center_net.keypoint_estimation_task:
        shutil.copyfile(KEYPOINT_LABEL_MAP, os.path.join(out, KEYPOINT_LABEL_MAP_FILE))
        with_keypoint_label_map(config, out)
    images = fixed_images()
    tf.keras.utils.set_random_seed(0)
    model = model_builder.build(config.model, is_training=False)
    preprocessed, shapes = model.preprocess(tf.cast(images, tf.float32))
    model.postprocess(model.predict(preprocessed, shapes), shapes)      # creates every variable
    randomize(model, np.random.default_rng(zlib.crc32(name.encode())))
    calibrate_batch_norm(model, preprocessed, shapes)
    if center_net:
        rescale_center_net_heads(model, preprocessed, shapes)
    else:
        rescale_predictors(model, preprocessed, shapes, FRCNN_PREDICTORS if frcnn else SSD_PREDICTORS)

    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), os.path.join(out, "checkpoint"),
                               max_to_keep=1).save(checkpoint_number=0)
    write_config(config, out)
    # (The OD API's hourglass extractors have none: it raises.)
    backbone = (None if center_net and not classification
                else model._feature_extractor.classification_backbone)  # pylint: disable=protected-access
    if classification:
        tf.train.Checkpoint(feature_extractor=backbone).save(os.path.join(out, "classification", "ckpt"))

    ref = {"images": images, "preprocessed": preprocessed.numpy(), "true_image_shapes": shapes.numpy()}
    if frcnn:
        ref.update(faster_rcnn_references(model, preprocessed, shapes))
        prediction = None
    elif center_net:
        ref.update(center_net_references(model, preprocessed, shapes))
        prediction = ref.pop("_prediction")
    else:
        ref.update(ssd_references(model, config, backbone, preprocessed, shapes))
        prediction = ref.pop("_prediction")
    serving = exporter_lib_v2.DetectionFromImageModule(model)
    per_image = [serving.__call__(tf.constant(image[None])) for image in images]
    for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections",
                "detection_keypoints", "detection_keypoint_scores"):
        if key in per_image[0]:
            ref[f"serving_{key}"] = np.concatenate([d[key].numpy() for d in per_image])
    np.savez_compressed(os.path.join(out, "reference.npz"), **ref)
    if name in OD_EXPORTS:
        exporter_lib_v2.export_inference_graph("image_tensor", config, os.path.join(out, "checkpoint"),
                                               os.path.join(out, "od_export"))

    reader = tf.train.load_checkpoint(os.path.join(out, "checkpoint", "ckpt-0"))
    keys = {k: v for k, v in reader.get_variable_to_shape_map().items() if k.endswith("VARIABLE_VALUE")}
    summary = {"name": name, "config": os.path.basename(config_path), "input_size": size,
               "num_checkpoint_variables": len([k for k in keys if k != "save_counter/.ATTRIBUTES/VARIABLE_VALUE"]),
               "num_feature_maps": 1 if frcnn or center_net else len(prediction["feature_maps"]),
               "num_anchors": 0 if center_net else int(ref["anchors"].shape[0]),
               "seconds": round(time.time() - started, 1)}
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return summary


def ssd_references(model, config, backbone, preprocessed, shapes) -> dict:
    """An SSD's backbone endpoints, feature maps, raw outputs and detections (and `_prediction`)."""
    ref = {}
    endpoints = backbone(preprocessed)
    endpoints = endpoints if isinstance(endpoints, (list, tuple)) else [endpoints]
    for i, tensor in enumerate(endpoints):
        ref[f"backbone_{i}"] = tensor.numpy()
    prediction = model.predict(preprocessed, shapes)
    for i, tensor in enumerate(prediction["feature_maps"]):
        ref[f"feature_map_{i}"] = tensor.numpy()
    ref["anchors"] = prediction["anchors"].numpy()
    ref["box_encodings"] = prediction["box_encodings"].numpy()
    ref["class_predictions_with_background"] = prediction["class_predictions_with_background"].numpy()
    detections = model.postprocess(prediction, shapes)
    for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections"):
        ref[key] = detections[key].numpy()
    for key, value in class_agnostic_detections(model, config, prediction, shapes).items():
        ref[f"agnostic_{key}"] = value
    ref["_prediction"] = prediction
    return ref


CENTER_NET_LOSS_BOXES = (LOSS_BOXES, np.array([[0.30, 0.20, 0.80, 0.60], [0.70, 0.70, 0.76, 0.77]], np.float32))
CENTER_NET_LOSS_CLASSES = (LOSS_CLASSES, np.array([2, 3]))
# With a keypoint task (its class 1): persons among other classes in the first image, one in the second.
CENTER_NET_KEYPOINT_CLASSES = (np.array([1, 2, 1, 3, 1]), np.array([1, 3]))


def center_net_loss_keypoints(boxes: np.ndarray, num_keypoints: int, seed: int) -> np.ndarray:
    """[N, K, 2] keypoints (normalised y, x) of the loss references: in and about each box, a third NaN (not
    labelled), as the OD API's decoder gives invisible keypoints."""
    rng = np.random.default_rng(100 + seed)
    low, high = boxes[:, None, :2], boxes[:, None, 2:]
    points = low + rng.uniform(-0.1, 1.1, (len(boxes), num_keypoints, 2)) * (high - low)
    points[rng.uniform(size=(len(boxes), num_keypoints)) < 0.33] = np.nan
    return np.clip(points, 0.0, 0.999).astype(np.float32)


def write_center_net_loss_reference(name: str, out_root: str) -> None:
    """The OD API's CenterNet targets and losses on two fixed images, in `<name>/loss_reference.npz`.

    The second image's true shape is smaller than the input (as a keep-aspect resize leaves it), so the
    losses' valid-location weights are exercised.
    """
    out = os.path.join(out_root, name)
    config = with_keypoint_label_map(load_config(os.path.join(out, "pipeline.config"), None), out)
    model = model_builder.build(config.model, is_training=True)
    size = config.model.center_net.image_resizer.keep_aspect_ratio_resizer.max_dimension
    images = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype(np.float32)
    tf.keras.backend.set_learning_phase(True)
    preprocessed = model._feature_extractor.preprocess(tf.constant(images))  # pylint: disable=protected-access
    shapes = tf.constant([[size, size, 3], [size * 3 // 4, size, 3]], tf.int32)
    model.predict(preprocessed, shapes)                                     # creates every variable
    tf.train.Checkpoint(model=model).restore(os.path.join(out, "checkpoint", "ckpt-0")).expect_partial() \
        .assert_existing_objects_matched()
    num_classes = config.model.center_net.num_classes
    keypoint_tasks = config.model.center_net.keypoint_estimation_task
    classes_list = CENTER_NET_KEYPOINT_CLASSES if keypoint_tasks else CENTER_NET_LOSS_CLASSES
    boxes = [tf.constant(b) for b in CENTER_NET_LOSS_BOXES]
    onehot = [tf.one_hot(c - 1, num_classes) for c in classes_list]
    keypoints = [center_net_loss_keypoints(b, config.train_input_reader.num_keypoints, seed=i)
                 for i, b in enumerate(CENTER_NET_LOSS_BOXES)] if keypoint_tasks else None
    model.provide_groundtruth(groundtruth_boxes_list=boxes, groundtruth_classes_list=onehot,
                              groundtruth_weights_list=[tf.ones(len(c)) for c in classes_list],
                              groundtruth_keypoints_list=None if keypoints is None else [tf.constant(k)
                                                                                          for k in keypoints])
    prediction = model.predict(preprocessed, shapes)
    losses = model.loss(prediction, shapes)
    assigner = model._target_assigner_dict["object_center"]  # pylint: disable=protected-access
    heatmaps = assigner.assign_center_targets_from_boxes(size, size, boxes, onehot)
    ref = {"images": images, "true_image_shapes": shapes.numpy(), "heatmap_targets": heatmaps.numpy(),
           **{f"boxes_{i}": b for i, b in enumerate(CENTER_NET_LOSS_BOXES)},
           **{f"classes_{i}": c for i, c in enumerate(classes_list)},
           **{key.replace("/", "_"): prediction[key][-1].numpy()
              for key in prediction if key not in ("preprocessed_inputs", "extracted_features")},
           **{key.replace("/", "_"): float(value) for key, value in losses.items()}}
    for task in keypoint_tasks:
        heat, _, valid = model._target_assigner_dict[task.task_name].assign_keypoint_heatmap_targets(  # pylint: disable=protected-access
            size, size, [tf.constant(k) for k in keypoints], onehot, gt_weights_list=[tf.ones(len(c))
                                                                                      for c in classes_list],
            gt_boxes_list=boxes)
        ref.update({f"{task.task_name}_heatmap_targets": heat.numpy(), f"{task.task_name}_valid_mask": valid.numpy(),
                    **{f"keypoints_{i}": k for i, k in enumerate(keypoints)}})
    np.savez_compressed(os.path.join(out, "loss_reference.npz"), **ref)
    tf.keras.backend.set_learning_phase(False)


def write_loss_reference(name: str, out_root: str) -> None:
    """The OD API's SSD training targets and losses on one fixed image, in `<name>/loss_reference.npz`.

    Built for training (`is_training=True`, the learning phase on, as model_lib_v2's train step sets
    it) from the fixture's own config and checkpoint. Runs after every other fixture of the process:
    the learning phase is global.
    """
    out = os.path.join(out_root, name)
    config = with_keypoint_label_map(load_config(os.path.join(out, "pipeline.config"), None), out)
    model = model_builder.build(config.model, is_training=True)
    resizer = config.model.ssd.image_resizer
    size = (resizer.fixed_shape_resizer.height if resizer.HasField("fixed_shape_resizer")
            else resizer.keep_aspect_ratio_resizer.max_dimension)        # an image the resizer leaves as it is
    image = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    tf.keras.backend.set_learning_phase(True)
    preprocessed, shapes = model.preprocess(tf.constant(image))
    model.predict(preprocessed, shapes)                                     # creates every variable
    tf.train.Checkpoint(model=model).restore(os.path.join(out, "checkpoint", "ckpt-0")).expect_partial() \
        .assert_existing_objects_matched()
    onehot = tf.one_hot(LOSS_CLASSES - 1, config.model.ssd.num_classes)
    model.provide_groundtruth(groundtruth_boxes_list=[tf.constant(LOSS_BOXES)], groundtruth_classes_list=[onehot])
    prediction = model.predict(preprocessed, shapes)
    losses = model.loss(prediction, shapes)
    cls_targets, _, _, reg_weights, _ = model._assign_targets(  # pylint: disable=protected-access
        [tf.constant(LOSS_BOXES)], [onehot])
    cls_targets = cls_targets.numpy()[0]
    positive = cls_targets.sum(-1) > 0
    first_class = 0 if config.model.ssd.add_background_class else 1     # the column of class 1
    np.savez_compressed(os.path.join(out, "loss_reference.npz"), image=image, boxes=LOSS_BOXES, classes=LOSS_CLASSES,
                        localization_loss=float(losses["Loss/localization_loss"]),
                        classification_loss=float(losses["Loss/classification_loss"]),
                        anchor_classes=np.where(positive, cls_targets.argmax(-1) + first_class, 0),
                        box_weights=reg_weights.numpy()[0], box_encodings=prediction["box_encodings"].numpy(),
                        class_predictions=prediction["class_predictions_with_background"].numpy())
    tf.keras.backend.set_learning_phase(False)


# The train-step batch: the loss reference's boxes on one image, two boxes (one small) on a second.
TRAIN_STEP_BOXES = (LOSS_BOXES, np.array([[0.30, 0.20, 0.80, 0.60], [0.70, 0.70, 0.76, 0.77]], np.float32))
TRAIN_STEP_CLASSES = (LOSS_CLASSES, np.array([2, 3]))
TRAIN_STEPS = 2
# The fixture's weights are made for forward parity (class logits scaled up: a focal loss in the
# thousands); at the zoo's own learning rate one step moves weights by ~10 and the second step is
# chaotic. Scaled down, the two steps stay where float rounding cannot decide the result.
TRAIN_STEP_LEARNING_RATE_SCALE = 1e-3


def write_train_step_reference(name: str, out_root: str) -> None:
    """Two steps of the OD API's own train step from the fixture's checkpoint, in `<name>/train_step/`.

    `model_lib_v2.eager_train_step` (losses, regularization, the gradient of every trainable variable, the
    optimizer and learning-rate schedule of the fixture's config) on a fixed batch of two uint8 images
    at the model's input size, so the input resize is the identity: `batch.npz` (images, padded boxes,
    classes, box counts, each step's losses), `step-<k>` (tf.train.Checkpoint(model=...)) after step k,
    and the `pipeline.config` trained (the fixture's, its cosine learning rates scaled by
    TRAIN_STEP_LEARNING_RATE_SCALE).
    """
    out = os.path.join(out_root, name, "train_step")
    os.makedirs(out, exist_ok=True)
    config = load_config(os.path.join(out_root, name, "pipeline.config"), None)
    cosine = config.train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate
    cosine.learning_rate_base *= TRAIN_STEP_LEARNING_RATE_SCALE
    cosine.warmup_learning_rate *= TRAIN_STEP_LEARNING_RATE_SCALE
    with open(os.path.join(out, "pipeline.config"), "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    size = config.model.ssd.image_resizer.fixed_shape_resizer.height
    num_classes = config.model.ssd.num_classes
    images = np.random.default_rng(3).integers(0, 256, (len(TRAIN_STEP_BOXES), size, size, 3)).astype(np.uint8)
    most = max(len(b) for b in TRAIN_STEP_BOXES)
    boxes = np.zeros((len(images), most, 4), np.float32)
    classes = np.ones((len(images), most), np.int64)
    for i, (b, c) in enumerate(zip(TRAIN_STEP_BOXES, TRAIN_STEP_CLASSES)):
        boxes[i, :len(b)], classes[i, :len(c)] = b, c
    num = np.array([len(b) for b in TRAIN_STEP_BOXES], np.int32)
    tf.keras.backend.set_learning_phase(True)
    model = model_builder.build(config.model, is_training=True)
    preprocessed, shapes = model.preprocess(tf.constant(images, tf.float32))
    model.predict(preprocessed, shapes)
    tf.train.Checkpoint(model=model).restore(os.path.join(out_root, name, "checkpoint", "ckpt-0")).expect_partial() \
        .assert_existing_objects_matched()
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    optimizer, _ = optimizer_builder.build(config.train_config.optimizer, global_step=global_step)
    onehot = tf.one_hot(classes - 1, num_classes)
    features = {fields.InputDataFields.image: preprocessed, fields.InputDataFields.true_image_shape: shapes}
    labels = {fields.InputDataFields.groundtruth_boxes: tf.constant(boxes),
              fields.InputDataFields.groundtruth_classes: onehot,
              fields.InputDataFields.num_groundtruth_boxes: tf.constant(num),
              fields.InputDataFields.groundtruth_weights: tf.ones(classes.shape),
              fields.InputDataFields.groundtruth_confidences: onehot}
    losses = []
    for step in range(TRAIN_STEPS):
        found = model_lib_v2.eager_train_step(model, features, labels, True, optimizer, training_step=global_step)
        losses.append([float(found[k]) for k in ("Loss/classification_loss", "Loss/localization_loss",
                                                 "Loss/regularization_loss", "Loss/total_loss")])
        global_step.assign_add(1)
        tf.train.Checkpoint(model=model).write(os.path.join(out, f"step-{step + 1}"))
    np.savez_compressed(os.path.join(out, "batch.npz"), images=images, boxes=boxes, classes=classes, num=num,
                        losses=np.array(losses))
    tf.keras.backend.set_learning_phase(False)


# random_square_crop_by_scale cases: (image height, width, scale, y_center, x_center, max_border); centres
# inside and outside the OD API's own sampling range, crops inside, across and beyond the image.
SQUARE_CROP_CASES = ((60, 80, 0.6, 30, 40, 128), (60, 80, 1.3, 8, 72, 128), (100, 50, 0.9, 97, 3, 128),
                     (37, 53, 1.1, 18, 26, 4), (64, 64, 0.5, 16, 48, 16), (45, 90, 2.0, 0, 0, 128))


# random_crop_image cases: (image height, width, window top, left, height, width in pixels, overlap_thresh,
# clip_boxes); the window as tf.image.sample_distorted_bounding_box draws it; the zoo's 0.0 threshold too.
RANDOM_CROP_CASES = ((60, 80, 10, 20, 40, 50, 0.0, True), (60, 80, 0, 0, 60, 80, 0.3, True),
                     (100, 50, 30, 5, 45, 40, 0.3, True), (37, 53, 3, 7, 30, 40, 0.5, False),
                     (64, 64, 16, 16, 32, 32, 0.0, False), (45, 90, 20, 60, 25, 30, 1.0, True))


def fixed_boxes(rng, count: int = 12) -> np.ndarray:
    """`count` random normalised boxes (ymin, xmin, ymax, xmax), small and large, anywhere in the image."""
    ys, xs = np.sort(rng.uniform(0, 1, (2, count, 2)), axis=2)
    return np.stack([ys[:, 0], xs[:, 0], ys[:, 1], xs[:, 1]], axis=1).astype(np.float32)


def write_random_crop_reference(out_root: str) -> None:
    """The OD API's random_crop_image on fixed images and boxes, its sample_distorted_bounding_box draw set
    through the preprocessor cache, in `augmentations/random_crop_image.npz`."""
    rng = np.random.default_rng(11)
    out = {}
    for i, (height, width, top, left, crop_h, crop_w, overlap, clip) in enumerate(RANDOM_CROP_CASES):
        image = rng.uniform(0, 1, (height, width, 3)).astype(np.float32)
        boxes = fixed_boxes(rng)
        labels = np.arange(1, 13, dtype=np.int32)
        window = np.array([top / height, left / width, (top + crop_h) / height, (left + crop_w) / width], np.float32)
        cache = preprocessor_cache.PreprocessorCache()
        cache.update(preprocessor_cache.PreprocessorCache.STRICT_CROP_IMAGE, 1.0,
                     (tf.constant([top, left, 0]), tf.constant([crop_h, crop_w, -1]), tf.constant(window[None, None])))
        got = preprocessor.random_crop_image(
            tf.constant(image), tf.constant(boxes), tf.constant(labels), tf.ones([12]), min_object_covered=1.0,
            overlap_thresh=overlap, clip_boxes=clip, preprocess_vars_cache=cache)
        out.update({f"{i}/image": image, f"{i}/boxes": boxes, f"{i}/labels": labels, f"{i}/window": window,
                    f"{i}/overlap_thresh": np.array(overlap, np.float32), f"{i}/clip_boxes": np.array(clip),
                    f"{i}/out_image": got[0].numpy(), f"{i}/out_boxes": got[1].numpy(),
                    f"{i}/out_labels": got[2].numpy()})
    os.makedirs(os.path.join(out_root, "augmentations"), exist_ok=True)
    np.savez_compressed(os.path.join(out_root, "augmentations", "random_crop_image.npz"), **out)


# random_absolute_pad_image cases: (image height, width, target height, width, offset y, x, pad colour or None).
PAD_CASES = ((60, 80, 90, 100, 13, 7, (0.0, 0.0, 0.0)), (60, 80, 60, 80, 0, 0, (0.0, 0.0, 0.0)),
             (37, 53, 200, 60, 150, 6, (10.0, 200.0, 30.0)), (45, 90, 46, 190, 1, 99, None))


def write_pad_reference(out_root: str) -> None:
    """The OD API's random_absolute_pad_image on fixed 0..255 images and boxes, its draws (target size and offsets)
    set through the preprocessor cache, in `augmentations/random_absolute_pad_image.npz`."""
    rng = np.random.default_rng(17)
    out = {}
    for i, (height, width, target_h, target_w, top, left, color) in enumerate(PAD_CASES):
        image = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
        boxes = fixed_boxes(rng)
        cache = preprocessor_cache.PreprocessorCache()
        cache.update(preprocessor_cache.PreprocessorCache.PAD_IMAGE, "",
                     (tf.constant(target_h), tf.constant(target_w), tf.constant(top), tf.constant(left)))
        got = preprocessor.random_absolute_pad_image(
            tf.constant(image), tf.constant(boxes), max_height_padding=target_h - height + 1,
            max_width_padding=target_w - width + 1, pad_color=None if color is None else tf.constant(color),
            preprocess_vars_cache=cache)
        out.update({f"{i}/image": image, f"{i}/boxes": boxes,
                    f"{i}/draws": np.array([target_h, target_w, top, left], np.int32),
                    f"{i}/pad_color": np.array(color if color is not None else [], np.float32),
                    f"{i}/out_image": got[0].numpy(), f"{i}/out_boxes": got[1].numpy()})
    os.makedirs(os.path.join(out_root, "augmentations"), exist_ok=True)
    np.savez_compressed(os.path.join(out_root, "augmentations", "random_absolute_pad_image.npz"), **out)


# random_patch_gaussian cases: (image height, width, patch size, y, x, stddev): patches inside, across the edges
# and larger than the image.
PATCH_CASES = ((60, 80, 20, 30, 40, 0.5), (60, 80, 33, 2, 78, 1.0), (37, 53, 250, 18, 26, 0.2), (45, 90, 1, 44, 0, 0.8))


def write_patch_gaussian_reference(out_root: str) -> None:
    """The OD API's random_patch_gaussian on fixed 0..255 images, every draw (the patch, its place, the noise) set
    through the preprocessor cache, in `augmentations/random_patch_gaussian.npz`."""
    rng = np.random.default_rng(19)
    out = {}
    for i, (height, width, size, y, x, stddev) in enumerate(PATCH_CASES):
        image = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
        noise = rng.normal(0, stddev, (height, width, 3)).astype(np.float32)
        cache = preprocessor_cache.PreprocessorCache()
        key = preprocessor_cache.PreprocessorCache.PATCH_GAUSSIAN
        for name, value in (("", tf.constant(1.0)), ("patch_size", tf.constant(size)),
                            ("gaussian_stddev", tf.constant(stddev)), ("y", tf.constant(y)), ("x", tf.constant(x)),
                            ("gaussian", tf.constant(noise))):
            cache.update(key, name, value)
        got = preprocessor.random_patch_gaussian(tf.constant(image), preprocess_vars_cache=cache)
        out.update({f"{i}/image": image, f"{i}/noise": noise, f"{i}/draws": np.array([size, y, x], np.int32),
                    f"{i}/out_image": got.numpy()})
    os.makedirs(os.path.join(out_root, "augmentations"), exist_ok=True)
    np.savez_compressed(os.path.join(out_root, "augmentations", "random_patch_gaussian.npz"), **out)


# Keypoint cases: random_horizontal_flip's keypoint_flip_permutation (of 4 keypoints per object), flipped; the last
# is no involution, so that the order it is applied in shows.
FLIP_PERMUTATIONS = ((1, 0, 3, 2), (0, 1, 2, 3), (1, 2, 3, 0))


def fixed_keypoints(rng, count: int = 12, num_keypoints: int = 4) -> np.ndarray:
    """`count` objects' `num_keypoints` normalised (y, x) keypoints anywhere in the image, a fifth of them NaN (not
    labelled, as the OD API's decoder gives them)."""
    keypoints = rng.uniform(0, 1, (count, num_keypoints, 2)).astype(np.float32)
    keypoints[rng.uniform(0, 1, (count, num_keypoints)) < 0.2] = np.nan
    return keypoints


def _keypoint_visibilities(keypoints: np.ndarray) -> tf.Tensor:
    return tf.constant(~np.isnan(keypoints).any(axis=-1))


def _write_keypoint_flip(out_root: str) -> None:
    rng = np.random.default_rng(23)
    out = {}
    for i, permutation in enumerate(FLIP_PERMUTATIONS):
        image = rng.uniform(0, 1, (30, 40, 3)).astype(np.float32)
        boxes, keypoints = fixed_boxes(rng), fixed_keypoints(rng)
        cache = preprocessor_cache.PreprocessorCache()
        cache.update(preprocessor_cache.PreprocessorCache.HORIZONTAL_FLIP, "", tf.constant(0.0))   # below 0.5: flip
        got = preprocessor.random_horizontal_flip(
            tf.constant(image), tf.constant(boxes), keypoints=tf.constant(keypoints),
            keypoint_visibilities=_keypoint_visibilities(keypoints), keypoint_flip_permutation=permutation,
            preprocess_vars_cache=cache)
        out.update({f"{i}/image": image, f"{i}/boxes": boxes, f"{i}/keypoints": keypoints,
                    f"{i}/permutation": np.array(permutation, np.int32), f"{i}/out_image": got[0].numpy(),
                    f"{i}/out_boxes": got[1].numpy(), f"{i}/out_keypoints": got[2].numpy(),
                    f"{i}/out_visibilities": got[3].numpy()})
    np.savez_compressed(os.path.join(out_root, "augmentations", "keypoints_random_horizontal_flip.npz"), **out)


def _write_keypoint_crop(out_root: str) -> None:
    rng = np.random.default_rng(29)
    out = {}
    for i, (height, width, top, left, crop_h, crop_w, overlap, clip) in enumerate(RANDOM_CROP_CASES):
        image = rng.uniform(0, 1, (height, width, 3)).astype(np.float32)
        boxes, keypoints = fixed_boxes(rng), fixed_keypoints(rng)
        labels = np.arange(1, 13, dtype=np.int32)
        window = np.array([top / height, left / width, (top + crop_h) / height, (left + crop_w) / width], np.float32)
        cache = preprocessor_cache.PreprocessorCache()
        cache.update(preprocessor_cache.PreprocessorCache.STRICT_CROP_IMAGE, 1.0,
                     (tf.constant([top, left, 0]), tf.constant([crop_h, crop_w, -1]), tf.constant(window[None, None])))
        got = preprocessor.random_crop_image(
            tf.constant(image), tf.constant(boxes), tf.constant(labels), tf.ones([12]),
            keypoints=tf.constant(keypoints), keypoint_visibilities=_keypoint_visibilities(keypoints),
            min_object_covered=1.0, overlap_thresh=overlap, clip_boxes=clip, preprocess_vars_cache=cache)
        # image, boxes, labels, label weights, keypoints and, only where boxes are clipped, visibilities.
        visibilities = got[5].numpy() if clip else ~np.isnan(got[4].numpy()).any(axis=-1)
        out.update({f"{i}/image": image, f"{i}/boxes": boxes, f"{i}/labels": labels, f"{i}/keypoints": keypoints,
                    f"{i}/window": window, f"{i}/overlap_thresh": np.array(overlap, np.float32),
                    f"{i}/clip_boxes": np.array(clip), f"{i}/out_labels": got[2].numpy(),
                    f"{i}/out_keypoints": got[4].numpy(), f"{i}/out_visibilities": visibilities})
    np.savez_compressed(os.path.join(out_root, "augmentations", "keypoints_random_crop_image.npz"), **out)


def _write_keypoint_pad(out_root: str) -> None:
    rng = np.random.default_rng(31)
    out = {}
    for i, (height, width, target_h, target_w, top, left, _) in enumerate(PAD_CASES):
        image = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
        boxes, keypoints = fixed_boxes(rng), fixed_keypoints(rng)
        cache = preprocessor_cache.PreprocessorCache()
        cache.update(preprocessor_cache.PreprocessorCache.PAD_IMAGE, "",
                     (tf.constant(target_h), tf.constant(target_w), tf.constant(top), tf.constant(left)))
        got = preprocessor.random_absolute_pad_image(
            tf.constant(image), tf.constant(boxes), keypoints=tf.constant(keypoints),
            max_height_padding=target_h - height + 1, max_width_padding=target_w - width + 1,
            preprocess_vars_cache=cache)
        out.update({f"{i}/image": image, f"{i}/boxes": boxes, f"{i}/keypoints": keypoints,
                    f"{i}/draws": np.array([target_h, target_w, top, left], np.int32),
                    f"{i}/out_boxes": got[1].numpy(), f"{i}/out_keypoints": got[2].numpy()})
    np.savez_compressed(os.path.join(out_root, "augmentations", "keypoints_random_absolute_pad_image.npz"), **out)


def write_keypoint_augmentation_reference(out_root: str) -> None:
    """The OD API's random_horizontal_flip (with a keypoint_flip_permutation), random_crop_image and
    random_absolute_pad_image on fixed boxes and keypoints (a fifth NaN: not labelled), their draws set through the
    preprocessor cache as for the ops' image references, in `augmentations/keypoints_<op>.npz`: the keypoints they
    give and their visibilities (True where labelled and, after a crop, inside it)."""
    os.makedirs(os.path.join(out_root, "augmentations"), exist_ok=True)
    _write_keypoint_flip(out_root)
    _write_keypoint_crop(out_root)
    _write_keypoint_pad(out_root)


# random_scale_crop_and_pad_to_square cases: (image height, width, output_size, scale, offset fractions y, x):
# scaled below, across and above the output size, crops at both ends.
SCALE_CROP_CASES = ((60, 80, 64, 0.5, 0.3, 0.7), (60, 80, 64, 1.7, 0.0, 1.0), (100, 50, 48, 1.3, 0.95, 0.4),
                    (45, 90, 32, 2.0, 0.5, 0.5), (37, 53, 40, 0.1, 0.2, 0.9))


def write_scale_crop_reference(out_root: str) -> None:
    """The OD API's random_scale_crop_and_pad_to_square on fixed images and boxes, its three draws (the scale,
    then the crop's y and x offset fractions) given by standing in for `tf.random_uniform` during the call (the
    op takes no preprocessor cache), in `augmentations/scale_crop_and_pad_to_square.npz`."""
    rng = np.random.default_rng(13)
    out = {}
    uniform = preprocessor.tf.random_uniform
    for i, (height, width, size, scale, offset_y, offset_x) in enumerate(SCALE_CROP_CASES):
        image = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
        boxes = fixed_boxes(rng)
        labels = np.arange(1, 13, dtype=np.int32)
        draws = iter((scale, offset_y, offset_x))
        preprocessor.tf.random_uniform = lambda *args, **kwargs: tf.constant(next(draws), tf.float32)
        try:
            got = preprocessor.random_scale_crop_and_pad_to_square(
                tf.constant(image), tf.constant(boxes), tf.constant(labels), tf.ones([12]), output_size=size)
        finally:
            preprocessor.tf.random_uniform = uniform
        out.update({f"{i}/image": image, f"{i}/boxes": boxes, f"{i}/labels": labels,
                    f"{i}/draws": np.array([scale, offset_y, offset_x], np.float32), f"{i}/output_size": np.array(size),
                    f"{i}/out_image": got[0].numpy(), f"{i}/out_boxes": got[1].numpy(),
                    f"{i}/out_labels": got[2].numpy()})
    os.makedirs(os.path.join(out_root, "augmentations"), exist_ok=True)
    np.savez_compressed(os.path.join(out_root, "augmentations", "scale_crop_and_pad_to_square.npz"), **out)


def write_augmentation_reference(out_root: str) -> None:
    """The OD API's random_square_crop_by_scale on fixed images and boxes, its random draws set through the
    preprocessor cache (as a repeated call with the same cache does), in `augmentations/square_crop_by_scale.npz`;
    and random_crop_image's and random_scale_crop_and_pad_to_square's (write_random_crop_reference,
    write_scale_crop_reference, write_pad_reference, write_patch_gaussian_reference) and the keypoints of three
    (write_keypoint_augmentation_reference)."""
    write_random_crop_reference(out_root)
    write_scale_crop_reference(out_root)
    write_pad_reference(out_root)
    write_patch_gaussian_reference(out_root)
    write_keypoint_augmentation_reference(out_root)
    rng = np.random.default_rng(7)
    out = {}
    for i, (height, width, scale, y_center, x_center, max_border) in enumerate(SQUARE_CROP_CASES):
        image = rng.uniform(0, 1, (height, width, 3)).astype(np.float32)
        boxes = fixed_boxes(rng)
        labels = np.arange(1, 13, dtype=np.int32)
        cache = preprocessor_cache.PreprocessorCache()
        for key, value in (("scale", tf.constant(scale, tf.float32)), ("y_center", tf.constant(y_center)),
                           ("x_center", tf.constant(x_center))):
            cache.update(preprocessor_cache.PreprocessorCache.SQUARE_CROP_BY_SCALE, key, value)
        got = preprocessor.random_square_crop_by_scale(
            tf.constant(image), tf.constant(boxes), tf.constant(labels), tf.ones([12]), max_border=max_border,
            preprocess_vars_cache=cache)
        border = [int(preprocessor._get_crop_border(max_border, n)) for n in (height, width)]  # pylint: disable=protected-access
        out.update({f"{i}/image": image, f"{i}/boxes": boxes, f"{i}/labels": labels,
                    f"{i}/draws": np.array([scale, y_center, x_center], np.float32),
                    f"{i}/max_border": np.array(max_border), f"{i}/borders": np.array(border),
                    f"{i}/out_image": got[0].numpy(), f"{i}/out_boxes": got[1].numpy(),
                    f"{i}/out_labels": got[2].numpy()})
    os.makedirs(os.path.join(out_root, "augmentations"), exist_ok=True)
    np.savez_compressed(os.path.join(out_root, "augmentations", "square_crop_by_scale.npz"), **out)


def shard(k: int, n: int) -> list[str]:
    """The architectures of shard K of N: largest first, each to the shard with the fewest seconds so far."""
    shares: list[list[str]] = [[] for _ in range(n)]
    for name in sorted((a for a in ARCHITECTURES if a not in ON_DEMAND), key=lambda a: -SECONDS.get(a, 60)):
        min(shares, key=lambda share: sum(SECONDS.get(a, 60) for a in share)).append(name)
    return [a for a in ARCHITECTURES if a in shares[k - 1]]


def main(argv: list[str]) -> int:
    """Writes the fixtures named on the command line (all by default)."""
    if len(argv) < 2:
        print(__doc__)
        return 2
    config_dir, out_root, names = argv[0], argv[1], argv[2:]
    first = True
    if len(names) == 1 and names[0].startswith("--shard="):    # --shard=K/N: the K-th of N balanced shares
        k, n = (int(v) for v in names[0][len("--shard="):].split("/"))
        names, first = shard(k, n), k == 1
    if first:
        write_augmentation_reference(out_root)
    names = names or [a for a in ARCHITECTURES if a not in ON_DEMAND]
    for name in names:
        config_file, size, classification = ARCHITECTURES[name]
        summary = write_fixture(name, os.path.join(config_dir, config_file), size, classification, out_root)
        print(json.dumps(summary), flush=True)
    for name in [n for n in names if n in LOSS_REFERENCES]:
        (write_center_net_loss_reference if name.startswith("center_net") else write_loss_reference)(name, out_root)
    for name in [n for n in names if n in TRAIN_STEP_REFERENCES]:
        write_train_step_reference(name, out_root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
