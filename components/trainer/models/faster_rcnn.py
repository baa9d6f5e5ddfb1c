"""`model.faster_rcnn` → Model Garden's Faster R-CNN (`build_maskrcnn`, include_mask=False).

Mapping of `faster_rcnn_resnet50_keras` (OD API: ResNet-50 up to conv4,
stride 16, no FPN; RPN on that one map; 14x14 crops max-pooled to 7x7, then
ResNet conv5 on each crop):
- backbone ResNet-50; the decoder keeps only the stride-16 level
  (level = log2(first_stage_features_stride)), so RPN and ROI align use it alone.
- grid_anchor_generator: anchors of base 256 (or base_anchor_size) x scales x
  aspect_ratios at every stride-16 cell, made by `grid_anchor_boxes` (Model
  Garden's anchors only subdivide one octave), centred on cell centres as
  Model Garden's are (the OD API's default offset is the cell corner).
- RPN: 1 conv of first_stage_box_predictor_depth; proposals: first_stage_nms_*,
  first_stage_max_proposals (train and test); sampling: first_stage_minibatch_size
  / first_stage_positive_balance_fraction → the RPN anchor sampler (in the
  training targets), second_stage_batch_size /
  balance_fraction → ROI sampler.
- ROI align crop = initial_crop_size / maxpool_stride.
- second stage: Model Garden's DetectionHead (1 conv of 256 + 1 FC of 1024)
  in place of the OD API's conv5 block on the crops; share_box_across_classes
  → class-agnostic box regression.
- keep_aspect_ratio_resizer: images scaled to fit min/max_dimension, padded to
  a max_dimension square (resizing.resize_to_input, in training and export).
- training (tasks.FasterRcnnTask): RPN targets over these anchors, ROIs sampled
  by the model from the ground truth, Model Garden's four losses weighted by
  first_stage_objectness/localization_loss_weight and
  second_stage_classification/localization_loss_weight.
- second_stage_post_processing → Model Garden's DetectionGenerator (softmax).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tf_keras

from official.vision.configs import backbones as backbones_cfg
from official.vision.configs import common as common_cfg
from official.vision.configs import decoders as decoders_cfg
from official.vision.configs import maskrcnn as maskrcnn_cfg
from official.vision.modeling import factory
from official.vision.ops import preprocess_ops
from components.trainer.models.spec import DetectorBundle, ModelSpec, config_problem as _problem
from components.trainer.models.spec import freeze_batchnorm, input_size
from schemas.field_support import FASTER_RCNN_FEATURE_EXTRACTORS as FEATURE_EXTRACTORS


def imagenet_preprocess(images: tf.Tensor) -> tf.Tensor:
    """0..255 RGB → Model Garden's ImageNet mean/std normalisation (what its ResNet expects)."""
    images = tf.cast(images, tf.float32)
    return (images - tf.constant(preprocess_ops.MEAN_RGB, tf.float32)) / tf.constant(preprocess_ops.STDDEV_RGB,
                                                                                     tf.float32)


class SelectLevel(tf_keras.layers.Layer):
    """Decoder that passes one backbone level through (Faster R-CNN without FPN)."""

    def __init__(self, level: int, **kwargs):
        super().__init__(**kwargs)
        self._level = level

    def call(self, features):
        return {str(self._level): features[str(self._level)]}

    def get_config(self):
        return {"level": self._level, **super().get_config()}


def grid_anchor_boxes(height: int, width: int, level: int, scales, aspect_ratios,
                      base_size: tuple[float, float] = (256.0, 256.0)) -> dict[str, tf.Tensor]:
    """OD API grid anchors at one level, in Model Garden's layout {level: [h, w, 4 * A]} (pixel yxyx)."""
    stride = 2 ** level
    fh, fw = math.ceil(height / stride), math.ceil(width / stride)
    sizes = [(base_size[0] * s / math.sqrt(a), base_size[1] * s * math.sqrt(a))
             for s in scales for a in aspect_ratios]
    hw = np.array(sizes, np.float32)                                  # [A, 2]
    cy = (np.arange(fh, dtype=np.float32) + 0.5) * stride
    cx = (np.arange(fw, dtype=np.float32) + 0.5) * stride
    centres = np.stack(np.meshgrid(cy, cx, indexing="ij"), axis=-1)   # [fh, fw, 2]
    lo = centres[:, :, None, :] - hw[None, None] / 2
    hi = centres[:, :, None, :] + hw[None, None] / 2
    boxes = np.concatenate([lo, hi], axis=-1).reshape(fh, fw, -1)
    return {str(level): tf.constant(boxes)}


