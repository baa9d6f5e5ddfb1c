"""One probe per honoured pipeline.config field: a change of its value and the part of detflow it must change.

`PROBES` gathers the network probes (network_probes) and those of training,
augmentation, readers and evaluation written here; probe_kit says what a probe
holds. `CONTAINERS` lists the honoured message fields that only hold other
fields (each of those has its own probe).
"""
from __future__ import annotations

from tests.schemas.network_probes import NETWORK_PROBES
from tests.schemas.probe_kit import BASES  # noqa: F401  (the tests take the bases from here)
from tests.schemas.probe_kit import (Probe, merge, both, clear, opt, lr, aug, only_aug, SSD_CROP, ssd_crop, T, R)

# c1's keypoint AP (tests/data/label_maps/probe_keypoints.pbtxt: keypoints a, b, c).
KEYPOINT_METRIC = ('eval_config { parameterized_metric { coco_keypoint_metrics { class_label: "c1" '
                   'keypoint_label_to_sigmas { key: "a" value: 0.5 } keypoint_label_to_sigmas { key: "b" value: 0.3 } '
                   'keypoint_label_to_sigmas { key: "c" value: 0.8 } } } }')


def keypoint_metric(change):
    """An edit applying `change` to the first parameterized_metric's coco_keypoint_metrics."""
    def edit(proto):
        change(proto.eval_config.parameterized_metric[0].coco_keypoint_metrics)
    return edit


# An edge between keypoints 0 and 1 (of c1's a, b, c), drawn by `detflow predict`.
KEYPOINT_EDGE = "eval_config { keypoint_edge { start: 0 end: 1 } }"


def first_edge(field: str, value: int):
    """An edit setting `field` of the first eval_config.keypoint_edge to `value`."""
    def edit(proto):
        setattr(proto.eval_config.keypoint_edge[0], field, value)
    return edit


