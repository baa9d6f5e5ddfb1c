"""The means of writing honoured-field probes: `Probe`, the base configs and the edits.

A probe names a base config, an optional `prepare` (applied to base and changed
config alike, e.g. turning dropout on before its keep probability can matter),
an `edit` and the effect that must follow:
- "network": the built detector (spec, variables, layer settings, initial
  values, regularisation, outputs, detections or training losses) differs;
- "training": the training settings, optimizer, learning-rate schedule or
  augmentation output differ;
- "freeze": the variables that train differ;
- "readers": the inputs `detflow train` reads differ;
- "evaluation": the keypoint metrics the Evaluator computes (classes, keypoints, sigmas:
  `keypoint_metrics.keypoint_setup` against the keypoint label map) differ;
- "drawing": what `detflow predict` draws from the export's pipeline.config
  (`predict.keypoint_edges`, drawn on one detection with three keypoints) differs;
- "refused": the field admits one value only and another is refused by
  `config check`.
"""
from __future__ import annotations

import dataclasses
import pathlib
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


# EfficientDet (the D0 zoo config's network) with a small BiFPN and head at 256 px, no background class.
EFFDET = SSD.replace(
    'type: "ssd_mobilenet_v2_fpn_keras" depth_multiplier: 0.35 min_depth: 16 use_depthwise: true\n'
    '    fpn { min_level: 3 max_level: 6 additional_layer_depth: 92 }',
    'type: "ssd_efficientnet-b0_bifpn_keras"\n'
    '    bifpn { min_level: 3 max_level: 7 num_iterations: 1 num_filters: 16 combine_method: "fast_attention" }').replace(
    "height: 64 width: 64", "height: 256 width: 256").replace(
    "activation: RELU_6", "activation: SWISH").replace(
    "override_base_feature_extractor_hyperparams: true", "").replace(
    "min_level: 3 max_level: 6 anchor_scale", "min_level: 3 max_level: 7 anchor_scale").replace(
    "encode_background_as_zeros: true", "encode_background_as_zeros: true add_background_class: false")


def _frcnn_text() -> str:
    import pathlib  # pylint: disable=import-outside-toplevel
    text = (pathlib.Path(__file__).resolve().parents[1] / "data" / "configs" /
            "faster_rcnn_resnet50_v1_640x640.config").read_text()
    return (text.replace("min_dimension: 640", "min_dimension: 48").replace("max_dimension: 640", "max_dimension: 64")
            .replace("num_classes: 90", "num_classes: 3")
            # 30 proposals rather than 300: the second stage runs conv5 on each one's crop.
            .replace("first_stage_max_proposals: 300", "first_stage_max_proposals: 30"))


def _center_net_text() -> str:
    """The zoo's CenterNet MobileNetV2 FPN config at 64 px (its FPN's convs regular), 3 classes, 10 peaks, the
    heads' convs regular: the smallest CenterNet, so the probes build fast."""
    import pathlib  # pylint: disable=import-outside-toplevel
    text = (pathlib.Path(__file__).resolve().parents[1] / "data" / "configs" /
            "centernet_mobilenetv2_fpn_512x512.config").read_text()
    return (text.replace('type: "mobilenet_v2_fpn_sep_conv"', 'type: "mobilenet_v2_fpn"')
            .replace("min_dimension: 512", "min_dimension: 64").replace("max_dimension: 512", "max_dimension: 64")
            .replace("use_depthwise: true", "").replace("num_classes: 90", "num_classes: 3")
            .replace("max_box_predictions: 20", "max_box_predictions: 10"))


LABEL_MAPS = pathlib.Path(__file__).resolve().parents[1] / "data" / "label_maps"


def _center_net_keypoints_text() -> str:
    """The CenterNet probe base with a keypoint task: class c1's three keypoints (label_maps/probe_keypoints.pbtxt),
    keypoint a's std 0.5, offsets within radius 1 of the keypoints' cells, a flip keeping their order."""
    task = ('keypoint_estimation_task { task_name: "kp" keypoint_class_name: "c1" '
            'keypoint_label_to_std { key: "a" value: 0.5 } offset_peak_radius: 1 num_candidates_per_keypoint: 8 '
            'loss { localization_loss { l1_localization_loss { } } '
            'classification_loss { penalty_reduced_logistic_focal_loss { alpha: 2.0 beta: 4.0 } } } }')
    return (_center_net_text()
            .replace("center_net {", f'center_net {{\n keypoint_label_map_path: "{LABEL_MAPS / "probe_keypoints.pbtxt"}" '
                                     f"{task}", 1)
            .replace("train_input_reader {", "train_input_reader {\n  num_keypoints: 3", 1)
            .replace("random_horizontal_flip {", "random_horizontal_flip {\n keypoint_flip_permutation: [0, 1, 2]", 1))


BASES = {"ssd": lambda: SSD, "conv": lambda: CONV, "effdet": lambda: EFFDET, "frcnn": _frcnn_text,
         "centernet": _center_net_text, "centernet_kpts": _center_net_keypoints_text}


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


def ssd(text: str) -> str:
    """Text-format fields placed in model.ssd."""
    return f"model {{ ssd {{ {text} }} }}"


def fe(text: str) -> str:
    """... in the SSD feature_extractor."""
    return ssd(f"feature_extractor {{ {text} }}")


def wsp(text: str) -> str:
    """... in the SSD weight_shared_convolutional_box_predictor."""
    return ssd(f"box_predictor {{ weight_shared_convolutional_box_predictor {{ {text} }} }}")