def build_faster_rcnn(pipeline_proto):
    """Builds the DetectorBundle for `pipeline_proto.model.faster_rcnn` (see module doc)."""
    frcnn = pipeline_proto.model.faster_rcnn
    fe = frcnn.feature_extractor
    if fe.type not in FEATURE_EXTRACTORS:
        raise _problem("model.faster_rcnn.feature_extractor.type",
                       f"{fe.type!r} is not supported (supported: {', '.join(FEATURE_EXTRACTORS)})")
    height, width, keep, min_dim, max_dim = input_size(frcnn, "model.faster_rcnn")
    stride = fe.first_stage_features_stride or 16
    if stride not in (8, 16, 32):
        raise _problem("model.faster_rcnn.feature_extractor.first_stage_features_stride",
                       f"{stride} is not supported (8, 16 or 32)")
    level = int(math.log2(stride))
    ag = frcnn.first_stage_anchor_generator
    if ag.WhichOneof("anchor_generator_oneof") != "grid_anchor_generator":
        raise _problem("model.faster_rcnn.first_stage_anchor_generator", "only grid_anchor_generator is supported")
    grid = ag.grid_anchor_generator
    scales = tuple(grid.scales) or (0.5, 1.0, 2.0)
    ratios = tuple(grid.aspect_ratios) or (0.5, 1.0, 2.0)
    base = (float(grid.height or 256), float(grid.width or 256))
    nms = frcnn.second_stage_post_processing.batch_non_max_suppression
    predictor = frcnn.second_stage_box_predictor.mask_rcnn_box_predictor
    spec = ModelSpec(
        meta_architecture="faster_rcnn", feature_extractor=fe.type,
        input_height=height, input_width=width, keep_aspect_ratio=keep,
        min_dimension=min_dim, max_dimension=max_dim,
        num_classes=frcnn.num_classes, mg_num_classes=frcnn.num_classes + 1,
        min_level=level, max_level=level, num_scales=len(scales), aspect_ratios=ratios,
        anchor_size=base[0] / stride, box_coder_weights=(10.0, 10.0, 5.0, 5.0),
        matched_threshold=0.7, unmatched_threshold=0.3, focal_gamma=0.0, focal_alpha=0.0,
        huber_delta=1.0, classification_weight=frcnn.second_stage_classification_loss_weight,
        localization_weight=frcnn.second_stage_localization_loss_weight,
        score_threshold=nms.score_threshold, iou_threshold=nms.iou_threshold,
        max_detections=nms.max_total_detections or 100, freeze_batchnorm=not fe.batch_norm_trainable,
        grid_anchor_scales=scales, grid_anchor_base_size=base,
        rpn_localization_weight=frcnn.first_stage_localization_loss_weight,
        rpn_objectness_weight=frcnn.first_stage_objectness_loss_weight,
        rpn_minibatch_size=frcnn.first_stage_minibatch_size,
        rpn_positive_fraction=frcnn.first_stage_positive_balance_fraction,
        class_agnostic_box=predictor.share_box_across_classes,
    )
    proposals = frcnn.first_stage_max_proposals
    model_config = maskrcnn_cfg.MaskRCNN(
        num_classes=spec.mg_num_classes, input_size=[height, width, 3], min_level=level, max_level=level,
        anchor=maskrcnn_cfg.Anchor(num_scales=len(scales), aspect_ratios=list(ratios), anchor_size=spec.anchor_size),
        include_mask=False,
        backbone=backbones_cfg.Backbone(type="resnet", resnet=backbones_cfg.ResNet(model_id=50)),
        decoder=decoders_cfg.Decoder(type="identity"),
        rpn_head=maskrcnn_cfg.RPNHead(num_convs=1, num_filters=frcnn.first_stage_box_predictor_depth),
        detection_head=maskrcnn_cfg.DetectionHead(num_convs=1, num_filters=256, num_fcs=1, fc_dims=1024,
                                                  class_agnostic_bbox_pred=predictor.share_box_across_classes),
        roi_generator=maskrcnn_cfg.ROIGenerator(
            pre_nms_score_threshold=frcnn.first_stage_nms_score_threshold,
            nms_iou_threshold=frcnn.first_stage_nms_iou_threshold, num_proposals=proposals,
            test_pre_nms_score_threshold=frcnn.first_stage_nms_score_threshold,
            test_nms_iou_threshold=frcnn.first_stage_nms_iou_threshold, test_num_proposals=proposals),
        roi_sampler=maskrcnn_cfg.ROISampler(num_sampled_rois=frcnn.second_stage_batch_size,
                                            foreground_fraction=frcnn.second_stage_balance_fraction),
        roi_aligner=maskrcnn_cfg.ROIAligner(crop_size=max(1, (frcnn.initial_crop_size or 14)
                                                          // max(1, frcnn.maxpool_stride or 2))),
        detection_generator=maskrcnn_cfg.DetectionGenerator(
            pre_nms_score_threshold=spec.score_threshold, nms_iou_threshold=spec.iou_threshold,
            max_num_detections=spec.max_detections),
        norm_activation=common_cfg.NormActivation(use_sync_bn=False, norm_momentum=0.997, norm_epsilon=1e-4),
    )
    model_config.mask_head = None
    model_config.mask_sampler = None
    model_config.mask_roi_aligner = None
    input_specs = tf_keras.layers.InputSpec(shape=[None, height, width, 3])
    model = factory.build_maskrcnn(input_specs, model_config, decoder=SelectLevel(level, name="select_level"))
    inference(model, spec, tf.zeros([1, height, width, 3]), tf.constant([[height, width]], tf.float32))
    if spec.freeze_batchnorm:
        freeze_batchnorm(model)
    return DetectorBundle(model=model, spec=spec, model_config=model_config, preprocess_fn=imagenet_preprocess)


def anchors_for_batch(spec, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """Grid anchors tiled over the batch of `images` (static height/width)."""
    _, height, width, _ = images.shape.as_list()
    anchors = grid_anchor_boxes(height, width, spec.min_level, spec.grid_anchor_scales, spec.aspect_ratios,
                                spec.grid_anchor_base_size)
    return {k: tf.tile(v[None], [tf.shape(images)[0], 1, 1, 1]) for k, v in anchors.items()}


def inference(model, spec, images: tf.Tensor, image_shape: tf.Tensor) -> dict[str, tf.Tensor]:
    """Inference call of the Faster R-CNN on normalised images with its grid anchors."""
    return model(images, image_shape=image_shape, anchor_boxes=anchors_for_batch(spec, images), training=False)

