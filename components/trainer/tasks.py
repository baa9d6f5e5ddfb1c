"""What differs between meta-architectures in training: input targets, forward pass and losses.

A `DetectorTask` gives the input pipeline its `targets` function (what each
example carries besides the image and the padded ground truth) and computes
the training-mode forward pass and the weighted losses. Everything else
(strategy, checkpoints, resume, TensorBoard, box counters, export) is the one
loop in train_loop.

- `SsdTask` (`model.ssd`, the OD API's SSD networks): targets from Model
  Garden's `AnchorLabeler` over the network's own anchors; the OD API's
  sigmoid focal + smooth L1 losses normalised by max(positives, 1), with the
  config's gamma/alpha/delta, classification/localization weights and
  normalize_loc_loss_by_codesize.
- `FasterRcnnTask` (`model.faster_rcnn`, the OD API's Faster R-CNN of
  `models/faster_rcnn_od.py`): RPN targets from Model Garden's `RpnAnchorLabeler`
  over the network's grid anchors (first_stage_minibatch_size anchors per image,
  first_stage_positive_balance_fraction positives); the second stage samples
  second_stage_batch_size proposals (second_stage_balance_fraction positives);
  the OD API's softmax / smooth L1 losses of both stages weighted by
  first_stage_objectness/localization_loss_weight and
  second_stage_classification/localization_loss_weight
  (`models/faster_rcnn_train.py`).

`losses(...)` returns a dict with `loss` (the total that is minimised),
`cls_loss` and `box_loss` (classification and localization parts, weighted)
and, for Faster R-CNN, the four unweighted terms.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from components.trainer import inputs
from components.trainer.models.spec import DetectorBundle
from official.vision.losses import focal_loss
from official.vision.ops import anchor as anchor_ops


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


class SsdTask(DetectorTask):
    """`model.ssd`: the OD API's SSD losses over its anchors."""

    def targets(self, options):
        """Anchor targets over the network's own anchors (OD order): Model Garden's AnchorLabeler.

        The labeler matches at matched/unmatched_threshold, each ground-truth box to its best anchor
        too, and encodes with the config's box coder; unmatched anchors get class -1, which one-hot
        turns into an all-zero row: background column included (encode_background_as_zeros).
        """
        anchors = {"all": tf.constant(self.bundle.anchors)[:, None, :]}    # one "level" of [N, 1, 4]
        spec = self.spec
        labeler = anchor_ops.AnchorLabeler(match_threshold=spec.matched_threshold,
                                           unmatched_threshold=spec.unmatched_threshold,
                                           box_coder_weights=list(spec.box_coder_weights))
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
        spec = self.spec
        outputs = model(images, training=True)
        cls_loss_fn = focal_loss.FocalLoss(alpha=spec.focal_alpha, gamma=spec.focal_gamma,
                                           reduction=tf_keras.losses.Reduction.SUM)
        box_loss_fn = tf_keras.losses.Huber(spec.huber_delta or 1.0, reduction=tf_keras.losses.Reduction.SUM)
        num_positives = tf.maximum(tf.reduce_sum(labels["box_weights"]), 1.0)
        y_true_cls = tf.one_hot(labels["cls_targets"], spec.mg_num_classes)
        y_pred_cls = tf.cast(outputs["class_predictions_with_background"], tf.float32)
        cls_loss = cls_loss_fn(y_true=y_true_cls, y_pred=y_pred_cls,
                               sample_weight=labels["cls_weights"] / num_positives)
        # Keras' Huber averages over the last axis: the code-size-normalised OD loss.
        box_loss = box_loss_fn(y_true=labels["box_targets"], y_pred=tf.cast(outputs["box_encodings"], tf.float32),
                               sample_weight=labels["box_weights"] / num_positives)
        if not spec.normalize_loc_loss_by_codesize:
            box_loss *= 4.0
        total = (spec.classification_weight or 1.0) * cls_loss + (spec.localization_weight or 1.0) * box_loss
        if aux_losses:
            total += tf.add_n(aux_losses)
        return {"loss": total, "cls_loss": cls_loss, "box_loss": box_loss}


class FasterRcnnTask(DetectorTask):
    """`model.faster_rcnn`: the OD API's Faster R-CNN losses (`models/faster_rcnn_train.py`)."""

    loss_names = ("cls_loss", "box_loss", "rpn_score_loss", "rpn_box_loss", "frcnn_cls_loss", "frcnn_box_loss")

    def targets(self, options):
        """RPN objectness (1 / 0 / -1 ignored) and box targets over the network's grid anchors."""
        from components.trainer.models import faster_rcnn_train  # pylint: disable=import-outside-toplevel
        return faster_rcnn_train.rpn_targets(self.bundle.model, options.input_height, options.input_width,
                                             self.spec.rpn_minibatch_size, self.spec.rpn_positive_fraction)

    def losses(self, model, images, labels, aux_losses=None):
        """Both stages in training mode and the OD API's four weighted losses (+ regularisation)."""
        from components.trainer.models import faster_rcnn_train  # pylint: disable=import-outside-toplevel
        out = faster_rcnn_train.losses(model, self.spec, images, labels)
        if aux_losses:
            out["loss"] += tf.add_n(aux_losses)
        return out


def task_for(bundle: DetectorBundle) -> DetectorTask:
    """The DetectorTask of a built detector's meta-architecture."""
    return {"ssd": SsdTask, "faster_rcnn": FasterRcnnTask}[bundle.spec.meta_architecture](bundle)
