"""One probe per honoured pipeline.config field: a change of its value and the part of detflow it must change.

A probe names a base config, an optional `prepare` (applied to base and changed
config alike, e.g. turning dropout on before its keep probability can matter),
an `edit` and the effect that must follow:
- "network": the built detector (spec, variables, layer settings, initial
  values, regularisation, outputs, detections or training losses) differs;
- "training": the training settings, optimizer, learning-rate schedule or
  augmentation output differ;
- "freeze": the variables that train differ;
- "readers": the inputs `detflow train` reads differ;
- "refused": the field admits one value only and another is refused by
  `config check`.
`CONTAINERS` lists the honoured message fields that only hold other fields
(each of those has its own probe).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from google.protobuf import text_format

SSD = """
model { ssd {
  num_classes: 3
  image_resizer { fixed_shape_resizer { height: 64 width: 64 } }
  feature_extractor {
    type: "ssd_mobilenet_v2_fpn_keras" depth_multiplier: 0.35 min_depth: 16 use_depthwise: true
    fpn { min_level: 3 max_level: 6 additional_layer_depth: 92 }
    conv_hyperparams {
      activation: RELU_6
      regularizer { l2_regularizer { weight: 0.00004 } }
      initializer { truncated_normal_initializer { mean: 0.0 stddev: 0.03 } }
      batch_norm { decay: 0.97 epsilon: 0.001 scale: true center: true }
    }
    override_base_feature_extractor_hyperparams: true
  }
  box_coder { faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 } }
  matcher { argmax_matcher { matched_threshold: 0.5 unmatched_threshold: 0.5 } }
  similarity_calculator { iou_similarity { } }
  encode_background_as_zeros: true
  anchor_generator { multiscale_anchor_generator {
    min_level: 3 max_level: 6 anchor_scale: 4.0 aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2 } }
  box_predictor { weight_shared_convolutional_box_predictor {
    depth: 32 num_layers_before_predictor: 2 kernel_size: 3 class_prediction_bias_init: -4.6 use_depthwise: true
    conv_hyperparams {
      activation: RELU_6
      regularizer { l2_regularizer { weight: 0.00004 } }
      initializer { random_normal_initializer { mean: 0.0 stddev: 0.01 } }
      batch_norm { decay: 0.997 epsilon: 0.001 scale: true }
    }
  } }
  post_processing {
    batch_non_max_suppression { score_threshold: 0.001 iou_threshold: 0.6 max_detections_per_class: 20
                                max_total_detections: 20 }
    score_converter: SIGMOID
  }
  loss {
    classification_loss { weighted_sigmoid_focal { gamma: 2.0 alpha: 0.25 } }
    localization_loss { weighted_smooth_l1 { delta: 1.0 } }
    classification_weight: 1.0 localization_weight: 1.0
  }
  normalize_loss_by_num_matches: true
} }
train_config {
  batch_size: 2 num_steps: 2 max_number_of_boxes: 100
  optimizer {
    momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } }
                         momentum_optimizer_value: 0.9 }
    use_moving_average: false
  }
  data_augmentation_options { random_horizontal_flip { } }
}
train_input_reader { label_map_path: "label_map.pbtxt" tf_record_input_reader { input_path: "train-*.gz" } }
eval_config { metrics_set: "coco_detection_metrics" }
"""

# ssd_mobilenet_v2_keras + convolutional_box_predictor + ssd_anchor_generator (the zoo's ssd_mobilenet_v2 320).
CONV = SSD.replace(
    'type: "ssd_mobilenet_v2_fpn_keras" depth_multiplier: 0.35 min_depth: 16 use_depthwise: true\n'
    '    fpn { min_level: 3 max_level: 6 additional_layer_depth: 92 }',
    'type: "ssd_mobilenet_v2_keras" depth_multiplier: 0.35 min_depth: 16 num_layers: 6').replace(
    """multiscale_anchor_generator {
    min_level: 3 max_level: 6 anchor_scale: 4.0 aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2 }""",
    "ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95 "
    "aspect_ratios: [1.0, 2.0, 0.5, 3.0, 0.3333] }").replace(
    """weight_shared_convolutional_box_predictor {
    depth: 32 num_layers_before_predictor: 2 kernel_size: 3 class_prediction_bias_init: -4.6 use_depthwise: true""",
    """convolutional_box_predictor {
    min_depth: 0 max_depth: 0 num_layers_before_predictor: 0 use_dropout: false kernel_size: 1
    class_prediction_bias_init: -4.6""")


def _frcnn_text() -> str:
    import pathlib  # pylint: disable=import-outside-toplevel
    text = (pathlib.Path(__file__).resolve().parents[1] / "data" / "configs" /
            "faster_rcnn_resnet50_v1_640x640.config").read_text()
    return (text.replace("min_dimension: 640", "min_dimension: 48").replace("max_dimension: 640", "max_dimension: 64")
            .replace("num_classes: 90", "num_classes: 3"))


BASES = {"ssd": lambda: SSD, "conv": lambda: CONV, "frcnn": _frcnn_text}


@dataclasses.dataclass(frozen=True)
class Probe:
    """One field's change and the effect it must have (see the module doc)."""

    edit: Callable
    effect: str
    base: str = "ssd"
    prepare: Callable | None = None


def merge(text: str) -> Callable:
    """An edit that merges text-format fields into the config (repeated fields append)."""
    def edit(proto):
        text_format.Merge(text, proto)
    return edit


def both(*edits: Callable) -> Callable:
    """An edit made of several."""
    def edit(proto):
        for e in edits:
            e(proto)
    return edit


def clear(path: str) -> Callable:
    """An edit that clears a field given by its dotted path."""
    def edit(proto):
        *parents, name = path.split(".")
        message = proto
        for part in parents:
            message = getattr(message, part)
        message.ClearField(name)
    return edit


def _ssd(text: str) -> str:
    return f"model {{ ssd {{ {text} }} }}"


def _fe(text: str) -> str:
    return _ssd(f"feature_extractor {{ {text} }}")


def _wsp(text: str) -> str:
    return _ssd(f"box_predictor {{ weight_shared_convolutional_box_predictor {{ {text} }} }}")


def _cbp(text: str) -> str:
    return _ssd(f"box_predictor {{ convolutional_box_predictor {{ {text} }} }}")


def _sag(text: str) -> str:
    return _ssd(f"anchor_generator {{ ssd_anchor_generator {{ {text} }} }}")


def _nms(text: str) -> str:
    return _ssd(f"post_processing {{ batch_non_max_suppression {{ {text} }} }}")


def _fe_hp(text: str) -> str:
    return _fe(f"conv_hyperparams {{ {text} }}")


def _bp_hp(text: str) -> str:
    return _wsp(f"conv_hyperparams {{ {text} }}")


def _frcnn(text: str) -> str:
    return f"model {{ faster_rcnn {{ {text} }} }}"


def _opt(text: str) -> str:
    return f"train_config {{ optimizer {{ {text} }} }}"


def _lr(kind: str, text: str) -> Callable:
    return both(clear("train_config.optimizer.momentum_optimizer.learning_rate"),
                merge(_opt(f"momentum_optimizer {{ learning_rate {{ {kind} {{ {text} }} }} }}")))


def _aug(step: str, text: str = "") -> Callable:
    return merge(f"train_config {{ data_augmentation_options {{ {step} {{ {text} }} }} }}")


def _only_aug(step: str, text: str = "") -> Callable:
    return both(clear("train_config.data_augmentation_options"), _aug(step, text))


def _fpn_levels(min_level: int, max_level: int) -> Callable:
    return merge(_ssd(f"feature_extractor {{ fpn {{ min_level: {min_level} max_level: {max_level} }} }} "
                      f"anchor_generator {{ multiscale_anchor_generator {{ min_level: {min_level} "
                      f"max_level: {max_level} }} }}"))


def _ssd_layers(n: int) -> Callable:
    return merge(_ssd(f"feature_extractor {{ num_layers: {n} }} anchor_generator {{ ssd_anchor_generator "
                      f"{{ num_layers: {n} }} }}"))


def _to_mobilenet_v2_keras(proto) -> None:
    fe = proto.model.ssd.feature_extractor
    fe.type = "ssd_mobilenet_v2_keras"
    fe.ClearField("fpn")
    fe.num_layers = 3
    ag = proto.model.ssd.anchor_generator.multiscale_anchor_generator
    ag.min_level, ag.max_level = 4, 6


def _to_convolutional_predictor(proto) -> None:
    hp = proto.model.ssd.box_predictor.weight_shared_convolutional_box_predictor.conv_hyperparams
    conv = proto.model.ssd.box_predictor.convolutional_box_predictor
    conv.conv_hyperparams.CopyFrom(hp)
    conv.kernel_size = 3


def _to_multiscale(proto) -> None:
    proto.model.ssd.anchor_generator.multiscale_anchor_generator.CopyFrom(
        text_format.Parse("min_level: 4 max_level: 9 anchor_scale: 4.0 aspect_ratios: [1.0, 2.0, 0.5] "
                          "scales_per_octave: 2",
                          type(proto.model.ssd.anchor_generator.multiscale_anchor_generator)()))


# One ssd_random_crop operation with every field set (the proto leaves them 0, which the OD API would take).
SSD_CROP = ("min_object_covered: 0.0 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1 max_area: 1.0 "
            "overlap_thresh: 0.0 clip_boxes: true random_coef: 0.0")


def _ssd_crop(field: str, value: str) -> Callable:
    def edit(proto):
        operation = proto.train_config.data_augmentation_options[0].ssd_random_crop.operations[0]
        text_format.Merge(f"{field}: {value}", operation)
    return edit


N, T = "network", "training"
R = "refused"

PROBES: dict[str, Probe] = {
    "eval_input_reader": Probe(merge('eval_input_reader { tf_record_input_reader { input_path: "eval-*.gz" } }'),
                               "readers"),
    # --- SSD
    "model.ssd.num_classes": Probe(merge(_ssd("num_classes: 4")), N),
    "FixedShapeResizer.height": Probe(merge(_ssd("image_resizer { fixed_shape_resizer { height: 96 } }")), N),
    "FixedShapeResizer.width": Probe(merge(_ssd("image_resizer { fixed_shape_resizer { width: 96 } }")), N),
    "FixedShapeResizer.resize_method": Probe(merge(_ssd(
        "image_resizer { fixed_shape_resizer { resize_method: NEAREST_NEIGHBOR } }")), R),
    "model.ssd.feature_extractor.type": Probe(_to_mobilenet_v2_keras, N),
    "model.ssd.feature_extractor.depth_multiplier": Probe(merge(_fe("depth_multiplier: 0.5")), N),
    "model.ssd.feature_extractor.min_depth": Probe(merge(_fe("min_depth: 48")), N),
    "model.ssd.feature_extractor.pad_to_multiple": Probe(merge(_fe("pad_to_multiple: 128")), N),
    "model.ssd.feature_extractor.use_depthwise": Probe(merge(_fe("use_depthwise: false")), N),
    "model.ssd.feature_extractor.override_base_feature_extractor_hyperparams": Probe(
        merge(_fe("override_base_feature_extractor_hyperparams: false")), N),
    "model.ssd.feature_extractor.use_explicit_padding": Probe(merge(_fe("use_explicit_padding: true")), N),
    "model.ssd.feature_extractor.num_layers": Probe(_ssd_layers(5), N, base="conv"),
    "FeaturePyramidNetworks.min_level": Probe(_fpn_levels(4, 6), N),
    "FeaturePyramidNetworks.max_level": Probe(_fpn_levels(3, 5), N),
    "FeaturePyramidNetworks.additional_layer_depth": Probe(merge(_fe("fpn { additional_layer_depth: 128 }")), N),
    **{f"FasterRcnnBoxCoder.{k}": Probe(merge(_ssd(f"box_coder {{ faster_rcnn_box_coder {{ {k}: 2.0 }} }}")), N)
       for k in ("y_scale", "x_scale", "height_scale", "width_scale")},
    "ArgMaxMatcher.matched_threshold": Probe(merge(_ssd("matcher { argmax_matcher { matched_threshold: 0.7 } }")), N),
    "ArgMaxMatcher.unmatched_threshold": Probe(merge(_ssd(
        "matcher { argmax_matcher { unmatched_threshold: 0.3 } }")), N),
    "ArgMaxMatcher.ignore_thresholds": Probe(merge(_ssd("matcher { argmax_matcher { ignore_thresholds: true } }")), R),
    "ArgMaxMatcher.negatives_lower_than_unmatched": Probe(merge(_ssd(
        "matcher { argmax_matcher { negatives_lower_than_unmatched: false } }")), R),
    "ArgMaxMatcher.force_match_for_each_row": Probe(merge(_ssd(
        "matcher { argmax_matcher { force_match_for_each_row: false } }")), R),
    "model.ssd.encode_background_as_zeros": Probe(merge(_ssd("encode_background_as_zeros: false")), R),
    "model.ssd.add_background_class": Probe(merge(_ssd("add_background_class: false")), R),
    "model.ssd.explicit_background_class": Probe(merge(_ssd("explicit_background_class: true")), R),
    "WeightSharedConvolutionalBoxPredictor.num_layers_before_predictor": Probe(merge(_wsp(
        "num_layers_before_predictor: 1")), N),
    "WeightSharedConvolutionalBoxPredictor.depth": Probe(merge(_wsp("depth: 48")), N),
    "WeightSharedConvolutionalBoxPredictor.kernel_size": Probe(merge(_wsp("kernel_size: 5")), N),
    "WeightSharedConvolutionalBoxPredictor.class_prediction_bias_init": Probe(merge(_wsp(
        "class_prediction_bias_init: -2.0")), N),
    "WeightSharedConvolutionalBoxPredictor.share_prediction_tower": Probe(merge(_wsp(
        "share_prediction_tower: true")), N),
    "WeightSharedConvolutionalBoxPredictor.use_depthwise": Probe(merge(_wsp("use_depthwise: false")), N),
    "WeightSharedConvolutionalBoxPredictor.box_code_size": Probe(merge(_wsp("box_code_size: 8")), R),
    "WeightSharedConvolutionalBoxPredictor.use_dropout": Probe(merge(_wsp("use_dropout: true")), N),
    "WeightSharedConvolutionalBoxPredictor.dropout_keep_probability": Probe(
        merge(_wsp("dropout_keep_probability: 0.3")), N, prepare=merge(_wsp("use_dropout: true"))),
    "WeightSharedConvolutionalBoxPredictor.box_encodings_clip_range": Probe(merge(_wsp(
        "box_encodings_clip_range { min: -0.01 max: 0.01 }")), N),
    "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange.min": Probe(
        merge(_wsp("box_encodings_clip_range { min: -0.01 }")), N,
        prepare=merge(_wsp("box_encodings_clip_range { min: -1.0 max: 1.0 }"))),
    "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange.max": Probe(
        merge(_wsp("box_encodings_clip_range { max: 0.01 }")), N,
        prepare=merge(_wsp("box_encodings_clip_range { min: -1.0 max: 1.0 }"))),
    "WeightSharedConvolutionalBoxPredictor.score_converter": Probe(merge(_wsp("score_converter: SIGMOID")), R),
    "model.ssd.box_predictor.convolutional_box_predictor": Probe(_to_convolutional_predictor, N),
    "ConvolutionalBoxPredictor.min_depth": Probe(merge(_cbp("min_depth: 256")), N, base="conv",
                                                 prepare=merge(_cbp("num_layers_before_predictor: 1 max_depth: 512"))),
    "ConvolutionalBoxPredictor.max_depth": Probe(merge(_cbp("max_depth: 32")), N, base="conv",
                                                 prepare=merge(_cbp("num_layers_before_predictor: 1 max_depth: 64"))),
    "ConvolutionalBoxPredictor.num_layers_before_predictor": Probe(
        merge(_cbp("num_layers_before_predictor: 1 max_depth: 64")), N, base="conv"),
    "ConvolutionalBoxPredictor.use_dropout": Probe(merge(_cbp("use_dropout: true")), N, base="conv"),
    "ConvolutionalBoxPredictor.dropout_keep_probability": Probe(
        merge(_cbp("dropout_keep_probability: 0.3")), N, base="conv", prepare=merge(_cbp("use_dropout: true"))),
    "ConvolutionalBoxPredictor.kernel_size": Probe(merge(_cbp("kernel_size: 3")), N, base="conv"),
    "ConvolutionalBoxPredictor.class_prediction_bias_init": Probe(merge(_cbp("class_prediction_bias_init: -1.0")),
                                                                  N, base="conv"),
    "ConvolutionalBoxPredictor.use_depthwise": Probe(merge(_cbp("use_depthwise: true")), N, base="conv",
                                                     prepare=merge(_cbp("kernel_size: 3"))),
    "ConvolutionalBoxPredictor.box_code_size": Probe(merge(_cbp("box_code_size: 8")), R, base="conv"),
    "model.ssd.anchor_generator.multiscale_anchor_generator": Probe(_to_multiscale, N, base="conv"),
    "MultiscaleAnchorGenerator.min_level": Probe(_fpn_levels(4, 6), N),
    "MultiscaleAnchorGenerator.max_level": Probe(_fpn_levels(3, 5), N),
    "MultiscaleAnchorGenerator.anchor_scale": Probe(merge(_ssd(
        "anchor_generator { multiscale_anchor_generator { anchor_scale: 3.0 } }")), N),
    "MultiscaleAnchorGenerator.aspect_ratios": Probe(both(
        clear("model.ssd.anchor_generator.multiscale_anchor_generator.aspect_ratios"),
        merge(_ssd("anchor_generator { multiscale_anchor_generator { aspect_ratios: [1.0, 2.0] } }"))), N),
    "MultiscaleAnchorGenerator.scales_per_octave": Probe(merge(_ssd(
        "anchor_generator { multiscale_anchor_generator { scales_per_octave: 3 } }")), N),
    "MultiscaleAnchorGenerator.normalize_coordinates": Probe(merge(_ssd(
        "anchor_generator { multiscale_anchor_generator { normalize_coordinates: false } }")), R),
    "model.ssd.anchor_generator.ssd_anchor_generator": Probe(
        both(clear("model.ssd.anchor_generator"), merge(_sag("num_layers: 6"))), N, base="conv",
        prepare=both(clear("model.ssd.anchor_generator"), _to_multiscale)),
    "SsdAnchorGenerator.num_layers": Probe(_ssd_layers(5), N, base="conv"),
    "SsdAnchorGenerator.min_scale": Probe(merge(_sag("min_scale: 0.3")), N, base="conv"),
    "SsdAnchorGenerator.max_scale": Probe(merge(_sag("max_scale: 0.8")), N, base="conv"),
    "SsdAnchorGenerator.scales": Probe(merge(_sag("scales: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]")), N, base="conv"),
    "SsdAnchorGenerator.aspect_ratios": Probe(both(
        clear("model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"),
        merge(_sag("aspect_ratios: [1.0, 2.0, 0.5, 4.0, 0.25]"))), N, base="conv"),
    "SsdAnchorGenerator.interpolated_scale_aspect_ratio": Probe(merge(_sag("interpolated_scale_aspect_ratio: 2.0")),
                                                                N, base="conv"),
    "SsdAnchorGenerator.reduce_boxes_in_lowest_layer": Probe(merge(_sag("reduce_boxes_in_lowest_layer: false")),
                                                             N, base="conv"),
    "SsdAnchorGenerator.base_anchor_height": Probe(merge(_sag("base_anchor_height: 0.5")), N, base="conv"),
    "SsdAnchorGenerator.base_anchor_width": Probe(merge(_sag("base_anchor_width: 0.5")), N, base="conv"),
    "SsdAnchorGenerator.height_stride": Probe(merge(_sag(
        "height_stride: [8, 16, 32, 64, 64, 64] width_stride: [16, 32, 64, 64, 64, 64]")), N, base="conv"),
    "SsdAnchorGenerator.width_stride": Probe(merge(_sag(
        "height_stride: [16, 32, 64, 64, 64, 64] width_stride: [8, 16, 32, 64, 64, 64]")), N, base="conv"),
    "SsdAnchorGenerator.height_offset": Probe(merge(_sag(
        "height_offset: [0, 0, 0, 0, 0, 0] width_offset: [8, 16, 32, 32, 32, 32]")), N, base="conv"),
    "SsdAnchorGenerator.width_offset": Probe(merge(_sag(
        "height_offset: [8, 16, 32, 32, 32, 32] width_offset: [0, 0, 0, 0, 0, 0]")), N, base="conv"),
    "model.ssd.post_processing.score_converter": Probe(merge(_ssd("post_processing { score_converter: SOFTMAX }")), N),
    "model.ssd.post_processing.logit_scale": Probe(merge(_ssd("post_processing { logit_scale: 3.0 }")), N),
    "BatchNonMaxSuppression.score_threshold": Probe(merge(_nms("score_threshold: 0.3")), N),
    "BatchNonMaxSuppression.iou_threshold": Probe(merge(_nms("iou_threshold: 0.2")), N),
    "BatchNonMaxSuppression.max_detections_per_class": Probe(merge(_nms("max_detections_per_class: 3")), N),
    "BatchNonMaxSuppression.max_total_detections": Probe(merge(_nms("max_total_detections: 30")), N),
    "BatchNonMaxSuppression.soft_nms_sigma": Probe(merge(_nms("soft_nms_sigma: 0.5")), R),
    "BatchNonMaxSuppression.use_class_agnostic_nms": Probe(merge(_frcnn(
        "second_stage_post_processing { batch_non_max_suppression { use_class_agnostic_nms: true } }")), R,
        base="frcnn"),
    "model.ssd.post_processing.batch_non_max_suppression.use_class_agnostic_nms": Probe(
        merge(_nms("use_class_agnostic_nms: true")), N),
    "model.ssd.normalize_loss_by_num_matches": Probe(merge(_ssd("normalize_loss_by_num_matches: false")), R),
    "model.ssd.normalize_loc_loss_by_codesize": Probe(merge(_ssd("normalize_loc_loss_by_codesize: true")), N),
    "SigmoidFocalClassificationLoss.gamma": Probe(merge(_ssd(
        "loss { classification_loss { weighted_sigmoid_focal { gamma: 1.0 } } }")), N),
    "SigmoidFocalClassificationLoss.alpha": Probe(merge(_ssd(
        "loss { classification_loss { weighted_sigmoid_focal { alpha: 0.5 } } }")), N),
    "WeightedSmoothL1LocalizationLoss.delta": Probe(merge(_ssd(
        "loss { localization_loss { weighted_smooth_l1 { delta: 0.01 } } }")), N),
    "Loss.classification_weight": Probe(merge(_ssd("loss { classification_weight: 2.0 }")), N),
    "Loss.localization_weight": Probe(merge(_ssd("loss { localization_weight: 2.0 }")), N),
    "model.ssd.freeze_batchnorm": Probe(merge(_ssd("freeze_batchnorm: true")), N),
    # --- layer hyperparameters (on the SSD feature extractor's and box predictor's conv_hyperparams)
    "Regularizer.l2_regularizer": Probe(merge(_fe_hp("regularizer { l2_regularizer { weight: 0.001 } }")), N,
                                        prepare=clear("model.ssd.feature_extractor.conv_hyperparams.regularizer")),
    "L2Regularizer.weight": Probe(merge(_fe_hp("regularizer { l2_regularizer { weight: 0.001 } }")), N),
    "Initializer.truncated_normal_initializer": Probe(merge(_bp_hp(
        "initializer { truncated_normal_initializer { stddev: 0.5 } }")), N),
    "Initializer.random_normal_initializer": Probe(merge(_fe_hp(
        "initializer { random_normal_initializer { stddev: 0.5 } }")), N),
    "Initializer.variance_scaling_initializer": Probe(merge(_fe_hp(
        "initializer { variance_scaling_initializer { } }")), N),
    "TruncatedNormalInitializer.mean": Probe(merge(_fe_hp("initializer { truncated_normal_initializer { mean: 0.5 } }")), N),
    "TruncatedNormalInitializer.stddev": Probe(merge(_fe_hp(
        "initializer { truncated_normal_initializer { stddev: 0.3 } }")), N),
    "RandomNormalInitializer.mean": Probe(merge(_bp_hp("initializer { random_normal_initializer { mean: 0.5 } }")), N),
    "RandomNormalInitializer.stddev": Probe(merge(_bp_hp("initializer { random_normal_initializer { stddev: 0.3 } }")), N),
    **{f"VarianceScalingInitializer.{k}": Probe(
        merge(_fe_hp(f"initializer {{ variance_scaling_initializer {{ {k}: {v} }} }}")), N,
        prepare=merge(_fe_hp("initializer { variance_scaling_initializer { } }")))
       for k, v in (("factor", "0.5"), ("uniform", "true"), ("mode", "FAN_OUT"))},
    "Hyperparams.activation": Probe(merge(_fe_hp("activation: RELU")), N),
    "Hyperparams.force_use_bias": Probe(merge(_bp_hp("force_use_bias: true")), N),
    "Hyperparams.batch_norm": Probe(merge(_bp_hp("batch_norm { }")), N,
                                    prepare=clear("model.ssd.box_predictor.weight_shared_convolutional_box_predictor"
                                                  ".conv_hyperparams.batch_norm")),
    "BatchNorm.decay": Probe(merge(_fe_hp("batch_norm { decay: 0.9 }")), N),
    "BatchNorm.epsilon": Probe(merge(_fe_hp("batch_norm { epsilon: 0.1 }")), N),
    "BatchNorm.scale": Probe(merge(_fe_hp("batch_norm { scale: false }")), N),
    "BatchNorm.center": Probe(merge(_fe_hp("batch_norm { center: false }")), N),
    # --- Faster R-CNN
    "model.faster_rcnn.num_classes": Probe(merge(_frcnn("num_classes: 4")), N, base="frcnn"),
    "KeepAspectRatioResizer.min_dimension": Probe(merge(_frcnn(
        "image_resizer { keep_aspect_ratio_resizer { min_dimension: 32 } }")), N, base="frcnn"),
    "KeepAspectRatioResizer.max_dimension": Probe(merge(_frcnn(
        "image_resizer { keep_aspect_ratio_resizer { max_dimension: 96 } }")), N, base="frcnn"),
    "KeepAspectRatioResizer.pad_to_max_dimension": Probe(merge(_frcnn(
        "image_resizer { keep_aspect_ratio_resizer { pad_to_max_dimension: false } }")), R, base="frcnn"),
    "KeepAspectRatioResizer.resize_method": Probe(merge(_frcnn(
        "image_resizer { keep_aspect_ratio_resizer { resize_method: AREA } }")), R, base="frcnn"),
    "model.faster_rcnn.feature_extractor.type": Probe(merge(_frcnn(
        'feature_extractor { type: "faster_rcnn_resnet152_keras" }')), R, base="frcnn"),
    "model.faster_rcnn.feature_extractor.batch_norm_trainable": Probe(merge(_frcnn(
        "feature_extractor { batch_norm_trainable: false }")), N, base="frcnn"),
    "model.faster_rcnn.feature_extractor.first_stage_features_stride": Probe(merge(_frcnn(
        "feature_extractor { first_stage_features_stride: 8 }")), R, base="frcnn"),
    **{f"GridAnchorGenerator.{k}": Probe(merge(_frcnn(
        f"first_stage_anchor_generator {{ grid_anchor_generator {{ {k}: {v} }} }}")), N, base="frcnn",
        prepare=clear(f"model.faster_rcnn.first_stage_anchor_generator.grid_anchor_generator.{k}"))
       for k, v in (("height", "128"), ("width", "128"), ("scales", "[0.5, 1.0]"), ("aspect_ratios", "[1.0, 2.0]"))},
    "model.faster_rcnn.second_stage_balance_fraction": Probe(merge(_frcnn("second_stage_balance_fraction: 0.9")), N,
                                                             base="frcnn", prepare=merge(_frcnn("second_stage_batch_size: 4"))),
    **{f"model.faster_rcnn.{k}": Probe(merge(_frcnn(f"{k}: {v}")), N, base="frcnn") for k, v in (
        ("first_stage_box_predictor_depth", "64"), ("first_stage_minibatch_size", "16"),
        ("first_stage_positive_balance_fraction", "0.1"), ("first_stage_nms_score_threshold", "0.5"),
        ("first_stage_nms_iou_threshold", "0.3"), ("first_stage_max_proposals", "10"),
        ("first_stage_localization_loss_weight", "5.0"), ("first_stage_objectness_loss_weight", "5.0"),
        ("initial_crop_size", "8"), ("maxpool_stride", "1"), ("second_stage_batch_size", "8"),
        ("second_stage_localization_loss_weight", "5.0"),
        ("second_stage_classification_loss_weight", "5.0"))},
    "model.faster_rcnn.second_stage_post_processing.score_converter": Probe(merge(_frcnn(
        "second_stage_post_processing { score_converter: SIGMOID }")), R, base="frcnn"),
    "model.faster_rcnn.first_stage_atrous_rate": Probe(merge(_frcnn("first_stage_atrous_rate: 2")), R, base="frcnn"),
    "model.faster_rcnn.number_of_stages": Probe(merge(_frcnn("number_of_stages: 1")), R, base="frcnn"),
    "model.faster_rcnn.first_stage_box_predictor_conv_hyperparams": Probe(merge(_frcnn(
        "first_stage_box_predictor_conv_hyperparams { initializer { truncated_normal_initializer { stddev: 0.5 } } }")),
        N, base="frcnn"),
    **{f"model.faster_rcnn.{k}": Probe(merge(_frcnn(f"{k}: {v}")), N, base="frcnn") for k, v in (
        ("first_stage_box_predictor_kernel_size", "1"), ("maxpool_kernel_size", "1"))},
    **{f"model.faster_rcnn.first_stage_anchor_generator.grid_anchor_generator.{k}": Probe(merge(_frcnn(
        f"first_stage_anchor_generator {{ grid_anchor_generator {{ {k}: 8 }} }}")), N, base="frcnn")
       for k in ("height_stride", "width_stride")},
    "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.use_dropout": Probe(merge(_frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { use_dropout: true } }")), N, base="frcnn"),
    "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.dropout_keep_probability": Probe(merge(
        _frcnn("second_stage_box_predictor { mask_rcnn_box_predictor { dropout_keep_probability: 0.3 } }")), N,
        base="frcnn", prepare=merge(_frcnn("second_stage_box_predictor { mask_rcnn_box_predictor { use_dropout: true } }"))),
    "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor.fc_hyperparams": Probe(merge(_frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { fc_hyperparams { batch_norm { } } } }")), N,
        base="frcnn"),
    "model.faster_rcnn.second_stage_post_processing.batch_non_max_suppression.max_detections_per_class": Probe(merge(
        _frcnn("second_stage_post_processing { batch_non_max_suppression { max_detections_per_class: 2 } }")), N,
        base="frcnn"),
    "MaskRCNNBoxPredictor.share_box_across_classes": Probe(merge(_frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { share_box_across_classes: false } }")), N,
        base="frcnn"),
    "MaskRCNNBoxPredictor.box_code_size": Probe(merge(_frcnn(
        "second_stage_box_predictor { mask_rcnn_box_predictor { box_code_size: 8 } }")), R, base="frcnn"),
    # --- training
    "train_config.batch_size": Probe(merge("train_config { batch_size: 4 }"), T),
    "train_config.num_steps": Probe(merge("train_config { num_steps: 3 }"), T),
    "train_config.gradient_clipping_by_norm": Probe(merge("train_config { gradient_clipping_by_norm: 1.0 }"), T),
    "train_config.fine_tune_checkpoint": Probe(merge('train_config { fine_tune_checkpoint: "zoo/checkpoint/ckpt-0" }'),
                                               T),
    "train_config.data_augmentation_options": Probe(_aug("random_adjust_brightness"), T),
    "train_config.max_number_of_boxes": Probe(merge("train_config { max_number_of_boxes: 1 }"), T),
    "train_config.freeze_variables": Probe(merge('train_config { freeze_variables: "ClassPredictor" }'), "freeze"),
    "train_config.update_trainable_variables": Probe(merge(
        'train_config { update_trainable_variables: "^box_predictor/" }'), "freeze"),
    "train_config.fine_tune_checkpoint_type": Probe(merge('train_config { fine_tune_checkpoint_type: "full" }'), T),
    "train_config.fine_tune_checkpoint_version": Probe(merge("train_config { fine_tune_checkpoint_version: V1 }"), R),
    "Optimizer.momentum_optimizer": Probe(both(clear("train_config.optimizer.adam_optimizer"), merge(_opt(
        "momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }"))), T,
        prepare=both(clear("train_config.optimizer.momentum_optimizer"), merge(_opt(
            "adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }")))),
    "Optimizer.adam_optimizer": Probe(both(clear("train_config.optimizer.momentum_optimizer"), merge(_opt(
        "adam_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }"))), T),
    "Optimizer.rms_prop_optimizer": Probe(both(clear("train_config.optimizer.momentum_optimizer"), merge(_opt(
        "rms_prop_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } }"))), T),
    "Optimizer.use_moving_average": Probe(merge(_opt("use_moving_average: true")), T),
    "Optimizer.moving_average_decay": Probe(merge(_opt("moving_average_decay: 0.5")), T,
                                            prepare=merge(_opt("use_moving_average: true"))),
    "MomentumOptimizer.learning_rate": Probe(_lr("constant_learning_rate", "learning_rate: 0.5"), T),
    "MomentumOptimizer.momentum_optimizer_value": Probe(merge(_opt(
        "momentum_optimizer { momentum_optimizer_value: 0.5 }")), T),
    **{f"{cls}.{k}": Probe(merge(_opt(f"{kind} {{ {k}: {v} }}")), T, prepare=both(
        clear("train_config.optimizer.momentum_optimizer"),
        merge(_opt(f"{kind} {{ learning_rate {{ constant_learning_rate {{ learning_rate: 0.01 }} }} }}"))))
       for cls, kind, k, v in (
           ("AdamOptimizer", "adam_optimizer", "epsilon", "0.1"),
           ("RMSPropOptimizer", "rms_prop_optimizer", "momentum_optimizer_value", "0.5"),
           ("RMSPropOptimizer", "rms_prop_optimizer", "decay", "0.5"),
           ("RMSPropOptimizer", "rms_prop_optimizer", "epsilon", "0.1"))},
    **{f"{cls}.learning_rate": Probe(merge(_opt(
        f"{kind} {{ learning_rate {{ constant_learning_rate {{ learning_rate: 0.5 }} }} }}")), T, prepare=both(
        clear("train_config.optimizer.momentum_optimizer"),
        merge(_opt(f"{kind} {{ learning_rate {{ constant_learning_rate {{ learning_rate: 0.01 }} }} }}"))))
       for cls, kind in (("AdamOptimizer", "adam_optimizer"), ("RMSPropOptimizer", "rms_prop_optimizer"))},
    "LearningRate.constant_learning_rate": Probe(_lr("constant_learning_rate", "learning_rate: 0.01"), T,
                                                 prepare=_lr("exponential_decay_learning_rate", "")),
    "LearningRate.exponential_decay_learning_rate": Probe(_lr("exponential_decay_learning_rate", ""), T),
    "LearningRate.manual_step_learning_rate": Probe(_lr("manual_step_learning_rate", "initial_learning_rate: 0.1"), T),
    "LearningRate.cosine_decay_learning_rate": Probe(_lr(
        "cosine_decay_learning_rate", "learning_rate_base: 0.1 total_steps: 100 warmup_steps: 10 "
        "warmup_learning_rate: 0.01"), T),
    "ConstantLearningRate.learning_rate": Probe(_lr("constant_learning_rate", "learning_rate: 0.5"), T),
    **{f"ExponentialDecayLearningRate.{k}": Probe(
        _lr("exponential_decay_learning_rate", f"decay_steps: 100 burnin_steps: 10 burnin_learning_rate: 0.1 "
            f"{k}: {v}"), T,
        prepare=_lr("exponential_decay_learning_rate", "decay_steps: 100 burnin_steps: 10 burnin_learning_rate: 0.1"))
       for k, v in (("initial_learning_rate", "0.5"), ("decay_steps", "10"), ("decay_factor", "0.5"),
                    ("staircase", "false"), ("burnin_learning_rate", "0.2"), ("burnin_steps", "50"),
                    ("min_learning_rate", "0.003"))},
    **{f"ManualStepLearningRate.{k}": Probe(
        _lr("manual_step_learning_rate", f"initial_learning_rate: 0.1 {v}"), T,
        prepare=_lr("manual_step_learning_rate", "initial_learning_rate: 0.1 schedule { step: 50 learning_rate: 0.01 }"))
       for k, v in (("initial_learning_rate", "initial_learning_rate: 0.3"),
                    ("schedule", "schedule { step: 500 learning_rate: 0.001 }"), ("warmup", "warmup: true"))},
    **{f"ManualStepLearningRate.LearningRateSchedule.{k}": Probe(
        _lr("manual_step_learning_rate", f"initial_learning_rate: 0.1 schedule {{ {v} }}"), T,
        prepare=_lr("manual_step_learning_rate", "initial_learning_rate: 0.1"))
       for k, v in (("step", "step: 5 learning_rate: 0.01"), ("learning_rate", "step: 50 learning_rate: 0.5"))},
    **{f"CosineDecayLearningRate.{k}": Probe(
        _lr("cosine_decay_learning_rate", f"learning_rate_base: 0.1 total_steps: 1000 warmup_steps: 10 "
            f"warmup_learning_rate: 0.01 {k}: {v}"), T,
        prepare=_lr("cosine_decay_learning_rate",
                    "learning_rate_base: 0.1 total_steps: 1000 warmup_steps: 10 warmup_learning_rate: 0.01"))
       for k, v in (("learning_rate_base", "0.3"), ("total_steps", "200"), ("warmup_learning_rate", "0.05"),
                    ("warmup_steps", "100"), ("hold_base_rate_steps", "100"))},
    # --- augmentation: each step added, each parameter changed on its step
    **{f"PreprocessingStep.{step}": Probe(_aug(step), T) for step in (
        "random_horizontal_flip", "random_adjust_brightness", "random_adjust_contrast", "random_adjust_saturation",
        "random_adjust_hue", "random_crop_image", "ssd_random_crop")},
    "PreprocessingStep.random_scale_crop_and_pad_to_square": Probe(
        _aug("random_scale_crop_and_pad_to_square", "output_size: 32"), T),
    **{f"{cls}.{k}": Probe(_only_aug(step, f"{base_text} {k}: {v}"), T, prepare=_only_aug(step, base_text))
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
           ("RandomScaleCropAndPadToSquare", "random_scale_crop_and_pad_to_square", "", "output_size", "16"))},
    "SSDRandomCrop.operations": Probe(_only_aug("ssd_random_crop", f"operations {{ {SSD_CROP} }}"), T,
                                      prepare=_only_aug("ssd_random_crop")),
    **{f"SSDRandomCropOperation.{k}": Probe(_ssd_crop(k, v), T, prepare=_only_aug("ssd_random_crop",
                                                                                   f"operations {{ {SSD_CROP} }}"))
       for k, v in (("min_object_covered", "0.9"), ("min_aspect_ratio", "0.2"), ("max_aspect_ratio", "5.0"),
                    ("min_area", "0.5"), ("max_area", "0.2"), ("overlap_thresh", "0.9"), ("clip_boxes", "false"),
                    ("random_coef", "1.0"))},
    # --- readers and evaluation
    "InputReader.label_map_path": Probe(merge('train_input_reader { label_map_path: "other.pbtxt" }'), "readers"),
    "TFRecordInputReader.input_path": Probe(merge(
        'train_input_reader { tf_record_input_reader { input_path: "more-*.gz" } }'), "readers"),
    "eval_config.metrics_set": Probe(merge('eval_config { metrics_set: "pascal_voc_detection_metrics" }'), R),
}

# Honoured message fields that only hold fields probed above.
CONTAINERS = {
    "model", "train_config", "train_input_reader", "eval_config", "model.ssd", "model.faster_rcnn",
    "model.ssd.image_resizer", "model.ssd.image_resizer.fixed_shape_resizer", "model.ssd.feature_extractor",
    "model.ssd.feature_extractor.fpn", "model.ssd.feature_extractor.conv_hyperparams", "model.ssd.box_coder",
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
}
