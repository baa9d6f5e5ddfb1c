"""The one table of pipeline.config fields: honoured, ignored with a warning, or rejected.

A rule's key is either a dotted path from the config root
(`model.ssd.feature_extractor.type`) or, for messages that appear in several
places, `MessageName.field` (`Hyperparams.activation`), which applies wherever
that message occurs. A field set in a config that no rule names is rejected as
"not supported by detflow": nothing falls through.

A rejected or ignored scalar field that is set to its OD API default changes
nothing, so it passes without a message. `schemas.field_support` applies the
table to a config; `python -m schemas.field_support` rewrites FIELDS.md from it.
"""

from __future__ import annotations

import dataclasses
import enum


class Support(enum.Enum):
    """How detflow treats a field."""

    HONOURED = "honoured"
    IGNORED = "ignored (warning)"
    REJECTED = "rejected"


@dataclasses.dataclass(frozen=True)
class FieldRule:
    """One row of the table. `allowed` limits an honoured field to the values detflow implements."""

    key: str
    support: Support
    note: str = ""
    allowed: tuple = ()


def _h(key: str, note: str = "", allowed: tuple = ()) -> FieldRule:
    return FieldRule(key, Support.HONOURED, note, tuple(allowed))


def _i(key: str, note: str) -> FieldRule:
    return FieldRule(key, Support.IGNORED, note)


def _r(key: str, note: str) -> FieldRule:
    return FieldRule(key, Support.REJECTED, note)


def _many(make, keys: str, note: str = "") -> list[FieldRule]:
    return [make(k, note) for k in keys.split()]


SSD_FEATURE_EXTRACTORS = ("ssd_mobilenet_v2_keras", "ssd_mobilenet_v2_fpn_keras", "ssd_mobilenet_v1_fpn_keras",
                          "ssd_resnet50_v1_fpn_keras",
                          "ssd_resnet101_v1_fpn_keras", "ssd_resnet152_v1_fpn_keras",
                          *(f"ssd_efficientnet-b{i}_bifpn_keras" for i in range(8)))
FASTER_RCNN_FEATURE_EXTRACTORS = ("faster_rcnn_resnet50_keras", "faster_rcnn_resnet101_keras",
                                  "faster_rcnn_resnet152_keras")
CENTER_NET_FEATURE_EXTRACTORS = ("resnet_v1_50_fpn", "resnet_v1_101_fpn", "resnet_v2_50", "mobilenet_v2_fpn",
                                 "mobilenet_v2_fpn_sep_conv", "hourglass_104", "hourglass_10", "hourglass_20",
                                 "hourglass_32", "hourglass_52")
FINE_TUNE_CHECKPOINT_TYPES = ("classification", "detection", "full")

S = "model.ssd"
F = "model.faster_rcnn"
C = "model.center_net"
K = f"{C}.keypoint_estimation_task"
T = "train_config"
TPU = "a TPU / TF1 static-shape implementation detail; results are the same without it"
DIST = ("TF1 distributed-training setting (parameter servers); detflow's workers are synchronous replicas of "
        "MultiWorkerMirroredStrategy, set by TF_CONFIG")
VIS = "visualisation/export setting of the OD API eval job; detflow's Evaluator writes its own outputs"
READ = "input-pipeline tuning; detflow's tf.data pipeline tunes itself"