PROBES: dict[str, Probe] = {
    "eval_input_reader": Probe(merge('eval_input_reader { tf_record_input_reader { input_path: "eval-*.gz" } }'),
                               "readers"),
    **NETWORK_PROBES,
    # --- training
    "train_config.batch_size": Probe(merge("train_config { batch_size: 4 }"), T),
    "train_config.num_steps": Probe(merge("train_config { num_steps: 3 }"), T),
    "train_config.gradient_clipping_by_norm": Probe(merge("train_config { gradient_clipping_by_norm: 1.0 }"), T),
    "train_config.use_bfloat16": Probe(merge("train_config { use_bfloat16: true }"), T),
    "train_config.fine_tune_checkpoint": Probe(merge('train_config { fine_tune_checkpoint: "zoo/checkpoint/ckpt-0" }'),
                                               T),
    "train_config.data_augmentation_options": Probe(aug("random_adjust_brightness"), T),
    "train_config.max_number_of_boxes": Probe(merge("train_config { max_number_of_boxes: 1 }"), T),
    "train_config.freeze_variables": Probe(merge('train_config { freeze_variables: "ClassPredictor" }'), "freeze"),
    "train_config.update_trainable_variables": Probe(merge(
        'train_config { update_trainable_variables: "^box_predictor/" }'), "freeze"),
    "train_config.fine_tune_checkpoint_type": Probe(merge('train_config { fine_tune_checkpoint_type: "full" }'), T),
    "train_config.fine_tune_checkpoint_version": Probe(merge("train_config { fine_tune_checkpoint_version: V1 }"), R),
    "Optimizer.momentum_optimizer": Probe(both(clear("train_config.optimizer.adam_optimizer"), merge(opt(
        "momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }"))), T,
        prepare=both(clear("train_config.optimizer.momentum_optimizer"), merge(opt(
            "adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }")))),
    "Optimizer.adam_optimizer": Probe(both(clear("train_config.optimizer.momentum_optimizer"), merge(opt(
        "adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }"))), T),
    "Optimizer.rms_prop_optimizer": Probe(both(clear("train_config.optimizer.momentum_optimizer"), merge(opt(
        "rms_prop_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }"))), T),
    "Optimizer.use_moving_average": Probe(merge(opt("use_moving_average: true")), T),
    "Optimizer.moving_average_decay": Probe(merge(opt("moving_average_decay: 0.5")), T,
                                            prepare=merge(opt("use_moving_average: true"))),
    "MomentumOptimizer.learning_rate": Probe(lr("constant_learning_rate", "learning_rate: 0.5"), T),
    "MomentumOptimizer.momentum_optimizer_value": Probe(merge(opt(
        "momentum_optimizer { momentum_optimizer_value: 0.5 }")), T),
    **{f"{cls}.{k}": Probe(merge(opt(f"{kind} {{ {k}: {v} }}")), T, prepare=both(
        clear("train_config.optimizer.momentum_optimizer"),
        merge(opt(f"{kind} {{ learning_rate {{ constant_learning_rate {{ learning_rate: 0.01 }} }} }}"))))
       for cls, kind, k, v in (
           ("AdamOptimizer", "adam_optimizer", "epsilon", "0.1"),
           ("RMSPropOptimizer", "rms_prop_optimizer", "momentum_optimizer_value", "0.5"),
           ("RMSPropOptimizer", "rms_prop_optimizer", "decay", "0.5"),
           ("RMSPropOptimizer", "rms_prop_optimizer", "epsilon", "0.1"))},
    **{f"{cls}.learning_rate": Probe(merge(opt(
        f"{kind} {{ learning_rate {{ constant_learning_rate {{ learning_rate: 0.5 }} }} }}")), T, prepare=both(
        clear("train_config.optimizer.momentum_optimizer"),
        merge(opt(f"{kind} {{ learning_rate {{ constant_learning_rate {{ learning_rate: 0.01 }} }} }}"))))
       for cls, kind in (("AdamOptimizer", "adam_optimizer"), ("RMSPropOptimizer", "rms_prop_optimizer"))},
    "LearningRate.constant_learning_rate": Probe(lr("constant_learning_rate", "learning_rate: 0.01"), T,
                                                 prepare=lr("exponential_decay_learning_rate", "")),
    "LearningRate.exponential_decay_learning_rate": Probe(lr("exponential_decay_learning_rate", ""), T),
    "LearningRate.manual_step_learning_rate": Probe(lr("manual_step_learning_rate", "initial_learning_rate: 0.1"), T),
    "LearningRate.cosine_decay_learning_rate": Probe(lr(
        "cosine_decay_learning_rate", "learning_rate_base: 0.1 total_steps: 100 warmup_steps: 10 "
        "warmup_learning_rate: 0.01"), T),
    "ConstantLearningRate.learning_rate": Probe(lr("constant_learning_rate", "learning_rate: 0.5"), T),
    **{f"ExponentialDecayLearningRate.{k}": Probe(
        lr("exponential_decay_learning_rate", f"decay_steps: 100 burnin_steps: 10 burnin_learning_rate: 0.1 "
            f"{k}: {v}"), T,
        prepare=lr("exponential_decay_learning_rate", "decay_steps: 100 burnin_steps: 10 burnin_learning_rate: 0.1"))
       for k, v in (("initial_learning_rate", "0.5"), ("decay_steps", "10"), ("decay_factor", "0.5"),
                    ("staircase", "false"), ("burnin_learning_rate", "0.2"), ("burnin_steps", "50"),
                    ("min_learning_rate", "0.003"))},
    **{f"ManualStepLearningRate.{k}": Probe(
        lr("manual_step_learning_rate", f"initial_learning_rate: 0.1 {v}"), T,
        prepare=lr("manual_step_learning_rate", "initial_learning_rate: 0.1 schedule { step: 50 learning_rate: 0.01 }"))
       for k, v in (("initial_learning_rate", "initial_learning_rate: 0.3"),
                    ("schedule", "schedule { step: 500 learning_rate: 0.001 }"), ("warmup", "warmup: true"))},
    **{f"ManualStepLearningRate.LearningRateSchedule.{k}": Probe(
        lr("manual_step_learning_rate", f"initial_learning_rate: 0.1 schedule {{ {v} }}"), T,
        prepare=lr("manual_step_learning_rate", "initial_learning_rate: 0.1"))
       for k, v in (("step", "step: 5 learning_rate: 0.01"), ("learning_rate", "step: 50 learning_rate: 0.5"))},
    **{f"CosineDecayLearningRate.{k}": Probe(
        lr("cosine_decay_learning_rate", f"learning_rate_base: 0.1 total_steps: 1000 warmup_steps: 10 "
            f"warmup_learning_rate: 0.01 {k}: {v}"), T,
        prepare=lr("cosine_decay_learning_rate",
                    "learning_rate_base: 0.1 total_steps: 1000 warmup_steps: 10 warmup_learning_rate: 0.01"))
       for k, v in (("learning_rate_base", "0.3"), ("total_steps", "200"), ("warmup_learning_rate", "0.05"),
                    ("warmup_steps", "100"), ("hold_base_rate_steps", "100"))},
    # --- augmentation: each step added, each parameter changed on its step
    **{f"PreprocessingStep.{step}": Probe(aug(step), T) for step in (
        "random_horizontal_flip", "random_adjust_brightness", "random_adjust_contrast", "random_adjust_saturation",
        "random_adjust_hue", "random_crop_image", "ssd_random_crop")},
    "PreprocessingStep.random_scale_crop_and_pad_to_square": Probe(
        aug("random_scale_crop_and_pad_to_square", "output_size: 32"), T),
    "PreprocessingStep.random_square_crop_by_scale": Probe(aug("random_square_crop_by_scale"), T),
    "PreprocessingStep.random_absolute_pad_image": Probe(aug("random_absolute_pad_image", "max_height_padding: 20"), T),
    "PreprocessingStep.random_patch_gaussian": Probe(aug("random_patch_gaussian"), T),
    **{f"{cls}.{k}": Probe(only_aug(step, f"{base_text} {k}: {v}"), T, prepare=only_aug(step, base_text))
       for cls, step, base_text, k, v in (
           ("RandomHorizontalFlip", "random_horizontal_flip", "", "probability", "0.0"),
           ("RandomAdjustBrightness", "random_adjust_brightness", "", "max_delta", "0.6"),
           ("RandomAdjustContrast", "random_adjust_contrast", "", "min_delta", "0.1"),
           ("RandomAdjustContrast", "random_adjust_contrast", "", "max_delta", "3.0"),
           ("RandomAdjustSaturation", "random_adjust_saturation", "", "min_delta", "0.1"),
           ("RandomAdjustSaturation", "random_adjust_saturation", "", "max_delta", "3.0"),
           ("RandomAdjustHue", "random_adjust_hue", "", "max_delta", "0.5"),
           ("RandomCropImage", "random_crop_image", "", "min_object_covered", "0.0"),
           ("RandomCropImage", "random_crop_image", "", "min_aspect_ratio", "0.2"),
           ("RandomCropImage", "random_crop_image", "", "max_aspect_ratio", "5.0"),
           ("RandomCropImage", "random_crop_image", "", "min_area", "0.05"),
           ("RandomCropImage", "random_crop_image", "min_area: 0.05", "max_area", "0.2"),
           ("RandomCropImage", "random_crop_image", "min_area: 0.05", "overlap_thresh", "0.9"),
           ("RandomCropImage", "random_crop_image", "min_area: 0.05", "clip_boxes", "false"),
           ("RandomCropImage", "random_crop_image", "", "random_coef", "1.0"),
           ("RandomScaleCropAndPadToSquare", "random_scale_crop_and_pad_to_square", "output_size: 32",
            "scale_min", "0.9"),
           ("RandomScaleCropAndPadToSquare", "random_scale_crop_and_pad_to_square", "output_size: 32",
            "scale_max", "1.1"),
           ("RandomScaleCropAndPadToSquare", "random_scale_crop_and_pad_to_square", "", "output_size", "16"),
           # On the probes' 48x40 image the default 128 px border is cut to 16 px; 4 stays 4.
           ("RandomSquareCropByScale", "random_square_crop_by_scale", "", "max_border", "4"),
           ("RandomSquareCropByScale", "random_square_crop_by_scale", "", "scale_min", "0.2"),
           ("RandomSquareCropByScale", "random_square_crop_by_scale", "", "scale_max", "2.5"),
           ("RandomSquareCropByScale", "random_square_crop_by_scale", "", "num_scales", "2"),
           ("RandomAbsolutePadImage", "random_absolute_pad_image", "", "max_height_padding", "30"),
           ("RandomAbsolutePadImage", "random_absolute_pad_image", "", "max_width_padding", "30"),
           ("RandomAbsolutePadImage", "random_absolute_pad_image", "max_height_padding: 30", "pad_color",
            "[255, 0, 0]"),
           ("RandomPatchGaussian", "random_patch_gaussian", "", "random_coef", "0.99"),
           ("RandomPatchGaussian", "random_patch_gaussian", "", "min_patch_size", "30"),
           ("RandomPatchGaussian", "random_patch_gaussian", "", "max_patch_size", "3"),
           ("RandomPatchGaussian", "random_patch_gaussian", "", "min_gaussian_stddev", "0.9"),
           ("RandomPatchGaussian", "random_patch_gaussian", "", "max_gaussian_stddev", "0.1"))},
    "RandomHorizontalFlip.keypoint_flip_permutation": Probe(
        only_aug("random_horizontal_flip", "keypoint_flip_permutation: [1, 0]"), T,
        prepare=both(merge("train_input_reader { num_keypoints: 2 }"), only_aug("random_horizontal_flip"))),
    "SSDRandomCrop.operations": Probe(only_aug("ssd_random_crop", f"operations {{ {SSD_CROP} }}"), T,
                                      prepare=only_aug("ssd_random_crop")),
    **{f"SSDRandomCropOperation.{k}": Probe(ssd_crop(k, v), T, prepare=only_aug("ssd_random_crop",
                                                                                f"operations {{ {SSD_CROP} }}"))
       for k, v in (("min_object_covered", "0.9"), ("min_aspect_ratio", "0.2"), ("max_aspect_ratio", "5.0"),
                    ("min_area", "0.5"), ("max_area", "0.2"), ("overlap_thresh", "0.9"), ("clip_boxes", "false"),
                    ("random_coef", "1.0"))},
    # --- readers and evaluation
    "InputReader.label_map_path": Probe(merge('train_input_reader { label_map_path: "other.pbtxt" }'), "readers"),
    "InputReader.num_keypoints": Probe(merge("train_input_reader { num_keypoints: 2 }"), T),
    "TFRecordInputReader.input_path": Probe(merge(
        'train_input_reader { tf_record_input_reader { input_path: "more-*.gz" } }'), "readers"),
    "eval_config.metrics_set": Probe(merge('eval_config { metrics_set: "pascal_voc_detection_metrics" }'), R),
    "eval_config.keypoint_edge": Probe(merge(KEYPOINT_EDGE), "drawing", base="centernet_kpts"),
    **{f"KeypointEdge.{field}": Probe(first_edge(field, 2), "drawing", base="centernet_kpts",
                                      prepare=merge(KEYPOINT_EDGE)) for field in ("start", "end")},
    "eval_config.parameterized_metric": Probe(merge(KEYPOINT_METRIC), "evaluation", base="centernet_kpts"),
    "eval_config.parameterized_metric.coco_keypoint_metrics.class_label": Probe(
        keypoint_metric(lambda m: setattr(m, "class_label", "c2")), "evaluation", base="centernet_kpts",
        prepare=merge(KEYPOINT_METRIC)),
    "eval_config.parameterized_metric.coco_keypoint_metrics.keypoint_label_to_sigmas": Probe(
        keypoint_metric(lambda m: m.keypoint_label_to_sigmas.update({"a": 0.05})), "evaluation",
        base="centernet_kpts", prepare=merge(KEYPOINT_METRIC)),
}

