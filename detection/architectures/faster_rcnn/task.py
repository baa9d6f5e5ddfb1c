"""Faster R-CNN training (`model.faster_rcnn`): the OD API's losses of both stages.

RPN targets from Model Garden's `RpnAnchorLabeler` over the network's grid anchors
(first_stage_minibatch_size anchors per image, first_stage_positive_balance_fraction positives);
the second stage samples second_stage_batch_size proposals (second_stage_balance_fraction
positives); the OD API's softmax / smooth L1 losses of both stages weighted by
first_stage_objectness/localization_loss_weight and second_stage_classification/localization_loss_weight
(`losses.py`).
"""

from __future__ import annotations

import tensorflow as tf

from detection.architectures.faster_rcnn import losses as frcnn_losses
from detection.training.tasks import DetectorTask


class FasterRcnnTask(DetectorTask):
    """`model.faster_rcnn`: the OD API's Faster R-CNN losses (`losses.py`)."""

    loss_names = ("cls_loss", "box_loss", "rpn_score_loss", "rpn_box_loss", "frcnn_cls_loss", "frcnn_box_loss")

    def targets(self, options):
        """RPN objectness (1 / 0 / -1 ignored) and box targets over the network's grid anchors."""
        return frcnn_losses.rpn_targets(self.bundle.model, options.input_height, options.input_width,
                                         self.spec.training.rpn_minibatch_size,
                                         self.spec.training.rpn_positive_fraction)

    def losses(self, model, images, labels, aux_losses=None):
        """Both stages in training mode and the OD API's four weighted losses (+ regularisation)."""
        out = frcnn_losses.losses(model, self.spec.training, images, labels)
        if aux_losses:
            out["loss"] += tf.add_n(aux_losses)
        return out