RULES: list[FieldRule] = [
    # --- top level
    _h("model"), _h("train_config"), _h("train_input_reader"), _h("eval_config"),
    _h("eval_input_reader", "detflow evaluates the first eval_input_reader only"),
    _r("graph_rewriter", "quantization-aware training is not implemented"),
    _r("model.experimental_model", "only ssd, faster_rcnn and center_net models are built"),
    _h(S), _h(F), _h(C),
    # --- SSD
    _h(f"{S}.num_classes"), _h(f"{S}.image_resizer"),
    _h(f"{S}.image_resizer.fixed_shape_resizer"),
    _h(f"{S}.image_resizer.keep_aspect_ratio_resizer", "scaled to fit, padded to a max_dimension square; anchors "
       "on the padded input, detections clipped to the image"),
    _h(f"{S}.feature_extractor"),
    _h(f"{S}.feature_extractor.type", "backbone", SSD_FEATURE_EXTRACTORS),
    *_many(_h, f"{S}.feature_extractor.depth_multiplier {S}.feature_extractor.min_depth "
               f"{S}.feature_extractor.pad_to_multiple {S}.feature_extractor.use_depthwise "
               f"{S}.feature_extractor.fpn {S}.feature_extractor.conv_hyperparams"),
    _h(f"{S}.feature_extractor.override_base_feature_extractor_hyperparams",
       "true: the backbone uses conv_hyperparams; false: the OD API's own backbone defaults"),
    _h(f"{S}.feature_extractor.bifpn", "EfficientDet's BiFPN; without it the type's D-level defaults"),
    *_many(_h, "BidirectionalFeaturePyramidNetworks.min_level BidirectionalFeaturePyramidNetworks.max_level "
               "BidirectionalFeaturePyramidNetworks.num_iterations BidirectionalFeaturePyramidNetworks.num_filters"),
    _h("BidirectionalFeaturePyramidNetworks.combine_method", "", ("fast_attention", "attention", "weighted_sum",
                                                                  "sum")),
    _h(f"{S}.feature_extractor.use_explicit_padding", "fixed padding + VALID convs, as the OD API"),
    _h(f"{S}.feature_extractor.num_layers", "feature maps of ssd_mobilenet_v2_keras"),
    _r(f"{S}.feature_extractor.replace_preprocessor_with_placeholder", "not implemented"),
    *_many(_h, "FeaturePyramidNetworks.min_level FeaturePyramidNetworks.max_level "
               "FeaturePyramidNetworks.additional_layer_depth"),
    _h(f"{S}.box_coder"), _h(f"{S}.box_coder.faster_rcnn_box_coder"),
    *_many(_h, "FasterRcnnBoxCoder.y_scale FasterRcnnBoxCoder.x_scale "
               "FasterRcnnBoxCoder.height_scale FasterRcnnBoxCoder.width_scale"),
    _h(f"{S}.matcher"), _h(f"{S}.matcher.argmax_matcher"),
    *_many(_h, "ArgMaxMatcher.matched_threshold ArgMaxMatcher.unmatched_threshold"),
    _h("ArgMaxMatcher.ignore_thresholds", "", (False,)),
    _h("ArgMaxMatcher.negatives_lower_than_unmatched", "", (True,)),
    _h("ArgMaxMatcher.force_match_for_each_row",
       "Model Garden's anchor labeler always matches each ground-truth box to its best anchor", (True,)),
    _i("ArgMaxMatcher.use_matmul_gather", TPU),
    _h(f"{S}.similarity_calculator"), _h(f"{S}.similarity_calculator.iou_similarity"),
    _h(f"{S}.encode_background_as_zeros", "the background column's target is 0", (True,)),
    _h(f"{S}.add_background_class", "true: the class head has num_classes + 1 columns, background first; false "
       "(EfficientDet): num_classes columns, no background anywhere"),
    _h(f"{S}.explicit_background_class", "", (False,)),
    _h(f"{S}.box_predictor"), _h(f"{S}.box_predictor.weight_shared_convolutional_box_predictor"),
    *_many(_h, "WeightSharedConvolutionalBoxPredictor.conv_hyperparams "
               "WeightSharedConvolutionalBoxPredictor.num_layers_before_predictor "
               "WeightSharedConvolutionalBoxPredictor.depth WeightSharedConvolutionalBoxPredictor.kernel_size "
               "WeightSharedConvolutionalBoxPredictor.class_prediction_bias_init "
               "WeightSharedConvolutionalBoxPredictor.share_prediction_tower "
               "WeightSharedConvolutionalBoxPredictor.use_depthwise"),
    _h("WeightSharedConvolutionalBoxPredictor.box_code_size", "", (4,)),
    *_many(_h, "WeightSharedConvolutionalBoxPredictor.use_dropout "
               "WeightSharedConvolutionalBoxPredictor.dropout_keep_probability "
               "WeightSharedConvolutionalBoxPredictor.box_encodings_clip_range "
               "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange.min "
               "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange.max"),
    _h("WeightSharedConvolutionalBoxPredictor.score_converter", "scores are converted by post_processing",
       ("IDENTITY",)),
    _h(f"{S}.box_predictor.convolutional_box_predictor"),
    *_many(_h, "ConvolutionalBoxPredictor.conv_hyperparams ConvolutionalBoxPredictor.min_depth "
               "ConvolutionalBoxPredictor.max_depth ConvolutionalBoxPredictor.num_layers_before_predictor "
               "ConvolutionalBoxPredictor.use_dropout ConvolutionalBoxPredictor.dropout_keep_probability "
               "ConvolutionalBoxPredictor.kernel_size ConvolutionalBoxPredictor.class_prediction_bias_init "
               "ConvolutionalBoxPredictor.use_depthwise"),
    _h("ConvolutionalBoxPredictor.box_code_size", "", (4,)),
    _i("ConvolutionalBoxPredictor.apply_sigmoid_to_scores",
       "the OD API's Keras predictor does not read it; scores are converted by post_processing"),
    _h(f"{S}.anchor_generator"), _h(f"{S}.anchor_generator.multiscale_anchor_generator"),
    *_many(_h, "MultiscaleAnchorGenerator.min_level MultiscaleAnchorGenerator.max_level "
               "MultiscaleAnchorGenerator.anchor_scale MultiscaleAnchorGenerator.aspect_ratios "
               "MultiscaleAnchorGenerator.scales_per_octave"),
    _h("MultiscaleAnchorGenerator.normalize_coordinates", "", (True,)),
    _h(f"{S}.anchor_generator.ssd_anchor_generator"),
    *_many(_h, "SsdAnchorGenerator.num_layers SsdAnchorGenerator.min_scale SsdAnchorGenerator.max_scale "
               "SsdAnchorGenerator.scales SsdAnchorGenerator.aspect_ratios "
               "SsdAnchorGenerator.interpolated_scale_aspect_ratio SsdAnchorGenerator.reduce_boxes_in_lowest_layer "
               "SsdAnchorGenerator.base_anchor_height SsdAnchorGenerator.base_anchor_width "
               "SsdAnchorGenerator.height_stride SsdAnchorGenerator.width_stride "
               "SsdAnchorGenerator.height_offset SsdAnchorGenerator.width_offset"),
    _h(f"{S}.post_processing"), _h(f"{S}.post_processing.batch_non_max_suppression"),
    _h(f"{S}.post_processing.score_converter", "", ("IDENTITY", "SIGMOID", "SOFTMAX")),
    _h(f"{S}.post_processing.logit_scale"),
    *_many(_h, "BatchNonMaxSuppression.score_threshold BatchNonMaxSuppression.iou_threshold "
               "BatchNonMaxSuppression.max_detections_per_class BatchNonMaxSuppression.max_total_detections"),
    _i("BatchNonMaxSuppression.change_coordinate_frame",
       "SSD models see the whole image (fixed_shape_resizer), so the clip window is the image"),
    _h("BatchNonMaxSuppression.soft_nms_sigma", "hard NMS only", (0.0,)),
    _h("BatchNonMaxSuppression.use_class_agnostic_nms", "per-class NMS only", (False,)),
    _h(f"{S}.post_processing.batch_non_max_suppression.use_class_agnostic_nms",
       "one NMS over all classes, each box with its best class (max_classes_per_detection 1); the TFLite "
       "export then uses the detection op's fast NMS"),
    *_many(_i, "BatchNonMaxSuppression.use_static_shapes BatchNonMaxSuppression.use_partitioned_nms "
               "BatchNonMaxSuppression.use_combined_nms", TPU),
    _h(f"{S}.normalize_loss_by_num_matches", "", (True,)),
    _h(f"{S}.normalize_loc_loss_by_codesize"),
    _h(f"{S}.loss"), _h(f"{S}.loss.classification_loss"), _h(f"{S}.loss.localization_loss"),
    _h(f"{S}.loss.classification_loss.weighted_sigmoid_focal"),
    _h(f"{S}.loss.localization_loss.weighted_smooth_l1"),
    *_many(_h, "SigmoidFocalClassificationLoss.gamma SigmoidFocalClassificationLoss.alpha "
               "WeightedSmoothL1LocalizationLoss.delta Loss.classification_weight Loss.localization_weight"),
    _h(f"{S}.freeze_batchnorm"),
    _i(f"{S}.inplace_batchnorm_update", "Keras batch norm always updates its statistics in place"),
    # --- Faster R-CNN
    _h(f"{F}.num_classes"), _h(f"{F}.image_resizer"),
    _h(f"{F}.image_resizer.keep_aspect_ratio_resizer"),
    _h(f"{F}.image_resizer.fixed_shape_resizer"),
    *_many(_h, "KeepAspectRatioResizer.min_dimension KeepAspectRatioResizer.max_dimension"),
    _h("KeepAspectRatioResizer.pad_to_max_dimension", "images are padded to max_dimension", (True,)),
    _h("FixedShapeResizer.height"), _h("FixedShapeResizer.width"),
    _h("FixedShapeResizer.resize_method", "", ("BILINEAR",)),
    _h("KeepAspectRatioResizer.resize_method", "", ("BILINEAR",)),
    _h(f"{F}.feature_extractor"),
    _h(f"{F}.feature_extractor.type", "backbone", FASTER_RCNN_FEATURE_EXTRACTORS),
    _h(f"{F}.feature_extractor.batch_norm_trainable"),
    _h(f"{F}.feature_extractor.first_stage_features_stride", "", (16,)),
    _h(f"{F}.first_stage_anchor_generator"), _h(f"{F}.first_stage_anchor_generator.grid_anchor_generator"),
    *_many(_h, "GridAnchorGenerator.height GridAnchorGenerator.width GridAnchorGenerator.scales "
               "GridAnchorGenerator.aspect_ratios"),
    *_many(_h, f"{F}.first_stage_box_predictor_conv_hyperparams {F}.first_stage_box_predictor_kernel_size "
               f"{F}.maxpool_kernel_size "
               f"{F}.second_stage_box_predictor.mask_rcnn_box_predictor.use_dropout "
               f"{F}.second_stage_box_predictor.mask_rcnn_box_predictor.dropout_keep_probability "
               f"{F}.first_stage_anchor_generator.grid_anchor_generator.height_stride "
               f"{F}.first_stage_anchor_generator.grid_anchor_generator.width_stride "
               f"{F}.second_stage_post_processing.batch_non_max_suppression.max_detections_per_class"),
    _h(f"{F}.second_stage_box_predictor.mask_rcnn_box_predictor.fc_hyperparams",
       "its batch_norm only: the OD API's second-stage dense layers take neither its initializer nor its "
       "regularizer"),
    _i(f"{F}.clip_anchors_to_image", "anchors are always clipped to the image (what the zoo configs set); the OD "
       "API's pruning of anchors outside the image in training (false) is not implemented"),
    _i(f"{F}.second_stage_post_processing.batch_non_max_suppression.change_coordinate_frame",
       "the OD API's Faster R-CNN always expresses detections relative to the true image"),
    *_many(_h, f"{F}.first_stage_box_predictor_depth {F}.first_stage_minibatch_size "
               f"{F}.first_stage_positive_balance_fraction {F}.first_stage_nms_score_threshold "
               f"{F}.first_stage_nms_iou_threshold {F}.first_stage_max_proposals "
               f"{F}.first_stage_localization_loss_weight {F}.first_stage_objectness_loss_weight "
               f"{F}.initial_crop_size {F}.maxpool_stride "
               f"{F}.second_stage_box_predictor {F}.second_stage_box_predictor.mask_rcnn_box_predictor "
               f"{F}.second_stage_batch_size {F}.second_stage_balance_fraction "
               f"{F}.second_stage_post_processing {F}.second_stage_post_processing.batch_non_max_suppression "
               f"{F}.second_stage_localization_loss_weight {F}.second_stage_classification_loss_weight"),
    _h(f"{F}.second_stage_post_processing.score_converter", "", ("SOFTMAX",)),
    _h(f"{F}.first_stage_atrous_rate", "", (1,)),
    _h(f"{F}.number_of_stages", "", (2,)),
    _h("MaskRCNNBoxPredictor.share_box_across_classes"),
    _h("MaskRCNNBoxPredictor.box_code_size", "", (4,)),
    *_many(_i, f"{F}.use_static_shapes {F}.use_matmul_crop_and_resize {F}.use_static_balanced_label_sampler "
               f"{F}.use_matmul_gather_in_matcher {F}.use_static_shapes_for_eval "
               f"{F}.use_partitioned_nms_in_first_stage {F}.resize_masks", TPU),
    _i(f"{F}.inplace_batchnorm_update", "Keras batch norm always updates its statistics in place"),
    # --- CenterNet
    _h(f"{C}.num_classes"), _h(f"{C}.image_resizer"), _h(f"{C}.image_resizer.keep_aspect_ratio_resizer"),
    _h(f"{C}.image_resizer.fixed_shape_resizer"),
    _h(f"{C}.feature_extractor"),
    _h(f"{C}.feature_extractor.type", "backbone", CENTER_NET_FEATURE_EXTRACTORS),
    *_many(_h, f"{C}.feature_extractor.channel_means {C}.feature_extractor.channel_stds "
               f"{C}.feature_extractor.bgr_ordering"),
    _h(f"{C}.feature_extractor.depth_multiplier", "the MobileNetV2's width (the OD API's ResNets do not read it)"),
    _h(f"{C}.feature_extractor.use_separable_conv", "the MobileNetV2 FPN's 3x3 convs, when set (to true, or with "
       "the `_sep_conv` type, as the OD API's builder reads it; the ResNets do not read it)"),
    _h(f"{C}.feature_extractor.upsampling_interpolation", "the MobileNetV2 FPN's upsampling (the ResNets do not "
       "read it)", ("nearest", "bilinear")),
    _i(f"{C}.feature_extractor.use_depthwise", "the OD API's CenterNet feature extractors do not read it (the "
       "heads' use_depthwise is model.center_net.use_depthwise)"),
    _h(f"{C}.use_depthwise", "the heads' convs are separable"),
    _i(f"{C}.compute_heatmap_sparse", "the OD API's dense and sparse heatmap ops compute the same targets"),
    _i(f"{C}.output_prediction_dict", "the export's outputs are the detections"),
    _h(f"{C}.object_detection_task", "required: detflow's CenterNet detects boxes"),
    *_many(_h, f"{C}.object_detection_task.task_loss_weight {C}.object_detection_task.offset_loss_weight "
               f"{C}.object_detection_task.scale_loss_weight {C}.object_detection_task.localization_loss "
               f"{C}.object_detection_task.scale_head_params {C}.object_detection_task.offset_head_params "
               "CenterNet.PredictionHeadParams.num_filters CenterNet.PredictionHeadParams.kernel_sizes"),
    _h(f"{C}.object_detection_task.localization_loss.l1_localization_loss", "the OD API's CenterNet box loss"),
    _h(f"{C}.object_center_params"),
    *_many(_h, f"{C}.object_center_params.object_center_loss_weight {C}.object_center_params.classification_loss "
               f"{C}.object_center_params.heatmap_bias_init {C}.object_center_params.min_box_overlap_iou "
               f"{C}.object_center_params.max_box_predictions {C}.object_center_params.center_head_params "
               f"{C}.object_center_params.peak_max_pool_kernel_size "
               "PenaltyReducedLogisticFocalLoss.alpha PenaltyReducedLogisticFocalLoss.beta"),
    _h(f"{C}.object_center_params.classification_loss.penalty_reduced_logistic_focal_loss",
       "the OD API's CenterNet center loss"),
    _h(f"{C}.object_center_params.use_labeled_classes", "", (False,)),
    _r(f"{C}.object_center_params.keypoint_weights_for_center", "centers from keypoints are not built (detflow's "
       "CenterNet detects boxes)"),
    _h(f"{C}.keypoint_label_map_path", "the label map whose `keypoint_class_name` item declares the keypoints "
       "(`keypoints { id label }`), read as the OD API reads it"),
    _h(f"{C}.keypoint_estimation_task", "the OD API's keypoint heads, targets, losses and post-processing"),
    *_many(_h, f"{K}.task_name {K}.task_loss_weight {K}.loss {K}.keypoint_class_name {K}.keypoint_label_to_std "
               f"{K}.keypoint_regression_loss_weight {K}.keypoint_heatmap_loss_weight "
               f"{K}.keypoint_offset_loss_weight {K}.heatmap_bias_init {K}.keypoint_candidate_score_threshold "
               f"{K}.num_candidates_per_keypoint {K}.peak_max_pool_kernel_size {K}.unmatched_keypoint_score "
               f"{K}.box_scale {K}.candidate_search_scale {K}.score_distance_offset {K}.offset_peak_radius "
               f"{K}.per_keypoint_offset {K}.clip_out_of_frame_keypoints {K}.rescore_instances "
               f"{K}.rescoring_threshold {K}.heatmap_head_params {K}.offset_head_params {K}.regress_head_params"),
    _h(f"{K}.loss.classification_loss"), _h(f"{K}.loss.localization_loss"),
    _h(f"{K}.loss.classification_loss.penalty_reduced_logistic_focal_loss", "the keypoint heatmap loss"),
    _h(f"{K}.loss.localization_loss.l1_localization_loss", "the keypoint offset and regression loss"),
    _h(f"{K}.candidate_ranking_mode", "", ("min_distance", "score_distance_ratio")),
    *_many(_r, f"{K}.predict_depth {K}.per_keypoint_depth {K}.keypoint_depth_loss_weight",
           "keypoint depth is not built"),
    _r(f"{K}.argmax_postprocessing", "the OD API's argmax keypoint post-processing is not built (its default, "
       "candidates snapped to regressed keypoints, is)"),
    *_many(_i, f"{K}.score_distance_multiplier {K}.std_dev_multiplier",
           "read only by the candidate_ranking_mode values detflow does not build"),
    _i(f"{K}.gaussian_denom_ratio", "read only by the OD API's argmax post-processing, which detflow does not build"),
    *_many(_r, f"{C}.mask_estimation_task {C}.densepose_estimation_task {C}.track_estimation_task "
               f"{C}.temporal_offset_task {C}.deepmac_mask_estimation", "not implemented (CenterNet boxes only)"),
    _h(f"{C}.post_processing", "NMS over the heatmap peaks' boxes (the OD API's: boxes of zero area dropped); "
       "without it the peaks are the detections"),
    _h(f"{C}.post_processing.batch_non_max_suppression"),
    *_many(_i, f"{C}.post_processing.score_converter {C}.post_processing.logit_scale",
           "CenterNet's scores are its heatmap's sigmoid: the OD API does not convert them again"),
    _h(f"{C}.post_processing.batch_non_max_suppression.change_coordinate_frame",
       "must be false (its default is true): the OD API's CenterNet NMS is given no clip window and fails "
       "otherwise",
       (False,)),
    # --- layer hyperparameters (backbone extras, FPN, heads)
    _i("Hyperparams.op", "the OD API's Keras layers do not read it"),
    _h("Hyperparams.regularizer"), _h("Hyperparams.initializer"),
    _h("Hyperparams.activation"),
    _h("Hyperparams.force_use_bias"),
    _h("Hyperparams.batch_norm"),
    _r("Hyperparams.sync_batch_norm", "not implemented; use batch_norm"),
    _r("Hyperparams.group_norm", "not implemented; use batch_norm"),
    _h("Regularizer.l2_regularizer"), _h("L2Regularizer.weight"),
    _r("Regularizer.l1_regularizer", "not implemented; use l2_regularizer"),
    *_many(_h, "Initializer.truncated_normal_initializer Initializer.random_normal_initializer "
               "Initializer.variance_scaling_initializer TruncatedNormalInitializer.mean "
               "TruncatedNormalInitializer.stddev RandomNormalInitializer.mean RandomNormalInitializer.stddev "
               "VarianceScalingInitializer.factor VarianceScalingInitializer.uniform "
               "VarianceScalingInitializer.mode"),
    *_many(_h, "BatchNorm.decay BatchNorm.epsilon BatchNorm.scale BatchNorm.center"),
    _i("BatchNorm.train", "the OD API's Keras layers do not read it; use freeze_batchnorm to freeze batch norm"),
    # --- training
    *_many(_h, f"{T}.batch_size {T}.num_steps {T}.optimizer {T}.gradient_clipping_by_norm "
               f"{T}.fine_tune_checkpoint {T}.data_augmentation_options {T}.max_number_of_boxes "
               f"{T}.freeze_variables {T}.update_trainable_variables"),
    _h(f"{T}.fine_tune_checkpoint_type", "unset or empty (as the zoo's CenterNet MobileNetV2 configs have it): "
       "detection", (*FINE_TUNE_CHECKPOINT_TYPES, "")),
    _h(f"{T}.fine_tune_checkpoint_version", "TF2 object-based checkpoints", ("V2",)),
    *_many(_i, f"{T}.sync_replicas {T}.replicas_to_aggregate {T}.startup_delay_steps", DIST),
    _h(f"{T}.use_bfloat16", "on a TPU (`--tpu`): the mixed_bfloat16 policy, as the OD API; elsewhere float32 "
                            "unless `--precision` says otherwise (the OD API ignores it off a TPU too)"),
    *_many(_i, f"{T}.batch_queue_capacity {T}.num_batch_queue_threads {T}.prefetch_queue_capacity", READ),
    _i(f"{T}.keep_checkpoint_every_n_hours", "checkpoint retention is managed by the Trainer"),
    _i(f"{T}.unpad_groundtruth_tensors", "ground truth is always padded to max_number_of_boxes"),
    _i(f"{T}.summarize_gradients", "TensorBoard summary setting"),
    _i(f"{T}.retain_original_images", "TensorBoard summary setting"),
    _r(f"{T}.from_detection_checkpoint", "deprecated in the OD API; use fine_tune_checkpoint_type"),
    *_many(_r, f"{T}.load_all_detection_checkpoint_vars {T}.bias_grad_multiplier "
               f"{T}.merge_multiple_label_boxes {T}.use_multiclass_scores {T}.add_regularization_loss",
           "not implemented"),
    *_many(_h, "Optimizer.momentum_optimizer Optimizer.adam_optimizer Optimizer.rms_prop_optimizer "
               "Optimizer.use_moving_average Optimizer.moving_average_decay "
               "MomentumOptimizer.learning_rate MomentumOptimizer.momentum_optimizer_value "
               "AdamOptimizer.learning_rate AdamOptimizer.epsilon RMSPropOptimizer.learning_rate "
               "RMSPropOptimizer.momentum_optimizer_value RMSPropOptimizer.decay RMSPropOptimizer.epsilon "
               "LearningRate.constant_learning_rate LearningRate.exponential_decay_learning_rate "
               "LearningRate.manual_step_learning_rate LearningRate.cosine_decay_learning_rate "
               "ConstantLearningRate.learning_rate "
               "ExponentialDecayLearningRate.initial_learning_rate ExponentialDecayLearningRate.decay_steps "
               "ExponentialDecayLearningRate.decay_factor ExponentialDecayLearningRate.staircase "
               "ExponentialDecayLearningRate.burnin_learning_rate ExponentialDecayLearningRate.burnin_steps "
               "ExponentialDecayLearningRate.min_learning_rate "
               "ManualStepLearningRate.initial_learning_rate ManualStepLearningRate.schedule "
               "ManualStepLearningRate.warmup ManualStepLearningRate.LearningRateSchedule.step "
               "ManualStepLearningRate.LearningRateSchedule.learning_rate "
               "CosineDecayLearningRate.learning_rate_base CosineDecayLearningRate.total_steps "
               "CosineDecayLearningRate.warmup_learning_rate CosineDecayLearningRate.warmup_steps "
               "CosineDecayLearningRate.hold_base_rate_steps"),
    *_many(_h, "PreprocessingStep.random_horizontal_flip RandomHorizontalFlip.probability "
               "PreprocessingStep.random_adjust_brightness RandomAdjustBrightness.max_delta "
               "PreprocessingStep.random_adjust_contrast RandomAdjustContrast.min_delta RandomAdjustContrast.max_delta "
               "PreprocessingStep.random_adjust_saturation RandomAdjustSaturation.min_delta "
               "RandomAdjustSaturation.max_delta PreprocessingStep.random_adjust_hue RandomAdjustHue.max_delta "
               "PreprocessingStep.random_crop_image RandomCropImage.min_object_covered "
               "RandomCropImage.min_aspect_ratio RandomCropImage.max_aspect_ratio RandomCropImage.min_area "
               "RandomCropImage.max_area RandomCropImage.overlap_thresh RandomCropImage.clip_boxes "
               "RandomCropImage.random_coef PreprocessingStep.ssd_random_crop SSDRandomCrop.operations "
               "SSDRandomCropOperation.min_object_covered SSDRandomCropOperation.min_aspect_ratio "
               "SSDRandomCropOperation.max_aspect_ratio SSDRandomCropOperation.min_area "
               "SSDRandomCropOperation.max_area SSDRandomCropOperation.overlap_thresh "
               "SSDRandomCropOperation.clip_boxes SSDRandomCropOperation.random_coef "
               "PreprocessingStep.random_scale_crop_and_pad_to_square "
               "RandomScaleCropAndPadToSquare.output_size RandomScaleCropAndPadToSquare.scale_min "
               "RandomScaleCropAndPadToSquare.scale_max PreprocessingStep.random_square_crop_by_scale "
               "RandomSquareCropByScale.max_border RandomSquareCropByScale.scale_min "
               "RandomSquareCropByScale.scale_max RandomSquareCropByScale.num_scales "
               "PreprocessingStep.random_absolute_pad_image RandomAbsolutePadImage.max_height_padding "
               "RandomAbsolutePadImage.max_width_padding RandomAbsolutePadImage.pad_color "
               "PreprocessingStep.random_patch_gaussian RandomPatchGaussian.random_coef "
               "RandomPatchGaussian.min_patch_size RandomPatchGaussian.max_patch_size "
               "RandomPatchGaussian.min_gaussian_stddev RandomPatchGaussian.max_gaussian_stddev"),
    _h("RandomHorizontalFlip.keypoint_flip_permutation", "reorders the keypoints of a flipped image (left and right)"),
    # --- input readers and evaluation
    *_many(_h, "InputReader.label_map_path InputReader.tf_record_input_reader TFRecordInputReader.input_path"),
    _h("InputReader.num_keypoints", "training labels carry K keypoints per box through the augmentations"),
    _i("InputReader.shuffle", "training input is always shuffled, evaluation input never"),
    _i("InputReader.max_number_of_boxes", "train_config.max_number_of_boxes limits the boxes per image"),
    *_many(_i, "InputReader.num_readers InputReader.shuffle_buffer_size InputReader.filenames_shuffle_buffer_size "
               "InputReader.num_parallel_batches InputReader.num_prefetch_batches InputReader.queue_capacity "
               "InputReader.min_after_dequeue InputReader.read_block_length InputReader.prefetch_size "
               "InputReader.num_parallel_map_calls", READ),
    _i("InputReader.num_epochs", "training repeats until num_steps; evaluation reads the eval split once"),
    _i("InputReader.name", "a label only"),
    _h("eval_config.metrics_set", "", ("coco_detection_metrics",)),
    _i("eval_config.batch_size", "the Evaluator batches the eval split itself; the metrics do not depend on it"),
    _i("eval_config.include_metrics_per_category", "per-category AP is always computed and recorded"),
    _i("eval_config.min_score_threshold", "a drawing threshold of the OD API's eval job; the Evaluator draws its own"),
    _i("eval_config.use_moving_averages",
       "the export holds the moving averages when train_config's use_moving_average is on; that is what is evaluated"),
    _h("eval_config.parameterized_metric", "each coco_keypoint_metrics adds its class's 10 COCO keypoint metrics "
       "(`Keypoints_Precision/mAP ByCategory/<class_label>` ...) to the Evaluator's, as the OD API's "
       "CocoKeypointEvaluator computes them (equal to pycocotools); any of them can be the blessing metric"),
    _h("eval_config.parameterized_metric.coco_keypoint_metrics"),
    _h("eval_config.parameterized_metric.coco_keypoint_metrics.class_label",
       "the label-map class (display name, else name) whose ground truth and detections count; its "
       "`keypoints { id label }` pick the keypoints"),
    _h("eval_config.parameterized_metric.coco_keypoint_metrics.keypoint_label_to_sigmas",
       "one OKS sigma > 0 per keypoint label of the class; none: COCO's person sigmas, for 17 keypoints only"),
    _h("eval_config.keypoint_edge", "drawn by detflow predict from the export's pipeline.config: a line between "
       "a detection's two keypoints (the OD API's eval drawing's edges); the Evaluator's pictures draw no keypoints"),
    *_many(_h, "KeypointEdge.start KeypointEdge.end", "a keypoint index: a column of the model's detection_keypoints"),
    _i("eval_config.num_examples", "detflow evaluates the whole eval split"),
    _i("eval_config.max_evals", "detflow evaluates once per pipeline run"),
    _i("eval_config.eval_interval_secs", "detflow evaluates once per pipeline run"),
    *_many(_i, "eval_config.num_visualizations eval_config.save_graph eval_config.visualization_export_dir "
               "eval_config.eval_master eval_config.export_path eval_config.max_num_boxes_to_visualize "
               "eval_config.skip_scores eval_config.skip_labels eval_config.visualize_groundtruth_boxes "
               "eval_config.groundtruth_box_visualization_color "
               "eval_config.keep_image_id_for_visualization_export eval_config.retain_original_images "
               "eval_config.retain_original_image_additional_channels eval_config.use_dummy_loss_in_eval", VIS),
]
