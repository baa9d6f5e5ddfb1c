"""`model.ssd` → the OD API's SSD network (`ssd_meta_arch` with its Keras feature extractors and predictors).

`build_ssd(proto)` reads `proto.model.ssd` and returns a `DetectorBundle` whose
model is an `SsdDetector`:

- `preprocess(images)`: the feature extractor's normalisation of resized
  0..255 images (MobileNet: 2x/255 - 1; ResNet: minus the VGG means);
- `call(preprocessed)`: {"box_encodings": [B, N, 4],
  "class_predictions_with_background": [B, N, num_classes + 1],
  "feature_maps": [...]} in the OD API's layout and anchor order;
- `postprocess(predictions, clip_window)`: decoded, score-converted,
  background column dropped, per-class NMS (`postprocess.py`);
- `anchors`: normalised [N, 4] (`anchors.py`).

Networks: `ssd_mobilenet_v2_fpn_keras`, `ssd_mobilenet_v2_keras` (`mobilenet_v2.py`),
`ssd_mobilenet_v1_fpn_keras` (`mobilenet_v1_fpn.py`), `ssd_resnet{50,101,152}_v1_fpn_keras`
(`resnet_v1_fpn.py`), `ssd_efficientnet-b{0..7}_bifpn_keras` (`efficientnet_bifpn.py`); predictors `weight_shared_convolutional_box_predictor`
and `convolutional_box_predictor` (`box_predictors.py`); anchors
`multiscale_anchor_generator` and `ssd_anchor_generator`. The variables sit
under the OD API's object paths, so a TF2 Detection Zoo checkpoint restores
by name (`restore.py` checks names, shapes and the network's settings).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf
import tf_keras

from detection.architectures.ssd.efficientnet_bifpn import EFFICIENTDETS, SsdEfficientNetBiFpnFeatureExtractor, \
    bifpn_settings
from detection.architectures.ssd.mobilenet_v1_fpn import SsdMobileNetV1FpnFeatureExtractor
from detection.architectures.ssd.mobilenet_v2 import SsdMobileNetV2FeatureExtractor, SsdMobileNetV2FpnFeatureExtractor
from detection.architectures.ssd.resnet_v1_fpn import DEPTHS as RESNET_DEPTHS
from detection.architectures.ssd.resnet_v1_fpn import SsdResNetV1FpnFeatureExtractor
from detection.networks import anchors as anchor_lib
from detection.networks.bifpn import COMBINE_METHODS
from detection.networks import postprocess as post_lib
from detection.networks.box_predictors import (CLASS_PREDICTIONS, ConvolutionalBoxPredictor, HeadOptions,
                                               WeightSharedConvolutionalBoxPredictor)
from detection.networks.dtypes import float32_outputs
from detection.networks.feature_maps import ExtractorOptions, FpnLevels
from detection.networks.hyperparams import LayerHyperparams
from detection.architectures.ssd.spec import SsdTraining
from detection.networks.spec import (AnchorSpec, DetectorBundle, ModelSpec, config_problem, freeze_batchnorm,
                                     input_size)
from schemas.config_checks import ssd_input_size_issues
from schemas.field_support import SSD_FEATURE_EXTRACTORS

S = "model.ssd"


class SsdDetector(tf_keras.Model):
    """The OD API's SSD meta-architecture at inference and for training losses (see the module doc)."""

    architecture = "ssd"      # its plug-in in detection.architectures.registry

    def __init__(self, feature_extractor: tf_keras.Model, box_predictor: tf_keras.Model, num_classes: int,
                 box_coder_scales: tuple[float, ...], post: post_lib.PostProcessing, add_background_class: bool = True,
                 name="ssd"):
        super().__init__(name=name)
        self._feature_extractor = feature_extractor
        self._box_predictor = box_predictor
        self.num_classes = num_classes
        self.add_background_class = add_background_class
        self.box_coder_scales = tuple(box_coder_scales)
        self.post = post
        self.anchors: np.ndarray | None = None

    @property
    def backbone(self) -> tf_keras.Model:
        """The classification backbone (what a frozen-backbone fine-tune keeps fixed)."""
        return self._feature_extractor.classification_backbone

    @property
    def feature_extractor(self) -> tf_keras.Model:
        """Backbone + FPN / extra layers."""
        return self._feature_extractor

    def preprocess(self, resized_images: tf.Tensor) -> tf.Tensor:
        """Resized float 0..255 images → network input."""
        return self._feature_extractor.preprocess(resized_images)

    def call(self, preprocessed, training=None):  # pylint: disable=arguments-differ
        """Network input → box encodings, class logits (background first) and the feature maps."""
        feature_maps = self._feature_extractor(preprocessed, training=training)
        # float32 whatever the policy the network computes in (training/precision.py), before anything decodes.
        predictions = float32_outputs(self._box_predictor(feature_maps, training=training))
        return {**predictions, "feature_maps": feature_maps}

    def decode(self, box_encodings: tf.Tensor) -> tf.Tensor:
        """Box encodings [B, N, 4] → normalised boxes [B, N, 4]."""
        return post_lib.decode_boxes(box_encodings, tf.constant(self.anchors), self.box_coder_scales)

    def postprocess(self, predictions: dict, clip_window: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """Predictions → OD API detections (boxes normalised, classes 0-based, padded)."""
        boxes = self.decode(predictions["box_encodings"])
        scores = post_lib.score_converter(predictions[CLASS_PREDICTIONS], self.post.score_converter,
                                          self.post.logit_scale)
        if self.add_background_class:
            scores = scores[:, :, 1:]
        return post_lib.batch_non_max_suppression(boxes, scores, self.post, clip_window)


def _hyperparams(message, field: str) -> LayerHyperparams:
    return LayerHyperparams(message.conv_hyperparams if message.HasField("conv_hyperparams") else None)


def _check_input(fe, height: int, width: int, keep_aspect_ratio: bool = False) -> None:
    issues = ssd_input_size_issues(fe, height, width, S, keep_aspect_ratio)
    if issues:
        raise config_problem(*issues[0])


MOBILENET_FPNS = {"ssd_mobilenet_v2_fpn_keras": SsdMobileNetV2FpnFeatureExtractor,
                  "ssd_mobilenet_v1_fpn_keras": SsdMobileNetV1FpnFeatureExtractor}


def _feature_extractor(ssd, height: int, width: int) -> tf_keras.Model:
    fe = ssd.feature_extractor
    if fe.type not in SSD_FEATURE_EXTRACTORS:
        raise config_problem(f"{S}.feature_extractor.type",
                             f"{fe.type!r} is not supported (supported: {', '.join(SSD_FEATURE_EXTRACTORS)})")
    hp = _hyperparams(fe, f"{S}.feature_extractor")
    shape = (height, width, 3)
    options = ExtractorOptions(depth_multiplier=fe.depth_multiplier, min_depth=fe.min_depth,
                               pad_to_multiple=fe.pad_to_multiple, hp=hp,
                               override_base_hyperparams=fe.override_base_feature_extractor_hyperparams,
                               use_explicit_padding=fe.use_explicit_padding, use_depthwise=fe.use_depthwise)
    keep = ssd.image_resizer.HasField("keep_aspect_ratio_resizer")
    if fe.type in EFFICIENTDETS:
        return _efficientdet_extractor(fe, options, height, width, keep)
    if fe.type in MOBILENET_FPNS or fe.type in RESNET_DEPTHS:
        if not fe.HasField("fpn"):
            raise config_problem(f"{S}.feature_extractor.fpn", f"{fe.type} needs an fpn {{ min_level max_level }}")
        if fe.fpn.min_level < 2 or fe.fpn.min_level > fe.fpn.max_level or fe.fpn.min_level > 5:
            raise config_problem(f"{S}.feature_extractor.fpn",
                                 f"levels {fe.fpn.min_level}..{fe.fpn.max_level}: min_level must be 2..5 and at "
                                 "most max_level")
        _check_input(fe, height, width, keep)
        levels = FpnLevels(fe.fpn.min_level, fe.fpn.max_level, fe.fpn.additional_layer_depth)
        if fe.type in RESNET_DEPTHS:
            if fe.use_explicit_padding or fe.use_depthwise:
                field = "use_explicit_padding" if fe.use_explicit_padding else "use_depthwise"
                raise config_problem(f"{S}.feature_extractor.{field}", f"{fe.type} does not take it (the OD API "
                                     "refuses it too)")
            return SsdResNetV1FpnFeatureExtractor(shape, RESNET_DEPTHS[fe.type], options, levels)
        return MOBILENET_FPNS[fe.type](shape, options, levels)
    if fe.HasField("fpn"):
        raise config_problem(f"{S}.feature_extractor.fpn", f"{fe.type} has no FPN (use ssd_mobilenet_v2_fpn_keras)")
    _check_input(fe, height, width, keep)
    if not 2 <= fe.num_layers <= 6:
        raise config_problem(f"{S}.feature_extractor.num_layers", f"{fe.num_layers}: ssd_mobilenet_v2_keras makes "
                             "2 to 6 feature maps")
    return SsdMobileNetV2FeatureExtractor(shape, options, num_layers=fe.num_layers)


def _efficientdet_extractor(fe, options: ExtractorOptions, height: int, width: int,
                            keep_aspect_ratio: bool) -> tf_keras.Model:
    """EfficientDet's feature extractor, refusing what the OD API's refuses."""
    for field, wrong in (("depth_multiplier", fe.depth_multiplier != 1.0), ("use_explicit_padding",
                         fe.use_explicit_padding), ("use_depthwise", fe.use_depthwise), ("fpn", fe.HasField("fpn"))):
        if wrong:
            raise config_problem(f"{S}.feature_extractor.{field}", f"{fe.type} does not take it (the OD API refuses "
                                 "it too; the BiFPN is set by feature_extractor.bifpn)")
    bifpn = bifpn_settings(fe)
    if not 3 <= bifpn.min_level <= 5 or bifpn.max_level < 6:
        raise config_problem(f"{S}.feature_extractor.bifpn", f"levels {bifpn.min_level}..{bifpn.max_level}: min_level "
                             "must be 3..5 and max_level at least 6 (the OD API's BiFPN makes at least one level "
                             "above the backbone's 5; it fails on fewer)")
    if bifpn.num_iterations < 1 or bifpn.num_filters < 1:
        raise config_problem(f"{S}.feature_extractor.bifpn", "num_iterations and num_filters must be set (> 0) in a "
                             "bifpn message: the OD API gives them no default there")
    if bifpn.combine_method not in COMBINE_METHODS:
        raise config_problem(f"{S}.feature_extractor.bifpn.combine_method",
                             f"{bifpn.combine_method!r} is not one of {', '.join(COMBINE_METHODS)}")
    _check_input(fe, height, width, keep_aspect_ratio)
    return SsdEfficientNetBiFpnFeatureExtractor(fe.type, options, bifpn)


def _anchors(ssd, shapes: list[tuple[int, int]], height: int, width: int) -> tuple[np.ndarray, list[int], dict]:
    """(anchors, anchors per location of each map, spec fields)."""
    kind = ssd.anchor_generator.WhichOneof("anchor_generator_oneof")
    if kind == "multiscale_anchor_generator":
        ag = ssd.anchor_generator.multiscale_anchor_generator
        field = f"{S}.anchor_generator.multiscale_anchor_generator"
        if ag.max_level - ag.min_level + 1 != len(shapes):
            raise config_problem(field, f"levels {ag.min_level}..{ag.max_level} are {ag.max_level - ag.min_level + 1} "
                                 f"maps, but the feature extractor makes {len(shapes)}")
        multiple = max(1, ssd.feature_extractor.pad_to_multiple)
        padded_h, padded_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
        for index, (grid_h, grid_w) in enumerate(shapes):
            level = ag.min_level + index
            if (grid_h, grid_w) != (math.ceil(padded_h / 2 ** level), math.ceil(padded_w / 2 ** level)):
                raise config_problem(f"{field}.min_level", f"level {level} (stride {2 ** level}) does not match the "
                                     f"feature extractor's map {index} ({grid_h}x{grid_w} cells for a {height}x"
                                     f"{width} input)")
        ratios = [float(a) for a in ag.aspect_ratios] or [1.0]
        boxes = anchor_lib.multiscale_grid_anchors(
            shapes, height, width, min_level=ag.min_level, anchor_scale=ag.anchor_scale, aspect_ratios=ratios,
            scales_per_octave=ag.scales_per_octave, normalize=ag.normalize_coordinates)
        per_location = [len(ratios) * ag.scales_per_octave] * len(shapes)
        fields = dict(min_level=ag.min_level, max_level=ag.max_level, num_scales=ag.scales_per_octave,
                      aspect_ratios=tuple(ratios), anchor_size=ag.anchor_scale)
        return boxes, per_location, fields
    if kind == "ssd_anchor_generator":
        ag = ssd.anchor_generator.ssd_anchor_generator
        field = f"{S}.anchor_generator.ssd_anchor_generator"
        if ag.num_layers != len(shapes):
            raise config_problem(f"{field}.num_layers", f"{ag.num_layers} layers, but the feature extractor makes "
                                 f"{len(shapes)} maps")
        ratios = [float(a) for a in ag.aspect_ratios] or [1.0, 2.0, 3.0, 0.5, 1.0 / 3]
        specs = anchor_lib.ssd_box_specs(ag.num_layers, ag.min_scale, ag.max_scale, list(ag.scales), ratios,
                                         ag.interpolated_scale_aspect_ratio, ag.reduce_boxes_in_lowest_layer)
        strides = list(zip(ag.height_stride, ag.width_stride)) or None
        offsets = list(zip(ag.height_offset, ag.width_offset)) or None
        for name, values in (("height_stride", strides), ("height_offset", offsets)):
            if values is not None and len(values) != len(shapes):
                raise config_problem(f"{field}.{name}", f"{len(values)} values for {len(shapes)} feature maps")
        boxes = anchor_lib.ssd_anchors(shapes, height, width, specs, (ag.base_anchor_height, ag.base_anchor_width),
                                       strides, offsets)
        fields = dict(min_level=0, max_level=len(shapes) - 1, num_scales=1, aspect_ratios=tuple(ratios),
                      anchor_size=1.0)
        return boxes, [len(s) for s in specs], fields
    raise config_problem(f"{S}.anchor_generator", f"{kind or 'none'} is not supported "
                         "(use multiscale_anchor_generator or ssd_anchor_generator)")


def _box_predictor(ssd, per_location: list[int]) -> tf_keras.Model:
    background = ssd.add_background_class
    kind = ssd.box_predictor.WhichOneof("box_predictor_oneof")
    if kind == "weight_shared_convolutional_box_predictor":
        bp = ssd.box_predictor.weight_shared_convolutional_box_predictor
        if len(set(per_location)) > 1:
            raise config_problem(f"{S}.box_predictor.weight_shared_convolutional_box_predictor",
                                 f"shares one head over every map, but the anchor generator puts {per_location} "
                                 "anchors per location on them (use multiscale_anchor_generator, or "
                                 "convolutional_box_predictor)")
        clip = (bp.box_encodings_clip_range.min, bp.box_encodings_clip_range.max) \
            if bp.HasField("box_encodings_clip_range") else None
        return WeightSharedConvolutionalBoxPredictor(
            ssd.num_classes, per_location[0], _hyperparams(bp, "box_predictor"), bp.depth,
            HeadOptions.from_proto(bp, background),
            share_prediction_tower=bp.share_prediction_tower, box_encodings_clip_range=clip)
    if kind == "convolutional_box_predictor":
        bp = ssd.box_predictor.convolutional_box_predictor
        if bp.use_depthwise and bp.kernel_size == 1:
            raise config_problem(f"{S}.box_predictor.convolutional_box_predictor.kernel_size",
                                 "1 with use_depthwise: a depthwise 1x1 conv (the OD API refuses it too)")
        if bp.min_depth > bp.max_depth:
            raise config_problem(f"{S}.box_predictor.convolutional_box_predictor.min_depth",
                                 f"{bp.min_depth} is above max_depth {bp.max_depth}")
        return ConvolutionalBoxPredictor(ssd.num_classes, per_location, _hyperparams(bp, "box_predictor"),
                                         HeadOptions.from_proto(bp, background), bp.min_depth, bp.max_depth)
    raise config_problem(f"{S}.box_predictor", f"{kind or 'none'} is not supported (use "
                         "weight_shared_convolutional_box_predictor or convolutional_box_predictor)")


def _box_coder_scales(ssd) -> tuple[float, ...]:
    kind = ssd.box_coder.WhichOneof("box_coder_oneof") if ssd.HasField("box_coder") else None
    if kind != "faster_rcnn_box_coder":
        raise config_problem(f"{S}.box_coder", f"{kind or 'none'} is not supported (use faster_rcnn_box_coder; the "
                             "OD API builds no SSD without a box_coder)")
    c = ssd.box_coder.faster_rcnn_box_coder
    return (c.y_scale, c.x_scale, c.height_scale, c.width_scale)


def _training(ssd) -> SsdTraining:
    loss = ssd.loss
    if loss.classification_loss.WhichOneof("classification_loss") != "weighted_sigmoid_focal":
        raise config_problem(f"{S}.loss.classification_loss", "only weighted_sigmoid_focal is supported")
    if loss.localization_loss.WhichOneof("localization_loss") not in (None, "weighted_smooth_l1"):
        raise config_problem(f"{S}.loss.localization_loss", "only weighted_smooth_l1 is supported")
    focal = loss.classification_loss.weighted_sigmoid_focal
    matcher = ssd.matcher.argmax_matcher
    return SsdTraining(matched_threshold=matcher.matched_threshold, unmatched_threshold=matcher.unmatched_threshold,
                       focal_gamma=focal.gamma, focal_alpha=focal.alpha,
                       huber_delta=loss.localization_loss.weighted_smooth_l1.delta,
                       classification_weight=loss.classification_weight, localization_weight=loss.localization_weight,
                       normalize_loc_loss_by_codesize=ssd.normalize_loc_loss_by_codesize,
                       add_background_class=ssd.add_background_class)


def build_ssd(pipeline_proto) -> DetectorBundle:
    """The OD API's SSD for `pipeline_proto.model.ssd` (see the module doc); ProblemsError names a bad field."""
    ssd = pipeline_proto.model.ssd
    size = dataclasses.replace(input_size(ssd, S), normalize_before_resize=True)
    height, width = size.height, size.width
    if size.keep_aspect_ratio and not ssd.image_resizer.keep_aspect_ratio_resizer.pad_to_max_dimension:
        raise config_problem(f"{S}.image_resizer.keep_aspect_ratio_resizer.pad_to_max_dimension",
                             "false: the network's input would change size with each image; detflow's SavedModel "
                             "and TFLite inputs are one fixed size (set it true, as every zoo config does)")
    scales = _box_coder_scales(ssd)
    training = _training(ssd)
    post = post_lib.PostProcessing.from_proto(ssd.post_processing)
    if post.max_detections_per_class > post.max_total_detections:
        raise config_problem(f"{S}.post_processing.batch_non_max_suppression.max_detections_per_class",
                             f"{post.max_detections_per_class} is above max_total_detections "
                             f"{post.max_total_detections}")
    extractor = _feature_extractor(ssd, height, width)
    maps = extractor(tf.zeros([1, height, width, 3]))
    shapes = [(int(m.shape[1]), int(m.shape[2])) for m in maps]
    boxes, per_location, anchor_fields = _anchors(ssd, shapes, height, width)
    predictor = _box_predictor(ssd, per_location)
    predictor.build_for([int(m.shape[-1]) for m in maps])
    model = SsdDetector(extractor, predictor, ssd.num_classes, scales, post, ssd.add_background_class)
    model.anchors = boxes
    out = model(tf.zeros([1, height, width, 3]), training=False)   # creates every variable
    if int(out["box_encodings"].shape[1]) != boxes.shape[0]:
        raise config_problem(f"{S}.anchor_generator", f"{boxes.shape[0]} anchors for "
                             f"{int(out['box_encodings'].shape[1])} predictions")
    if ssd.freeze_batchnorm:
        freeze_batchnorm(model)
    spec = ModelSpec(
        meta_architecture="ssd", feature_extractor=ssd.feature_extractor.type, input=size,
        num_classes=ssd.num_classes, mg_num_classes=ssd.num_classes + int(ssd.add_background_class),
        anchors=AnchorSpec(box_coder_weights=scales, num_anchors=int(boxes.shape[0]), **anchor_fields),
        score_threshold=post.score_threshold, iou_threshold=post.iou_threshold,
        max_detections=post.max_total_detections, freeze_batchnorm=ssd.freeze_batchnorm, training=training)
    return DetectorBundle(model=model, spec=spec)
