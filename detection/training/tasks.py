"""What differs between meta-architectures in training: input targets, forward pass and losses.

A `DetectorTask` gives the input pipeline its `targets` function (what each
example carries besides the image and the padded ground truth) and computes
the training-mode forward pass and the weighted losses. Everything else
(strategy, checkpoints, resume, TensorBoard, box counters, export) is the one
loop in train_loop. Each architecture plug-in has its task
(`detection/architectures/<family>/task.py`), found through the registry.

`losses(...)` returns a dict with `loss` (the total that is minimised),
`cls_loss` and `box_loss` (classification and localization parts, weighted)
and whatever other terms the family reports (`loss_names`).
"""

from __future__ import annotations

import tensorflow as tf

from detection.data import inputs
from detection.networks.spec import DetectorBundle


class DetectorTask:
    """Model-specific parts of training; see the module doc."""

    loss_names: tuple[str, ...] = ("cls_loss", "box_loss")

    def __init__(self, bundle: DetectorBundle):
        self.spec = bundle.spec
        self.bundle = bundle

    def targets(self, options: inputs.InputOptions) -> inputs.Targets:
        """Per-example training targets the input pipeline adds to the labels."""
        raise NotImplementedError

    def losses(self, model, images: tf.Tensor, labels: dict, aux_losses=None) -> dict[str, tf.Tensor]:
        """Training-mode forward pass of `model` on preprocessed `images` and its losses."""
        raise NotImplementedError

