"""Shared bits of the schema tests: the zoo configs and a minimal valid config to edit."""

import pathlib

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "data" / "configs"
FPNLITE = CONFIGS / "ssd_mobilenet_v2_fpnlite_320x320.config"
FASTER_RCNN = CONFIGS / "faster_rcnn_resnet50_v1_640x640.config"

# A small valid SSD config; tests replace one line to make one error at a known line.
MINIMAL = """\
model {
  ssd {
    num_classes: 3
    image_resizer { fixed_shape_resizer { height: 320 width: 320 } }
    feature_extractor {
      type: "ssd_mobilenet_v2_fpn_keras"
      fpn { min_level: 3 max_level: 7 }
    }
    anchor_generator { multiscale_anchor_generator { min_level: 3 max_level: 7 aspect_ratios: [1.0, 2.0] } }
    box_predictor { weight_shared_convolutional_box_predictor { depth: 64 } }
    post_processing { batch_non_max_suppression { score_threshold: 0.1 iou_threshold: 0.5 } score_converter: SIGMOID }
  }
}
train_config {
  batch_size: 8
  num_steps: 100
  optimizer {
    momentum_optimizer {
      learning_rate { cosine_decay_learning_rate { learning_rate_base: 0.02 total_steps: 100 warmup_learning_rate: 0.01 warmup_steps: 10 } }
    }
    use_moving_average: false
  }
  fine_tune_checkpoint: "ckpt/ckpt-0"
  fine_tune_checkpoint_type: "detection"
  fine_tune_checkpoint_version: V2
}
eval_config { metrics_set: "coco_detection_metrics" }
"""


def edit(old: str, new: str, text: str = MINIMAL) -> str:
    """MINIMAL with exactly one occurrence of `old` replaced by `new`."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)
RESNET50_FPN = CONFIGS / "ssd_resnet50_v1_fpn_640x640.config"
EFFICIENTDET_D0 = CONFIGS / "ssd_efficientdet_d0_512x512.config"
