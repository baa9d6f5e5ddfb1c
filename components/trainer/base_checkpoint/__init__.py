"""The embedded pre-trained detection checkpoint and the pipeline.config it is made for.

`CHECKPOINT_DIR` holds what `tools/make_base_checkpoint.py` wrote: `checkpoint/`
(model weights only), `pipeline.config`, `label_map.pbtxt`, `PROVENANCE.md`
and `PROVENANCE.json`. `render_config(ConfigOptions(...))` is the one
description of the architecture: the pre-training run and `detflow init` both
render it.
"""

from __future__ import annotations

import dataclasses
import pathlib

NAME = "ssd_mobilenet_v2_fpnlite_128"
CHECKPOINT_DIR = pathlib.Path(__file__).resolve().parent / NAME
INPUT_SIZE = 128


def checkpoint_prefix() -> str:
    """Path prefix of the embedded checkpoint (what fine_tune_checkpoint names)."""
    return str(CHECKPOINT_DIR / "checkpoint" / "ckpt-0")


@dataclasses.dataclass(frozen=True)
class ConfigOptions:
    """What differs between pipeline.configs of the embedded architecture: classes, data, schedule, start.

    No `fine_tune_checkpoint` (the default) trains from scratch; `comment`
    lines become `#` lines at the top.
    """

    num_classes: int
    label_map_path: str
    train_input_path: str
    eval_input_path: str
    num_steps: int
    batch_size: int
    learning_rate_base: float
    warmup_steps: int
    fine_tune_checkpoint: str = ""
    fine_tune_checkpoint_type: str = "detection"
    augmentation: tuple[str, ...] = ("random_horizontal_flip",)
    comment: str = ""
    input_size: int = INPUT_SIZE


def _augmentation(options: tuple[str, ...]) -> str:
    return "".join(f"  data_augmentation_options {{\n    {name} {{\n    }}\n  }}\n" for name in options)


# The embedded network's pipeline.config, filled by render_config (str.format: {o.<ConfigOptions field>}).
_CONFIG_TEMPLATE = """{header}model {{
  ssd {{
    num_classes: {o.num_classes}
    image_resizer {{
      fixed_shape_resizer {{
        height: {o.input_size}
        width: {o.input_size}
      }}
    }}
    feature_extractor {{
      type: "ssd_mobilenet_v2_fpn_keras"
      depth_multiplier: 0.35
      min_depth: 16
      use_depthwise: true
      fpn {{
        min_level: 3
        max_level: 6
        # The OD API scales the FPN depth by depth_multiplier: int(184 * 0.35) = 64 channels.
        additional_layer_depth: 184
      }}
      conv_hyperparams {{
        activation: RELU_6
        regularizer {{ l2_regularizer {{ weight: 0.00004 }} }}
        initializer {{ random_normal_initializer {{ stddev: 0.01 mean: 0.0 }} }}
        batch_norm {{ scale: true decay: 0.997 epsilon: 0.001 }}
      }}
      override_base_feature_extractor_hyperparams: true
    }}
    box_coder {{
      faster_rcnn_box_coder {{
        y_scale: 10.0
        x_scale: 10.0
        height_scale: 5.0
        width_scale: 5.0
      }}
    }}
    matcher {{
      argmax_matcher {{
        matched_threshold: 0.5
        unmatched_threshold: 0.4
      }}
    }}
    similarity_calculator {{
      iou_similarity {{
      }}
    }}
    anchor_generator {{
      multiscale_anchor_generator {{
        min_level: 3
        max_level: 6
        anchor_scale: 2.0
        aspect_ratios: [1.0, 2.0, 0.5]
        scales_per_octave: 2
      }}
    }}
    box_predictor {{
      weight_shared_convolutional_box_predictor {{
        depth: 64
        num_layers_before_predictor: 2
        class_prediction_bias_init: -4.6
        share_prediction_tower: true
        use_depthwise: true
        kernel_size: 3
        conv_hyperparams {{
          activation: RELU_6
          regularizer {{ l2_regularizer {{ weight: 0.00004 }} }}
          initializer {{ random_normal_initializer {{ stddev: 0.01 mean: 0.0 }} }}
          batch_norm {{ scale: true decay: 0.997 epsilon: 0.001 }}
        }}
      }}
    }}
    loss {{
      classification_loss {{
        weighted_sigmoid_focal {{
          alpha: 0.25
          gamma: 2.0
        }}
      }}
      localization_loss {{
        weighted_smooth_l1 {{
        }}
      }}
      classification_weight: 1.0
      localization_weight: 1.0
    }}
    encode_background_as_zeros: true
    normalize_loss_by_num_matches: true
    normalize_loc_loss_by_codesize: true
    post_processing {{
      batch_non_max_suppression {{
        score_threshold: 0.01
        iou_threshold: 0.5
        max_detections_per_class: 50
        max_total_detections: 50
      }}
      score_converter: SIGMOID
    }}
  }}
}}
train_config {{
  batch_size: {o.batch_size}
  num_steps: {o.num_steps}
{fine_tune}  max_number_of_boxes: 50
  optimizer {{
    adam_optimizer {{
      learning_rate {{
        cosine_decay_learning_rate {{
          learning_rate_base: {o.learning_rate_base}
          total_steps: {o.num_steps}
          warmup_learning_rate: {warmup_learning_rate:.6g}
          warmup_steps: {o.warmup_steps}
        }}
      }}
    }}
    use_moving_average: false
  }}
{augmentation}}}
train_input_reader {{
  label_map_path: "{o.label_map_path}"
  tf_record_input_reader {{
    input_path: "{o.train_input_path}"
  }}
}}
eval_config {{
  metrics_set: "coco_detection_metrics"
  batch_size: 1
}}
eval_input_reader {{
  label_map_path: "{o.label_map_path}"
  tf_record_input_reader {{
    input_path: "{o.eval_input_path}"
  }}
}}
"""


def render_config(options: ConfigOptions) -> str:
    """A complete OD API pipeline.config for the embedded SSD MobileNetV2 x0.35 FPN-lite (128 px unless told)."""
    o = options
    fine_tune = (f'  fine_tune_checkpoint: "{o.fine_tune_checkpoint}"\n'
                 f'  fine_tune_checkpoint_type: "{o.fine_tune_checkpoint_type}"\n'
                 f'  fine_tune_checkpoint_version: V2\n') if o.fine_tune_checkpoint else ""
    header = "".join(f"# {line}\n" for line in o.comment.splitlines())
    return _CONFIG_TEMPLATE.format(header=header, fine_tune=fine_tune, o=o, augmentation=_augmentation(o.augmentation),
                                   warmup_learning_rate=o.learning_rate_base / 10)
