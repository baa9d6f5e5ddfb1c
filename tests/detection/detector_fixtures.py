"""Tiny detector configs for the model-builder / restore / export / predict tests."""
from __future__ import annotations

from schemas.pipeline_config import parse_pipeline_config_text

SSD_TEXT = """
model {
  ssd {
    num_classes: NUM_CLASSES
    image_resizer { fixed_shape_resizer { height: SIZE width: SIZE } }
    feature_extractor {
      type: "FEATURE_EXTRACTOR"
      depth_multiplier: 0.35
      min_depth: 16
      FPN
      conv_hyperparams {
        activation: RELU_6
        initializer { truncated_normal_initializer { stddev: 0.03 } }
        batch_norm { scale: true decay: 0.97 epsilon: 0.001 }
      }
      override_base_feature_extractor_hyperparams: true
    }
    box_coder { faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 } }
    matcher { argmax_matcher { matched_threshold: 0.5 unmatched_threshold: 0.5 } }
    similarity_calculator { iou_similarity { } }
    anchor_generator {
      multiscale_anchor_generator {
        min_level: MIN_LEVEL max_level: 6 anchor_scale: 4.0
        aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2
      }
    }
    box_predictor {
      weight_shared_convolutional_box_predictor {
        depth: 32 num_layers_before_predictor: 2 kernel_size: 3
        class_prediction_bias_init: -4.6 use_depthwise: true
        conv_hyperparams {
          activation: RELU_6
          initializer { random_normal_initializer { stddev: 0.01 } }
          batch_norm { scale: true decay: 0.997 epsilon: 0.001 }
        }
      }
    }
    post_processing {
      batch_non_max_suppression {
        score_threshold: 0.001 iou_threshold: 0.6 max_detections_per_class: 20 max_total_detections: 20
      }
      score_converter: SIGMOID
    }
    loss {
      classification_loss { weighted_sigmoid_focal { gamma: 2.0 alpha: 0.25 } }
      localization_loss { weighted_smooth_l1 { delta: 1.0 } }
      classification_weight: 1.0
      localization_weight: 1.0
    }
    freeze_batchnorm: FREEZE_BN
  }
}
train_config {
  batch_size: 2
  num_steps: 2
  optimizer { momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.01 } } } }
}
"""

FPN = "fpn { min_level: 3 max_level: 6 additional_layer_depth: 32 }"


def ssd_config_text(num_classes: int = 3, size: int = 64, feature_extractor: str = "ssd_mobilenet_v2_fpn_keras",
                    freeze_batchnorm: bool = False) -> str:
    """pipeline.config text of a ~0.4 M-parameter SSD (MobileNetV2 x0.35, depth 32)."""
    with_fpn = feature_extractor.endswith("_fpn_keras")
    return (SSD_TEXT.replace("NUM_CLASSES", str(num_classes)).replace("SIZE", str(size))
            .replace("FEATURE_EXTRACTOR", feature_extractor).replace("FPN", FPN if with_fpn else "num_layers: 3")
            .replace("MIN_LEVEL", "3" if with_fpn else "4")
            .replace("FREEZE_BN", "true" if freeze_batchnorm else "false"))


def ssd_proto(**kwargs):
    """The parsed TrainEvalPipelineConfig of `ssd_config_text(**kwargs)`."""
    return parse_pipeline_config_text(ssd_config_text(**kwargs), "test.config").proto


def label_map_text(num_classes: int) -> str:
    """A label map with classes c1..cN (ids 1..N)."""
    return "".join(f'item {{ id: {i} name: "c{i}" }}\n' for i in range(1, num_classes + 1))


def frcnn_proto(num_classes: int = 3):
    """The zoo's Faster R-CNN ResNet50 640 config at a 48..64 px input and `num_classes`."""
    with open("tests/data/configs/faster_rcnn_resnet50_v1_640x640.config", encoding="utf-8") as f:
        text = f.read()
    text = (text.replace("min_dimension: 640", "min_dimension: 48").replace("max_dimension: 640", "max_dimension: 64")
            .replace("num_classes: 90", f"num_classes: {num_classes}"))
    return parse_pipeline_config_text(text, "frcnn.config").proto


def center_net_proto(num_classes: int = 3, size: int = 64):
    """The zoo's CenterNet ResNet-101 V1 FPN 512 config on ResNet-50 at a `size` px input and `num_classes`."""
    with open("tests/data/configs/centernet_resnet101_v1_fpn_512x512.config", encoding="utf-8") as f:
        text = f.read()
    text = (text.replace('type: "resnet_v1_101_fpn"', 'type: "resnet_v1_50_fpn"')
            .replace("min_dimension: 512", f"min_dimension: {size}")
            .replace("max_dimension: 512", f"max_dimension: {size}")
            .replace("num_classes: 90", f"num_classes: {num_classes}"))
    return parse_pipeline_config_text(text, "center_net.config").proto
