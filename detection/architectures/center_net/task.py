"""CenterNet training (`model.center_net`): the OD API's center, scale and offset losses (`targets.py`)."""

from __future__ import annotations

import tensorflow as tf

from detection.architectures.center_net import targets as cn_targets
from detection.training.tasks import DetectorTask


class CenterNetTask(DetectorTask):
    """`model.center_net`: heatmap targets and losses computed in the loss from the padded ground truth."""

    loss_names = ("cls_loss", "box_loss", "center_loss", "scale_loss", "offset_loss")

    def targets(self, options):
        """None per example: CenterNet's targets are computed from the batch's ground truth in `losses`."""
        return lambda pixel_boxes, classes: {}

    def losses(self, model, images, labels, aux_losses=None):
        """The network in training mode and the OD API's weighted losses (+ regularisation).

        cls_loss is the center heatmap loss, box_loss the scale and offset losses together.
        """
        training = self.spec.training
        out = cn_targets.losses(model(images, training=True), labels, training, self.spec.num_classes,
                                training.stride)
        out["cls_loss"] = out["center_loss"]
        out["box_loss"] = out["scale_loss"] + out["offset_loss"]
        out["loss"] = out["center_loss"] + out["box_loss"]
        if aux_losses:
            out["loss"] += tf.add_n(aux_losses)
        return out
