"""Honoured-field probes of the network: SSD, the layer hyperparameters and Faster R-CNN (see probe_kit)."""
from __future__ import annotations

from tests.schemas.probe_kit import (Probe, merge, both, clear, ssd, fe, wsp, cbp, sag, nms, fe_hp, bp_hp, frcnn, cn, kp, LABEL_MAPS, fpn_levels, bifpn_levels, ssd_layers, to_mobilenet_v2_keras, to_convolutional_predictor, to_multiscale, N, R)

NETWORK_PROBES: dict[str, Probe] = {
    # --- SSD
    "model.ssd.num_classes": Probe(merge(ssd("num_classes: 4")), N),
    "FixedShapeResizer.height": Probe(merge(ssd("image_resizer { fixed_shape_resizer { height: 96 } }")), N),
    "FixedShapeResizer.width": Probe(merge(ssd("image_resizer { fixed_shape_resizer { width: 96 } }")), N),
    "FixedShapeResizer.resize_method": Probe(merge(ssd(
        "image_resizer { fixed_shape_resizer { resize_method: NEAREST_NEIGHBOR } }")), R),
    "model.ssd.feature_extractor.type": Probe(to_mobilenet_v2_keras, N),
    "model.ssd.feature_extractor.depth_multiplier": Probe(merge(fe("depth_multiplier: 0.5")), N),
    "model.ssd.feature_extractor.min_depth": Probe(merge(fe("min_depth: 48")), N),
    "model.ssd.feature_extractor.pad_to_multiple": Probe(merge(fe("pad_to_multiple: 128")), N),
    "model.ssd.feature_extractor.use_depthwise": Probe(merge(fe("use_depthwise: false")), N),
    "model.ssd.feature_extractor.override_base_feature_extractor_hyperparams": Probe(
        merge(fe("override_base_feature_extractor_hyperparams: false")), N),
    "model.ssd.feature_extractor.use_explicit_padding": Probe(merge(fe("use_explicit_padding: true")), N),
    "model.ssd.feature_extractor.num_layers": Probe(ssd_layers(5), N, base="conv"),
    "FeaturePyramidNetworks.min_level": Probe(fpn_levels(4, 6), N),
    "FeaturePyramidNetworks.max_level": Probe(fpn_levels(3, 5), N),
    "FeaturePyramidNetworks.additional_layer_depth": Probe(merge(fe("fpn { additional_layer_depth: 128 }")), N),
    **{f"FasterRcnnBoxCoder.{k}": Probe(merge(ssd(f"box_coder {{ faster_rcnn_box_coder {{ {k}: 2.0 }} }}")), N)
       for k in ("y_scale", "x_scale", "height_scale", "width_scale")},
    "ArgMaxMatcher.matched_threshold": Probe(merge(ssd("matcher { argmax_matcher { matched_threshold: 0.7 } }")), N),
    "ArgMaxMatcher.unmatched_threshold": Probe(merge(ssd(
        "matcher { argmax_matcher { unmatched_threshold: 0.3 } }")), N),
    "ArgMaxMatcher.ignore_thresholds": Probe(merge(ssd("matcher { argmax_matcher { ignore_thresholds: true } }")), R),
    "ArgMaxMatcher.negatives_lower_than_unmatched": Probe(merge(ssd(
        "matcher { argmax_matcher { negatives_lower_than_unmatched: false } }")), R),
    "ArgMaxMatcher.force_match_for_each_row": Probe(merge(ssd(
        "matcher { argmax_matcher { force_match_for_each_row: false } }")), R),
    "model.ssd.encode_background_as_zeros": Probe(merge(ssd("encode_background_as_zeros: false")), R),
    "model.ssd.add_background_class": Probe(merge(ssd("add_background_class: false")), N),
    "model.ssd.image_resizer.keep_aspect_ratio_resizer": Probe(both(
        clear("model.ssd.image_resizer.fixed_shape_resizer"), merge(ssd(
            "image_resizer { keep_aspect_ratio_resizer { min_dimension: 48 max_dimension: 64 "
            "pad_to_max_dimension: true } }"))), N),
    # --- EfficientDet's BiFPN
    "BidirectionalFeaturePyramidNetworks.min_level": Probe(bifpn_levels(4, 7), N, base="effdet"),
    "BidirectionalFeaturePyramidNetworks.max_level": Probe(bifpn_levels(3, 6), N, base="effdet"),
    "BidirectionalFeaturePyramidNetworks.num_iterations": Probe(merge(fe("bifpn { num_iterations: 2 }")), N,
                                                                base="effdet"),
    "BidirectionalFeaturePyramidNetworks.num_filters": Probe(merge(fe("bifpn { num_filters: 24 }")), N,
                                                             base="effdet"),
    "BidirectionalFeaturePyramidNetworks.combine_method": Probe(merge(fe('bifpn { combine_method: "sum" }')), N,
                                                                base="effdet"),
    "model.ssd.explicit_background_class": Probe(merge(ssd("explicit_background_class: true")), R),
    "WeightSharedConvolutionalBoxPredictor.num_layers_before_predictor": Probe(merge(wsp(
        "num_layers_before_predictor: 1")), N),
    "WeightSharedConvolutionalBoxPredictor.depth": Probe(merge(wsp("depth: 48")), N),
    "WeightSharedConvolutionalBoxPredictor.kernel_size": Probe(merge(wsp("kernel_size: 5")), N),
    "WeightSharedConvolutionalBoxPredictor.class_prediction_bias_init": Probe(merge(wsp(
        "class_prediction_bias_init: -2.0")), N),
    "WeightSharedConvolutionalBoxPredictor.share_prediction_tower": Probe(merge(wsp(
        "share_prediction_tower: true")), N),
    "WeightSharedConvolutionalBoxPredictor.use_depthwise": Probe(merge(wsp("use_depthwise: false")), N),
    "WeightSharedConvolutionalBoxPredictor.box_code_size": Probe(merge(wsp("box_code_size: 8")), R),
    "WeightSharedConvolutionalBoxPredictor.use_dropout": Probe(merge(wsp("use_dropout: true")), N),
    "WeightSharedConvolutionalBoxPredictor.dropout_keep_probability": Probe(
        merge(wsp("dropout_keep_probability: 0.3")), N, prepare=merge(wsp("use_dropout: true"))),
    "WeightSharedConvolutionalBoxPredictor.box_encodings_clip_range": Probe(merge(wsp(
        "box_encodings_clip_range { min: -0.01 max: 0.01 }")), N),
    "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange.min": Probe(
        merge(wsp("box_encodings_clip_range { min: -0.01 }")), N,
        prepare=merge(wsp("box_encodings_clip_range { min: -1.0 max: 1.0 }"))),
    "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange.max": Probe(
        merge(wsp("box_encodings_clip_range { max: 0.01 }")), N,
        prepare=merge(wsp("box_encodings_clip_range { min: -1.0 max: 1.0 }"))),
    "WeightSharedConvolutionalBoxPredictor.score_converter": Probe(merge(wsp("score_converter: SIGMOID")), R),
    "model.ssd.box_predictor.convolutional_box_predictor": Probe(to_convolutional_predictor, N),
    "ConvolutionalBoxPredictor.min_depth": Probe(merge(cbp("min_depth: 256")), N, base="conv",
                                                 prepare=merge(cbp("num_layers_before_predictor: 1 max_depth: 512"))),
    "ConvolutionalBoxPredictor.max_depth": Probe(merge(cbp("max_depth: 32")), N, base="conv",
                                                 prepare=merge(cbp("num_layers_before_predictor: 1 max_depth: 64"))),
    "ConvolutionalBoxPredictor.num_layers_before_predictor": Probe(
        merge(cbp("num_layers_before_predictor: 1 max_depth: 64")), N, base="conv"),
    "ConvolutionalBoxPredictor.use_dropout": Probe(merge(cbp("use_dropout: true")), N, base="conv"),
    "ConvolutionalBoxPredictor.dropout_keep_probability": Probe(
        merge(cbp("dropout_keep_probability: 0.3")), N, base="conv", prepare=merge(cbp("use_dropout: true"))),
    "ConvolutionalBoxPredictor.kernel_size": Probe(merge(cbp("kernel_size: 3")), N, base="conv"),
    "ConvolutionalBoxPredictor.class_prediction_bias_init": Probe(merge(cbp("class_prediction_bias_init: -1.0")),
                                                                  N, base="conv"),
    "ConvolutionalBoxPredictor.use_depthwise": Probe(merge(cbp("use_depthwise: true")), N, base="conv",
                                                     prepare=merge(cbp("kernel_size: 3"))),
    "ConvolutionalBoxPredictor.box_code_size": Probe(merge(cbp("box_code_size: 8")), R, base="conv"),
    "model.ssd.anchor_generator.multiscale_anchor_generator": Probe(to_multiscale, N, base="conv"),
    "MultiscaleAnchorGenerator.min_level": Probe(fpn_levels(4, 6), N),
    "MultiscaleAnchorGenerator.max_level": Probe(fpn_levels(3, 5), N),
    "MultiscaleAnchorGenerator.anchor_scale": Probe(merge(ssd(
        "anchor_generator { multiscale_anchor_generator { anchor_scale: 3.0 } }")), N),
    "MultiscaleAnchorGenerator.aspect_ratios": Probe(both(
        clear("model.ssd.anchor_generator.multiscale_anchor_generator.aspect_ratios"),
        merge(ssd("anchor_generator { multiscale_anchor_generator { aspect_ratios: [1.0, 2.0] } }"))), N),
    "MultiscaleAnchorGenerator.scales_per_octave": Probe(merge(ssd(
        "anchor_generator { multiscale_anchor_generator { scales_per_octave: 3 } }")), N),
    "MultiscaleAnchorGenerator.normalize_coordinates": Probe(merge(ssd(
        "anchor_generator { multiscale_anchor_generator { normalize_coordinates: false } }")), R),
    "model.ssd.anchor_generator.ssd_anchor_generator": Probe(
        both(clear("model.ssd.anchor_generator"), merge(sag("num_layers: 6"))), N, base="conv",
        prepare=both(clear("model.ssd.anchor_generator"), to_multiscale)),
    "SsdAnchorGenerator.num_layers": Probe(ssd_layers(5), N, base="conv"),
    "SsdAnchorGenerator.min_scale": Probe(merge(sag("min_scale: 0.3")), N, base="conv"),
    "SsdAnchorGenerator.max_scale": Probe(merge(sag("max_scale: 0.8")), N, base="conv"),
    "SsdAnchorGenerator.scales": Probe(merge(sag("scales: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]")), N, base="conv"),
    "SsdAnchorGenerator.aspect_ratios": Probe(both(
        clear("model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"),
        merge(sag("aspect_ratios: [1.0, 2.0, 0.5, 4.0, 0.25]"))), N, base="conv"),
    "SsdAnchorGenerator.interpolated_scale_aspect_ratio": Probe(merge(sag("interpolated_scale_aspect_ratio: 2.0")),
                                                                N, base="conv"),
    "SsdAnchorGenerator.reduce_boxes_in_lowest_layer": Probe(merge(sag("reduce_boxes_in_lowest_layer: false")),
                                                             N, base="conv"),
    "SsdAnchorGenerator.base_anchor_height": Probe(merge(sag("base_anchor_height: 0.5")), N, base="conv"),
    "SsdAnchorGenerator.base_anchor_width": Probe(merge(sag("base_anchor_width: 0.5")), N, base="conv"),
    "SsdAnchorGenerator.height_stride": Probe(merge(sag(
        "height_stride: [8, 16, 32, 64, 64, 64] width_stride: [16, 32, 64, 64, 64, 64]")), N, base="conv"),
    "SsdAnchorGenerator.width_stride": Probe(merge(sag(
        "height_stride: [16, 32, 64, 64, 64, 64] width_stride: [8, 16, 32, 64, 64, 64]")), N, base="conv"),
    "SsdAnchorGenerator.height_offset": Probe(merge(sag(
        "height_offset: [0, 0, 0, 0, 0, 0] width_offset: [8, 16, 32, 32, 32, 32]")), N, base="conv"),
    "SsdAnchorGenerator.width_offset": Probe(merge(sag(
        "height_offset: [8, 16, 32, 32, 32, 32] width_offset: [0, 0, 0, 0, 0, 0]")), N, base="conv"),
    "model.ssd.post_processing.score_converter": Probe(merge(ssd("post_processing { score_converter: SOFTMAX }")), N),
    "model.ssd.post_processing.logit_scale": Probe(merge(ssd("post_processing { logit_scale: 3.0 }")), N),
    "BatchNonMaxSuppression.score_threshold": Probe(merge(nms("score_threshold: 0.3")), N),
    "BatchNonMaxSuppression.iou_threshold": Probe(merge(nms("iou_threshold: 0.2")), N),
    "BatchNonMaxSuppression.max_detections_per_class": Probe(merge(nms("max_detections_per_class: 3")), N),
    "BatchNonMaxSuppression.max_total_detections": Probe(merge(nms("max_total_detections: 30")), N),
    "BatchNonMaxSuppression.soft_nms_sigma": Probe(merge(nms("soft_nms_sigma: 0.5")), R),
    "BatchNonMaxSuppression.use_class_agnostic_nms": Probe(merge(frcnn(
        "second_stage_post_processing { batch_non_max_suppression { use_class_agnostic_nms: true } }")), R,
        base="frcnn"),
    "model.ssd.post_processing.batch_non_max_suppression.use_class_agnostic_nms": Probe(
        merge(nms("use_class_agnostic_nms: true")), N),
    "model.ssd.normalize_loss_by_num_matches": Probe(merge(ssd("normalize_loss_by_num_matches: false")), R),
    "model.ssd.normalize_loc_loss_by_codesize": Probe(merge(ssd("normalize_loc_loss_by_codesize: true")), N),
    "SigmoidFocalClassificationLoss.gamma": Probe(merge(ssd(
        "loss { classification_loss { weighted_sigmoid_focal { gamma: 1.0 } } }")), N),
    "SigmoidFocalClassificationLoss.alpha": Probe(merge(ssd(
        "loss { classification_loss { weighted_sigmoid_focal { alpha: 0.5 } } }")), N),
    "WeightedSmoothL1LocalizationLoss.delta": Probe(merge(ssd(
        "loss { localization_loss { weighted_smooth_l1 { delta: 0.01 } } }")), N),
    "Loss.classification_weight": Probe(merge(ssd("loss { classification_weight: 2.0 }")), N),
    "Loss.localization_weight": Probe(merge(ssd("loss { localization_weight: 2.0 }")), N),
    "model.ssd.freeze_batchnorm": Probe(merge(ssd("freeze_batchnorm: true")), N),
    # --- layer hyperparameters (on the SSD feature extractor's and box predictor's conv_hyperparams)
    "Regularizer.l2_regularizer": Probe(merge(fe_hp("regularizer { l2_regularizer { weight: 0.001 } }")), N,
                                        prepare=clear("model.ssd.feature_extractor.conv_hyperparams.regularizer")),
    "L2Regularizer.weight": Probe(merge(fe_hp("regularizer { l2_regularizer { weight: 0.001 } }")), N),
    "Initializer.truncated_normal_initializer": Probe(merge(bp_hp(
        "initializer { truncated_normal_initializer { stddev: 0.5 } }")), N),
    "Initializer.random_normal_initializer": Probe(merge(fe_hp(
        "initializer { random_normal_initializer { stddev: 0.5 } }")), N),
    "Initializer.variance_scaling_initializer": Probe(merge(fe_hp(
        "initializer { variance_scaling_initializer { } }")), N),
    "TruncatedNormalInitializer.mean": Probe(merge(fe_hp("initializer { truncated_normal_initializer { mean: 0.5 } }")), N),
    "TruncatedNormalInitializer.stddev": Probe(merge(fe_hp(
        "initializer { truncated_normal_initializer { stddev: 0.3 } }")), N),
    "RandomNormalInitializer.mean": Probe(merge(bp_hp("initializer { random_normal_initializer { mean: 0.5 } }")), N),
    "RandomNormalInitializer.stddev": Probe(merge(bp_hp("initializer { random_normal_initializer { stddev: 0.3 } }")), N),
    **{f"VarianceScalingInitializer.{k}": Probe(
        merge(fe_hp(f"initializer {{ variance_scaling_initializer {{ {k}: {v} }} }}")), N,
        prepare=merge(fe_hp("initializer { variance_scaling_initializer { } }")))
       for k, v in (("factor", "0.5"), ("uniform", "true"), ("mode", "FAN_OUT"))},
    "Hyperparams.activation": Probe(merge(fe_hp("activation: RELU")), N),
    "Hyperparams.force_use_bias": Probe(merge(bp_hp("force_use_bias: true")), N),
    "Hyperparams.batch_norm": Probe(merge(bp_hp("batch_norm { }")), N,
                                    prepare=clear("model.ssd.box_predictor.weight_shared_convolutional_box_predictor"
                                                  ".conv_hyperparams.batch_norm")),
    "BatchNorm.decay": Probe(merge(fe_hp("batch_norm { decay: 0.9 }")), N),
    "BatchNorm.epsilon": Probe(merge(fe_hp("batch_norm { epsilon: 0.1 }")), N),
    "BatchNorm.scale": Probe(merge(fe_hp("batch_norm { scale: false }")), N),
    "BatchNorm.center": Probe(merge(fe_hp("batch_norm { center: false }")), N),
    # --- Faster R-CNN
    "model.faster_rcnn.num_classes": Probe(merge(frcnn("num_classes: 4")), N, base="frcnn"),
    "KeepAspectRatioResizer.min_dimension": Probe(merge(frcnn(
        "image_resizer { keep_aspect_ratio_resizer { min_dimension: 32 } }")), N, base="frcnn"),
    "KeepAspectRatioResizer.max_dimension": Probe(merge(frcnn(
        "image_resizer { keep_aspect_ratio_resizer { max_dimension: 96 } }")), N, base="frcnn"),
    "model.faster_rcnn.image_resizer.fixed_shape_resizer": Probe(both(clear("model.faster_rcnn.image_resizer"), merge(
        frcnn("image_resizer { fixed_shape_resizer { height: 48 width: 64 } }"))), N, base="frcnn"),
    "KeepAspectRatioResizer.pad_to_max_dimension": Probe(merge(frcnn(
        "image_resizer { keep_aspect_ratio_resizer { pad_to_max_dimension: false } }")), R, base="frcnn"),
    "KeepAspectRatioResizer.resize_method": Probe(merge(frcnn(
        "image_resizer { keep_aspect_ratio_resizer { resize_method: AREA } }")), R, base="frcnn"),
    "model.faster_rcnn.feature_extractor.type": Probe(merge(frcnn(
        'feature_extractor { type: "faster_rcnn_resnet101_keras" }')), N, base="frcnn"),
    "model.faster_rcnn.feature_extractor.batch_norm_trainable": Probe(merge(frcnn(
        "feature_extractor { batch_norm_trainable: false }")), N, base="frcnn"),
    "model.faster_rcnn.feature_extractor.first_stage_features_stride": Probe(merge(frcnn(
        "feature_extractor { first_stage_features_stride: 8 }")), R, base="frcnn"),
    **{f"GridAnchorGenerator.{k}": Probe(merge(frcnn(
        f"first_stage_anchor_generator {{ grid_anchor_generator {{ {k}: {v} }} }}")), N, base="frcnn",
        prepare=clear(f"model.faster_rcnn.first_stage_anchor_generator.grid_anchor_generator.{k}"))
       for k, v in (("height", "128"), ("width", "128"), ("scales", "[0.5, 1.0]"), ("aspect_ratios", "[1.0, 2.0]"))},
    "model.faster_rcnn.second_stage_balance_fraction": Probe(merge(frcnn("second_stage_balance_fraction: 0.9")), N,
                                                             base="frcnn", prepare=merge(frcnn("second_stage_batch_size: 4"))),
    **{f"model.faster_rcnn.{k}": Probe(merge(frcnn(f"{k}: {v}")), N, base="frcnn") for k, v in (
        ("first_stage_box_predictor_depth", "64"), ("first_stage_minibatch_size", "16"),
        ("first_stage_positive_balance_fraction", "0.1"), ("first_stage_nms_score_threshold", "0.5"),
        ("first_stage_nms_iou_threshold", "0.1"), ("first_stage_max_proposals", "10"),
        ("first_stage_localization_loss_weight", "5.0"), ("first_stage_objectness_loss_weight", "5.0"),
        ("initial_crop_size", "8"), ("maxpool_stride", "1"), ("second_stage_batch_size", "8"),
        ("second_stage_localization_loss_weight", "5.0"),
        ("second_stage_classification_loss_weight", "5.0"))},
    "model.faster_rcnn.second_stage_post_processing.score_converter": Probe(merge(frcnn(
        "second_stage_post_processing { score_converter: SIGMOID }")), R, base="frcnn"),
    "model.faster_rcnn.first_stage_atrous_rate": Probe(merge(frcnn("first_stage_atrous_rate: 2")), R, base="frcnn"),
    "model.faster_rcnn.number_of_stages": Probe(merge(frcnn("number_of_stages: 1")), R, base="frcnn"),
    "model.faster_rcnn.first_stage_box_predictor_conv_hyperparams": Probe(merge(frcnn(
        "first_stage_box_predictor_conv_hyperparams { initializer { truncated_normal_initializer { stddev: 0.5 } } }")),
        N, base="frcnn"),
    **{f"model.faster_rcnn.{k}": Probe(merge(frcnn(f"{k}: {v}")), N, base="frcnn") for k, v in (
        ("first_stage_box_predictor_kernel_size", "1"), ("maxpool_kernel_size", "1"))},
    **{f"model.faster_rcnn.first_stage_anchor_generator.grid_anchor_generator.{k}": Probe(merge(frcnn(
        f"first_stage_anchor_generator {{ grid_anchor_generator {{ {k}: 8 }} }}")), N, base="frcnn")
       for k in ("height_stride", "width_stride")},
    "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.use_dropout": Probe(merge(frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { use_dropout: true } }")), N, base="frcnn"),
    "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.dropout_keep_probability": Probe(merge(
        frcnn("second_stage_box_predictor { mask_rcnn_box_predictor { dropout_keep_probability: 0.3 } }")), N,
        base="frcnn", prepare=merge(frcnn("second_stage_box_predictor { mask_rcnn_box_predictor { use_dropout: true } }"))),
    "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.fc_hyperparams": Probe(merge(frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { fc_hyperparams { batch_norm { } } } }")), N,
        base="frcnn"),
    "model.faster_rcnn.second_stage_post_processing.batch_non_max_suppression.max_detections_per_class": Probe(merge(
        frcnn("second_stage_post_processing { batch_non_max_suppression { max_detections_per_class: 2 } }")), N,
        base="frcnn"),
    "MaskRCNNBoxPredictor.share_box_across_classes": Probe(merge(frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { share_box_across_classes: false } }")), N,
        base="frcnn"),
    "MaskRCNNBoxPredictor.box_code_size": Probe(merge(frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { box_code_size: 8 } }")), R, base="frcnn"),
    # --- CenterNet (MobileNetV2 FPN at 64 px)
    "model.center_net.num_classes": Probe(merge(cn("num_classes: 4")), N, base="centernet"),
    "model.center_net.image_resizer.fixed_shape_resizer": Probe(both(clear("model.center_net.image_resizer"), merge(
        cn("image_resizer { fixed_shape_resizer { height: 32 width: 64 } }"))), N, base="centernet"),
    "model.center_net.feature_extractor.type": Probe(merge(cn('feature_extractor { type: "resnet_v2_50" }')), N,
                                                     base="centernet"),
    **{f"model.center_net.feature_extractor.{k}": Probe(merge(cn(f"feature_extractor {{ {k}: {v} }}")), N,
                                                        base="centernet")
       for k, v in (("channel_means", "[10, 20, 30]"), ("channel_stds", "[2, 3, 4]"), ("bgr_ordering", "true"))},
    "model.center_net.use_depthwise": Probe(merge(cn("use_depthwise: true")), N, base="centernet"),
    **{f"model.center_net.feature_extractor.{k}": Probe(merge(cn(f"feature_extractor {{ {k}: {v} }}")), N,
                                                        base="centernet")
       for k, v in (("depth_multiplier", "0.5"), ("use_separable_conv", "true"),
                    ("upsampling_interpolation", '"bilinear"'))},
    **{f"model.center_net.object_detection_task.{k}": Probe(merge(cn(f"object_detection_task {{ {k}: {v} }}")), N,
                                                            base="centernet")
       for k, v in (("task_loss_weight", "3.0"), ("offset_loss_weight", "3.0"), ("scale_loss_weight", "3.0"))},
    **{f"model.center_net.{owner}.{head}": Probe(merge(cn(
        f"{owner} {{ {head} {{ num_filters: 32 kernel_sizes: 1 }} }}")), N, base="centernet")
       for owner, head in (("object_detection_task", "scale_head_params"),
                           ("object_detection_task", "offset_head_params"),
                           ("object_center_params", "center_head_params"))},
    **{f"CenterNet.PredictionHeadParams.{k}": Probe(both(
        clear("model.center_net.object_center_params.center_head_params"),
        merge(cn(f"object_center_params {{ center_head_params {{ {v} }} }}"))), N, base="centernet",
        prepare=merge(cn("object_center_params { center_head_params { num_filters: 16 kernel_sizes: 3 } }")))
       for k, v in (("num_filters", "num_filters: 32 kernel_sizes: 3"),
                    ("kernel_sizes", "num_filters: 16 kernel_sizes: 1"))},
    **{f"model.center_net.object_center_params.{k}": Probe(merge(cn(f"object_center_params {{ {k}: {v} }}")), N,
                                                           base="centernet")
       for k, v in (("object_center_loss_weight", "3.0"), ("heatmap_bias_init", "1.0"),
                    ("min_box_overlap_iou", "0.3"), ("max_box_predictions", "3"))},
    # 100 of the 16 x 16 x 3 locations: more than there are peaks, so without the max pool non-peaks come in.
    "model.center_net.object_center_params.peak_max_pool_kernel_size": Probe(merge(cn(
        "object_center_params { peak_max_pool_kernel_size: 1 }")), N, base="centernet",
        prepare=merge(cn("object_center_params { max_box_predictions: 100 }"))),
    **{f"PenaltyReducedLogisticFocalLoss.{k}": Probe(merge(cn(
        f"object_center_params {{ classification_loss {{ penalty_reduced_logistic_focal_loss {{ {k}: 1.0 }} }} }}")), N,
        base="centernet") for k in ("alpha", "beta")},
    "model.center_net.post_processing": Probe(merge(cn(
        "post_processing { batch_non_max_suppression { score_threshold: 0.3 iou_threshold: 0.3 "
        "max_detections_per_class: 5 max_total_detections: 5 change_coordinate_frame: false } }")), N,
        base="centernet"),
    "model.center_net.post_processing.batch_non_max_suppression.change_coordinate_frame": Probe(merge(cn(
        "post_processing { batch_non_max_suppression { change_coordinate_frame: true } }")), R, base="centernet"),
    "model.center_net.object_center_params.use_labeled_classes": Probe(merge(cn(
        "object_center_params { use_labeled_classes: true }")), R, base="centernet"),
    # --- CenterNet keypoint tasks (the CenterNet base with class c1's three keypoints)
    **{f"model.center_net.keypoint_estimation_task.{k}": Probe(kp(v), N, base="centernet_kpts")
       for k, v in (("task_name", 'task_name: "pose"'), ("task_loss_weight", "task_loss_weight: 3.0"),
                    ("keypoint_class_name", 'keypoint_class_name: "c2"'),
                    ("keypoint_label_to_std", 'keypoint_label_to_std { key: "a" value: 3.0 }'),
                    ("keypoint_regression_loss_weight", "keypoint_regression_loss_weight: 3.0"),
                    ("keypoint_heatmap_loss_weight", "keypoint_heatmap_loss_weight: 3.0"),
                    ("keypoint_offset_loss_weight", "keypoint_offset_loss_weight: 3.0"),
                    ("heatmap_bias_init", "heatmap_bias_init: 1.0"),
                    ("keypoint_candidate_score_threshold", "keypoint_candidate_score_threshold: 0.95"),
                    ("num_candidates_per_keypoint", "num_candidates_per_keypoint: 1"),
                    ("peak_max_pool_kernel_size", "peak_max_pool_kernel_size: 1"),
                    ("unmatched_keypoint_score", "unmatched_keypoint_score: 0.5"),
                    ("box_scale", "box_scale: 0.2"), ("candidate_search_scale", "candidate_search_scale: 0.01"),
                    ("candidate_ranking_mode", 'candidate_ranking_mode: "score_distance_ratio"'),
                    ("offset_peak_radius", "offset_peak_radius: 3"), ("per_keypoint_offset", "per_keypoint_offset: true"),
                    ("clip_out_of_frame_keypoints", "clip_out_of_frame_keypoints: true"),
                    ("rescore_instances", "rescore_instances: true"),
                    *((head, f"{head} {{ num_filters: 32 kernel_sizes: 1 }}")
                      for head in ("heatmap_head_params", "offset_head_params", "regress_head_params")))},
    "model.center_net.keypoint_estimation_task.score_distance_offset": Probe(
        kp("score_distance_offset: 0.01"), N, base="centernet_kpts",
        prepare=kp('candidate_ranking_mode: "score_distance_ratio"')),
    "model.center_net.keypoint_estimation_task.rescoring_threshold": Probe(
        kp("rescoring_threshold: 0.6"), N, base="centernet_kpts", prepare=kp("rescore_instances: true")),
    "model.center_net.keypoint_label_map_path": Probe(
        both(clear("model.center_net.keypoint_estimation_task"), merge(cn(
            f'keypoint_label_map_path: "{LABEL_MAPS / "probe_keypoints_two.pbtxt"}" keypoint_estimation_task {{ '
            'task_name: "kp" keypoint_class_name: "c1" loss { localization_loss { l1_localization_loss { } } '
            'classification_loss { penalty_reduced_logistic_focal_loss { } } } }'))), N, base="centernet_kpts"),
}
