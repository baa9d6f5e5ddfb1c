"""CenterNet training (`model.center_net`): the OD API's center, scale and offset losses (`targets.py`) and
each keypoint task's heatmap, offset and regression losses (`keypoint_targets.py`)."""

from __future__ import annotations

import tensorflow as tf

from detection.architectures.center_net import keypoint_targets
from detection.architectures.center_net import targets as cn_targets
from detection.architectures.center_net.network import OBJECT_CENTER
from detection.training.tasks import DetectorTask

KEYPOINT_LOSSES = ("keypoint_heatmap_loss", "keypoint_offset_loss", "keypoint_regression_loss")


class CenterNetTask(DetectorTask):
    """`model.center_net`: heatmap targets and losses computed in the loss from the padded ground truth."""

    def __init__(self, bundle):
        super().__init__(bundle)
        self.loss_names = ("cls_loss", "box_loss", "center_loss", "scale_loss", "offset_loss")
        if self.spec.training.keypoint_tasks:
            self.loss_names += ("keypoint_loss", *KEYPOINT_LOSSES)

    def targets(self, options):
        """None per example: CenterNet's targets are computed from the batch's ground truth in `losses`."""
        return lambda pixel_boxes, classes: {}

    def losses(self, model, images, labels, aux_losses=None):
        """The network in training mode and the OD API's weighted losses (+ regularisation).

        cls_loss is the center heatmap loss, box_loss the scale and offset losses together, keypoint_loss the
        keypoint tasks' three losses together.
        """
        training = self.spec.training
        predictions = model(images, training=True)
        out = cn_targets.losses(predictions, labels, training, self.spec.num_classes, training.stride)
        out["cls_loss"] = out["center_loss"]
        out["box_loss"] = out["scale_loss"] + out["offset_loss"]
        out["loss"] = out["center_loss"] + out["box_loss"]
        if training.keypoint_tasks:
            if "groundtruth_keypoints" not in labels:
                raise ValueError("a keypoint_estimation_task needs keypoints in the input: set "
                                 "train_input_reader.num_keypoints to the records' keypoints per object")
            centers = predictions[OBJECT_CENTER][-1]
            cells = cn_targets.valid_cell_weights(labels["image_shape"], centers.shape[1], centers.shape[2],
                                                  training.stride)
            out.update(keypoint_targets.losses(predictions, labels, training.keypoint_tasks, cells))
            out["keypoint_loss"] = tf.add_n([out[k] for k in KEYPOINT_LOSSES])
            out["loss"] += out["keypoint_loss"]
        if aux_losses:
            out["loss"] += tf.add_n(aux_losses)
        return out