# Honoured message fields that only hold fields probed above.
CONTAINERS = {
    "model", "train_config", "train_input_reader", "eval_config", "model.ssd", "model.faster_rcnn",
    "eval_config.parameterized_metric.coco_keypoint_metrics",
    "model.ssd.image_resizer", "model.ssd.image_resizer.fixed_shape_resizer", "model.ssd.feature_extractor",
    "model.ssd.feature_extractor.fpn", "model.ssd.feature_extractor.bifpn",
    "model.ssd.feature_extractor.conv_hyperparams", "model.ssd.box_coder",
    "model.ssd.box_coder.faster_rcnn_box_coder", "model.ssd.matcher", "model.ssd.matcher.argmax_matcher",
    "model.ssd.similarity_calculator", "model.ssd.similarity_calculator.iou_similarity", "model.ssd.box_predictor",
    "model.ssd.box_predictor.weight_shared_convolutional_box_predictor",
    "WeightSharedConvolutionalBoxPredictor.conv_hyperparams", "ConvolutionalBoxPredictor.conv_hyperparams",
    "model.ssd.anchor_generator", "model.ssd.post_processing", "model.ssd.post_processing.batch_non_max_suppression",
    "model.ssd.loss", "model.ssd.loss.classification_loss", "model.ssd.loss.localization_loss",
    "model.ssd.loss.classification_loss.weighted_sigmoid_focal", "model.ssd.loss.localization_loss.weighted_smooth_l1",
    "model.faster_rcnn.image_resizer", "model.faster_rcnn.image_resizer.keep_aspect_ratio_resizer",
    "model.faster_rcnn.feature_extractor", "model.faster_rcnn.first_stage_anchor_generator",
    "model.faster_rcnn.first_stage_anchor_generator.grid_anchor_generator",
    "model.faster_rcnn.second_stage_box_predictor", "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor",
    "model.faster_rcnn.second_stage_post_processing",
    "model.faster_rcnn.second_stage_post_processing.batch_non_max_suppression",
    "Hyperparams.regularizer", "Hyperparams.initializer", "train_config.optimizer", "InputReader.tf_record_input_reader",
    "model.center_net", "model.center_net.image_resizer", "model.center_net.image_resizer.keep_aspect_ratio_resizer",
    "model.center_net.feature_extractor", "model.center_net.object_detection_task",
    "model.center_net.object_detection_task.localization_loss", "model.center_net.object_center_params",
    "model.center_net.object_center_params.classification_loss",
    "model.center_net.object_detection_task.localization_loss.l1_localization_loss",
    "model.center_net.object_center_params.classification_loss.penalty_reduced_logistic_focal_loss",
    "model.center_net.post_processing.batch_non_max_suppression",
    "model.center_net.keypoint_estimation_task", "model.center_net.keypoint_estimation_task.loss",
    "model.center_net.keypoint_estimation_task.loss.classification_loss",
    "model.center_net.keypoint_estimation_task.loss.localization_loss",
    "model.center_net.keypoint_estimation_task.loss.classification_loss.penalty_reduced_logistic_focal_loss",
    "model.center_net.keypoint_estimation_task.loss.localization_loss.l1_localization_loss",
}
