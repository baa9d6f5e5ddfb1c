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
batch-norm decay/train, dropout and class_prediction_bias_init; and each
architecture's own `network_free_fields` (Faster R-CNN's proposal NMS and count,
sampling, loss weights, post-processing: the ones users tune when they
fine-tune a zoo Faster R-CNN).
"""

from __future__ import annotations

from typing import Iterator

import tensorflow as tf
from google.protobuf import text_format

from detection.architectures import registry
from schemas.protos import pipeline_pb2

_SKIPPED_FIELDS = {
    "num_classes", "image_resizer", "matcher", "similarity_calculator", "loss", "post_processing",
    "normalize_loss_by_num_matches", "normalize_loc_loss_by_codesize", "freeze_batchnorm",
    "inplace_batchnorm_update", "encode_background_as_zeros", "negative_class_weight",
    "weight_regression_loss_by_score", "use_confidences_as_targets", "implicit_example_weight",
    "return_raw_detections_during_predict", "initializer", "regularizer", "regularize_depthwise", "decay", "train",
    "use_dropout", "dropout_keep_probability", "class_prediction_bias_init", "apply_sigmoid_to_scores",
    "replace_preprocessor_with_placeholder",
}


def _settings(message, path: str, skipped: frozenset) -> Iterator[tuple[str, object]]:
    for field in message.DESCRIPTOR.fields:
        if field.name in skipped:
            continue
        name = f"{path}.{field.name}"
        if field.containing_oneof is not None and message.WhichOneof(field.containing_oneof.name) != field.name:
            continue
        value = getattr(message, field.name)
        if field.type == field.TYPE_MESSAGE:
            if field.label == field.LABEL_REPEATED:
                for index, item in enumerate(value):
                    yield from _settings(item, f"{name}[{index}]", skipped)
            elif message.HasField(field.name):
                yield name, "set"
                yield from _settings(value, name, skipped)
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
    family = registry.ARCHITECTURES.get(kind)
    skipped = _SKIPPED_FIELDS | (family.network_free_fields if family else frozenset())
    return {"model": kind, **dict(_settings(getattr(pipeline_proto.model, kind), f"model.{kind}", skipped))}


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
