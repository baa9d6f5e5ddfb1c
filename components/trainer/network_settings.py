"""Which pipeline.config settings define a network's function, and how two configs differ in them.

A checkpoint's names and shapes can fit a network that computes something else
(another activation, batch-norm epsilon, anchor layout, box coder, padding or
preprocessing). When a checkpoint comes with its pipeline.config (a zoo
folder, a detflow export, the embedded base checkpoint), `differences` lists
every such setting in which it differs from the config being trained.

Left out, because they change training or post-processing but not what the
restored weights compute: num_classes (the class head is handled apart),
image_resizer (the same weights run at another input size), matcher,
similarity_calculator, loss and its normalisation, post_processing,
freeze_batchnorm, inplace_batchnorm_update, initializers, regularizers,
batch-norm decay/train, dropout and class_prediction_bias_init; for Faster
R-CNN also the proposal NMS and count, the anchor and proposal sampling of
training, the four loss weights, second_stage_post_processing,
batch_norm_trainable and the static-shape / matmul switches, which compute the
same crops and matches another way (the ones users tune when they fine-tune a
zoo Faster R-CNN: fewer proposals, a smaller second-stage batch).
"""

from __future__ import annotations

from typing import Iterator

import tensorflow as tf
from google.protobuf import text_format

from schemas.protos import pipeline_pb2

_SKIPPED_FIELDS = {
    "num_classes", "image_resizer", "matcher", "similarity_calculator", "loss", "post_processing",
    "normalize_loss_by_num_matches", "normalize_loc_loss_by_codesize", "freeze_batchnorm",
    "inplace_batchnorm_update", "encode_background_as_zeros", "negative_class_weight",
    "weight_regression_loss_by_score", "use_confidences_as_targets", "implicit_example_weight",
    "return_raw_detections_during_predict", "initializer", "regularizer", "regularize_depthwise", "decay", "train",
    "use_dropout", "dropout_keep_probability", "class_prediction_bias_init", "apply_sigmoid_to_scores",
    "replace_preprocessor_with_placeholder",
    # Faster R-CNN: proposals and their NMS, training samples and losses, post-processing, implementation switches.
    "first_stage_nms_score_threshold", "first_stage_nms_iou_threshold", "first_stage_max_proposals",
    "first_stage_minibatch_size", "first_stage_positive_balance_fraction", "first_stage_localization_loss_weight",
    "first_stage_objectness_loss_weight", "second_stage_batch_size", "second_stage_balance_fraction",
    "second_stage_post_processing", "second_stage_localization_loss_weight", "second_stage_classification_loss_weight",
    "second_stage_mask_prediction_loss_weight", "second_stage_classification_loss", "hard_example_miner",
    "batch_norm_trainable", "clip_anchors_to_image", "use_static_shapes", "use_static_shapes_for_eval",
    "use_matmul_crop_and_resize", "use_static_balanced_label_sampler", "use_matmul_gather_in_matcher",
    "use_partitioned_nms_in_first_stage", "resize_masks", "output_final_box_features", "output_final_box_rpn_features",
}


def _settings(message, path: str) -> Iterator[tuple[str, object]]:
    for field in message.DESCRIPTOR.fields:
        if field.name in _SKIPPED_FIELDS:
            continue
        name = f"{path}.{field.name}"
        if field.containing_oneof is not None and message.WhichOneof(field.containing_oneof.name) != field.name:
            continue
        value = getattr(message, field.name)
        if field.type == field.TYPE_MESSAGE:
            if field.label == field.LABEL_REPEATED:
                for index, item in enumerate(value):
                    yield from _settings(item, f"{name}[{index}]")
            elif message.HasField(field.name):
                yield name, "set"
                yield from _settings(value, name)
            continue
        if field.label == field.LABEL_REPEATED:
            value = [round(v, 6) if isinstance(v, float) else v for v in value]
        elif field.type == field.TYPE_ENUM:
            value = field.enum_type.values_by_number[value].name
        elif isinstance(value, float):
            value = round(value, 6)
        yield name, value


def network_settings(pipeline_proto) -> dict[str, object]:
    """Every network-defining setting of `pipeline_proto.model` (defaults included), by dotted path."""
    kind = pipeline_proto.model.WhichOneof("model")
    if kind is None:
        return {}
    return {"model": kind, **dict(_settings(getattr(pipeline_proto.model, kind), f"model.{kind}"))}


def differences(theirs, ours) -> list[str]:
    """'path: checkpoint's X, this config's Y' for every network setting in which two configs differ."""
    a, b = network_settings(theirs), network_settings(ours)
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(f"{key}: the checkpoint's config has {_show(a.get(key))}, this config {_show(b.get(key))}")
    return out


def _show(value) -> str:
    return "nothing" if value is None else str(value)


def read_config(path: str):
    """A TrainEvalPipelineConfig from a file, or None if it does not parse (fields detflow lacks are skipped)."""
    config = pipeline_pb2.TrainEvalPipelineConfig()
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            text_format.Parse(f.read().decode("utf-8-sig"), config, allow_unknown_field=True)
    except (OSError, tf.errors.OpError, UnicodeDecodeError, text_format.ParseError):
        return None
    return config
