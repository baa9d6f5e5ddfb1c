"""Which variables train: frozen backbone and the OD API's freeze/update regexes.

`train_config.update_trainable_variables` is an allow-list and
`train_config.freeze_variables` a deny-list of regexes, as in the OD API's
TF1 code (the TF2 OD API ignores both). A regex selects a variable when
`re.search` finds it in the variable's name (`var.name` without `:0`, e.g.
`WeightSharedConvolutionalBoxPredictor/ClassPredictor/pointwise_kernel`) or in
its object path as checkpoints name it, leading underscore dropped (e.g.
`box_predictor/_prediction_heads/class_predictions_with_background/...`,
`feature_extractor/classification_backbone/layer_with_weights-0/kernel`).
"""

from __future__ import annotations

import re
from typing import Iterable

import tensorflow as tf
import tf_keras

from detection.checkpoints.restore import variable_paths


def _names(model: tf.Module) -> dict[int, tuple[str, ...]]:
    names: dict[int, tuple[str, ...]] = {}
    for path, var in variable_paths(model).items():
        parts = path.split("/")
        module_path = "/".join([parts[0].lstrip("_")] + parts[1:])
        names[id(var)] = (var.name.split(":")[0], module_path)
    return names


def _matches(patterns: list[re.Pattern], names: tuple[str, ...]) -> bool:
    return any(p.search(n) for p in patterns for n in names)


def freeze_backbone_layers(model: tf_keras.Model) -> None:
    """Marks the backbone non-trainable: its batch norm then runs in inference mode (stats fixed)."""
    backbone = getattr(model, "backbone", None)
    if backbone is not None:
        backbone.trainable = False


def trainable_variables(model: tf_keras.Model, freeze_backbone: bool = True,
                        freeze_variables: Iterable[str] = (),
                        update_trainable_variables: Iterable[str] = ()) -> list[tf.Variable]:
    """The variables an optimizer should update, in `model.trainable_variables` order.

    With `freeze_backbone`, the backbone layer is set non-trainable (weights
    and batch-norm statistics stay as restored). Then the allow-list
    `update_trainable_variables` (if any pattern) keeps only matching
    variables, and the deny-list `freeze_variables` drops matching ones.
    Raises re.error for a bad regex.
    """
    if freeze_backbone:
        freeze_backbone_layers(model)
    allow = [re.compile(p) for p in update_trainable_variables if p]
    deny = [re.compile(p) for p in freeze_variables if p]
    names = _names(model) if (allow or deny) else {}
    kept = []
    for var in model.trainable_variables:
        n = names.get(id(var), (var.name.split(":")[0],))
        if allow and not _matches(allow, n):
            continue
        if deny and _matches(deny, n):
            continue
        kept.append(var)
    return kept
