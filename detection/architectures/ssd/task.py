"""SSD training (`model.ssd`): anchor targets and the OD API's SSD losses.

Targets from Model Garden's `AnchorLabeler` over the network's own anchors; the OD API's
sigmoid focal + smooth L1 losses normalised by max(positives, 1), with the config's
gamma/alpha/delta, classification/localization weights and normalize_loc_loss_by_codesize.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from detection.training.tasks import DetectorTask
from official.vision.losses import focal_loss
from official.vision.ops import anchor as anchor_ops


class SsdTask(DetectorTask):
    """`model.ssd`: the OD API's SSD losses over its anchors."""

    def targets(self, options):
        """Anchor targets over the network's own anchors (OD order): Model Garden's AnchorLabeler.

        The labeler matches at matched/unmatched_threshold, each ground-truth box to its best anchor
        too, and encodes with the config's box coder; unmatched anchors get class -1, which one-hot
        turns into an all-zero row: background column included (encode_background_as_zeros).
        """
        anchors = {"all": tf.constant(self.bundle.anchors)[:, None, :]}    # one "level" of [N, 1, 4]
        training = self.spec.training
        labeler = anchor_ops.AnchorLabeler(match_threshold=training.matched_threshold,
                                           unmatched_threshold=training.unmatched_threshold,
                                           box_coder_weights=list(self.spec.anchors.box_coder_weights))
        scale = tf.constant([options.input_height, options.input_width] * 2, tf.float32)

        def targets(pixel_boxes, classes):
            cls_targets, box_targets, _, cls_weights, box_weights = labeler.label_anchors(
                anchors, pixel_boxes / scale, tf.expand_dims(classes, 1))
            return {"cls_targets": tf.reshape(cls_targets["all"], [-1]),
                    "box_targets": tf.reshape(box_targets["all"], [-1, 4]),
                    "cls_weights": cls_weights, "box_weights": box_weights}
        return targets

    def losses(self, model, images, labels, aux_losses=None):
        """The OD API's SSD loss: sigmoid focal + smooth L1 over the anchors, over max(positives, 1).

        The localization loss is averaged over the 4 box coordinates when
        normalize_loc_loss_by_codesize, summed over them otherwise.
        """
        spec, training = self.spec, self.spec.training
        outputs = model(images, training=True)
        cls_loss_fn = focal_loss.FocalLoss(alpha=training.focal_alpha, gamma=training.focal_gamma,
                                           reduction=tf_keras.losses.Reduction.SUM)
        box_loss_fn = tf_keras.losses.Huber(training.huber_delta or 1.0, reduction=tf_keras.losses.Reduction.SUM)
        num_positives = tf.maximum(tf.reduce_sum(labels["box_weights"]), 1.0)
        # Classes are 1-based: column c with a background column, c - 1 without; -1 (unmatched) is all zeros.
        offset = 0 if training.add_background_class else 1
        y_true_cls = tf.one_hot(labels["cls_targets"] - offset, spec.mg_num_classes)
        y_pred_cls = tf.cast(outputs["class_predictions_with_background"], tf.float32)
        cls_loss = cls_loss_fn(y_true=y_true_cls, y_pred=y_pred_cls,
                               sample_weight=labels["cls_weights"] / num_positives)
        # Keras' Huber averages over the last axis: the code-size-normalised OD loss.
        box_loss = box_loss_fn(y_true=labels["box_targets"], y_pred=tf.cast(outputs["box_encodings"], tf.float32),
                               sample_weight=labels["box_weights"] / num_positives)
        if not training.normalize_loc_loss_by_codesize:
            box_loss *= 4.0
        total = (training.classification_weight or 1.0) * cls_loss + (training.localization_weight or 1.0) * box_loss
        if aux_losses:
            total += tf.add_n(aux_losses)
        return {"loss": total, "cls_loss": cls_loss, "box_loss": box_loss}