def cbp(text: str) -> str:
    """... in the SSD convolutional_box_predictor."""
    return ssd(f"box_predictor {{ convolutional_box_predictor {{ {text} }} }}")


def sag(text: str) -> str:
    """... in the SSD ssd_anchor_generator."""
    return ssd(f"anchor_generator {{ ssd_anchor_generator {{ {text} }} }}")


def nms(text: str) -> str:
    """... in the SSD batch_non_max_suppression."""
    return ssd(f"post_processing {{ batch_non_max_suppression {{ {text} }} }}")


def fe_hp(text: str) -> str:
    """... in the SSD feature extractor's conv_hyperparams."""
    return fe(f"conv_hyperparams {{ {text} }}")


def bp_hp(text: str) -> str:
    """... in the weight-shared box predictor's conv_hyperparams."""
    return wsp(f"conv_hyperparams {{ {text} }}")


def frcnn(text: str) -> str:
    """Text-format fields placed in model.faster_rcnn."""
    return f"model {{ faster_rcnn {{ {text} }} }}"


def cn(text: str) -> str:
    """Text-format fields placed in model.center_net."""
    return f"model {{ center_net {{ {text} }} }}"


def kp(text: str) -> Callable:
    """An edit that merges text-format fields into model.center_net's first keypoint_estimation_task (a
    repeated field: merging at the root would add a second task)."""
    def edit(proto):
        text_format.Merge(text, proto.model.center_net.keypoint_estimation_task[0])
    return edit


def opt(text: str) -> str:
    """Text-format fields placed in train_config.optimizer."""
    return f"train_config {{ optimizer {{ {text} }} }}"


def lr(kind: str, text: str) -> Callable:
    """An edit that replaces the momentum optimizer's learning rate by a `kind` schedule."""
    return both(clear("train_config.optimizer.momentum_optimizer.learning_rate"),
                merge(opt(f"momentum_optimizer {{ learning_rate {{ {kind} {{ {text} }} }} }}")))


def aug(step: str, text: str = "") -> Callable:
    """An edit that adds the augmentation `step`."""
    return merge(f"train_config {{ data_augmentation_options {{ {step} {{ {text} }} }} }}")


def only_aug(step: str, text: str = "") -> Callable:
    """An edit that leaves the augmentation `step` the only one."""
    return both(clear("train_config.data_augmentation_options"), aug(step, text))


def fpn_levels(min_level: int, max_level: int) -> Callable:
    """An edit of the FPN levels and the anchor levels that must match them."""
    return merge(ssd(f"feature_extractor {{ fpn {{ min_level: {min_level} max_level: {max_level} }} }} "
                      f"anchor_generator {{ multiscale_anchor_generator {{ min_level: {min_level} "
                      f"max_level: {max_level} }} }}"))


def bifpn_levels(min_level: int, max_level: int) -> Callable:
    """An edit of the BiFPN levels and the anchor levels that must match them."""
    return merge(ssd(f"feature_extractor {{ bifpn {{ min_level: {min_level} max_level: {max_level} }} }} "
                      f"anchor_generator {{ multiscale_anchor_generator {{ min_level: {min_level} "
                      f"max_level: {max_level} }} }}"))


def ssd_layers(n: int) -> Callable:
    """An edit of the feature map count, on the extractor and the anchor generator alike."""
    return merge(ssd(f"feature_extractor {{ num_layers: {n} }} anchor_generator {{ ssd_anchor_generator "
                      f"{{ num_layers: {n} }} }}"))


def to_mobilenet_v2_keras(proto) -> None:
    """Switches the SSD base to the FPN-less MobileNet v2 with anchors on three levels."""
    extractor = proto.model.ssd.feature_extractor
    extractor.type = "ssd_mobilenet_v2_keras"
    extractor.ClearField("fpn")
    extractor.num_layers = 3
    ag = proto.model.ssd.anchor_generator.multiscale_anchor_generator
    ag.min_level, ag.max_level = 4, 6


def to_convolutional_predictor(proto) -> None:
    """Switches the box predictor to the (not weight-shared) convolutional one."""
    hp = proto.model.ssd.box_predictor.weight_shared_convolutional_box_predictor.conv_hyperparams
    conv = proto.model.ssd.box_predictor.convolutional_box_predictor
    conv.conv_hyperparams.CopyFrom(hp)
    conv.kernel_size = 3


def to_multiscale(proto) -> None:
    """Sets a multiscale anchor generator with every field given."""
    proto.model.ssd.anchor_generator.multiscale_anchor_generator.CopyFrom(
        text_format.Parse("min_level: 4 max_level: 9 anchor_scale: 4.0 aspect_ratios: [1.0, 2.0, 0.5] "
                          "scales_per_octave: 2",
                          type(proto.model.ssd.anchor_generator.multiscale_anchor_generator)()))


# One ssd_random_crop operation with every field set (the proto leaves them 0, which the OD API would take).
SSD_CROP = ("min_object_covered: 0.0 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1 max_area: 1.0 "
            "overlap_thresh: 0.0 clip_boxes: true random_coef: 0.0")


def ssd_crop(field: str, value: str) -> Callable:
    """An edit of one field of the first ssd_random_crop operation."""
    def edit(proto):
        operation = proto.train_config.data_augmentation_options[0].ssd_random_crop.operations[0]
        text_format.Merge(f"{field}: {value}", operation)
    return edit


N, T = "network", "training"
R = "refused"
