"""What differs between meta-architectures in training: input targets, forward pass and losses.

A `DetectorTask` gives the input pipeline its `targets` function (what each
example carries besides the image and the padded ground truth) and computes
the training-mode forward pass and the weighted losses. Everything else
(strategy, checkpoints, resume, TensorBoard, box counters, export) is the one
loop in train_loop.

- `SsdTask` (`model.ssd`, Model Garden RetinaNet): anchor targets from
  `AnchorLabeler`; focal + Huber losses normalised by the positives (+1), as
  Model Garden's tasks/retinanet.py computes them, with the config's
  gamma/alpha/delta and classification/localization weights.
- `FasterRcnnTask` (`model.faster_rcnn`, Model Garden MaskRCNNModel without
  masks): RPN targets from `RpnAnchorLabeler` over the builder's grid anchors
  (first_stage_minibatch_size anchors per image, first_stage_positive_balance_fraction
  positives), as Model Garden's maskrcnn_input parser makes them; the model
  samples ROIs from the ground truth itself (second_stage_batch_size,
  second_stage_balance_fraction); losses as Model Garden's tasks/maskrcnn.py
  (`RpnScoreLoss`, `RpnBoxLoss`, `FastrcnnClassLoss`, `FastrcnnBoxLoss`)
  weighted by first_stage_objectness/localization_loss_weight and
  second_stage_classification/localization_loss_weight.

`losses(...)` returns a dict with `loss` (the total that is minimised),
`cls_loss` and `box_loss` (classification and localization parts, weighted)
and, for Faster R-CNN, the four unweighted terms.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from components.trainer import inputs
from components.trainer.model_builder import ModelSpec
from official.vision.losses import focal_loss, loss_utils, maskrcnn_losses
from official.vision.ops import anchor as anchor_ops

# Model Garden's maskrcnn Losses defaults (configs/maskrcnn.py).
RPN_HUBER_DELTA = 1.0 / 9.0
FRCNN_HUBER_DELTA = 1.0


class DetectorTask:
    """Model-specific parts of training; see the module doc."""

    loss_names: tuple[str, ...] = ("cls_loss", "box_loss")

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    def targets(self, options: inputs.InputOptions) -> inputs.Targets:
        """Per-example training targets the input pipeline adds to the labels."""
        raise NotImplementedError

    def losses(self, model, images: tf.Tensor, labels: dict, aux_losses=None) -> dict[str, tf.Tensor]:
        """Training-mode forward pass of `model` on preprocessed `images` and its losses."""
        raise NotImplementedError


class SsdTask(DetectorTask):
    """`model.ssd` on Model Garden's RetinaNet."""

    def targets(self, options):
        """RetinaNet anchor targets (`inputs.anchor_targets`)."""
        return inputs.anchor_targets(options)

    def losses(self, model, images, labels, aux_losses=None):
        """Focal + Huber over anchor targets, normalised by the positives (+1), weighted by the config."""
        spec = self.spec
        outputs = model(images, training=True)
        cls_loss_fn = focal_loss.FocalLoss(alpha=spec.focal_alpha, gamma=spec.focal_gamma,
                                           reduction=tf_keras.losses.Reduction.SUM)
        box_loss_fn = tf_keras.losses.Huber(spec.huber_delta or 1.0, reduction=tf_keras.losses.Reduction.SUM)
        num_positives = tf.reduce_sum(labels["box_weights"]) + 1.0
        y_true_cls = tf.one_hot(loss_utils.multi_level_flatten(labels["cls_targets"], last_dim=None),
                                spec.mg_num_classes)
        y_pred_cls = loss_utils.multi_level_flatten(outputs["cls_outputs"], last_dim=spec.mg_num_classes)
        y_true_box = loss_utils.multi_level_flatten(labels["box_targets"], last_dim=4)
        y_pred_box = loss_utils.multi_level_flatten(outputs["box_outputs"], last_dim=4)
        cls_loss = cls_loss_fn(y_true=y_true_cls, y_pred=tf.cast(y_pred_cls, tf.float32),
                               sample_weight=labels["cls_weights"] / num_positives)
        box_loss = box_loss_fn(y_true=y_true_box, y_pred=tf.cast(y_pred_box, tf.float32),
                               sample_weight=labels["box_weights"] / num_positives)
        total = (spec.classification_weight or 1.0) * cls_loss + (spec.localization_weight or 1.0) * box_loss
        if aux_losses:
            total += tf.add_n(aux_losses)
        return {"loss": total, "cls_loss": cls_loss, "box_loss": box_loss}


class FasterRcnnTask(DetectorTask):
    """`model.faster_rcnn` on Model Garden's MaskRCNNModel (include_mask=False)."""

    loss_names = ("cls_loss", "box_loss", "rpn_score_loss", "rpn_box_loss", "frcnn_cls_loss", "frcnn_box_loss")

    def targets(self, options):
        """RPN score/box targets over the grid anchors, and the ground truth in pixels padded with -1."""
        spec = self.spec
        anchor_boxes = spec.anchor_boxes(options.input_height, options.input_width)
        labeler = anchor_ops.RpnAnchorLabeler(
            match_threshold=spec.matched_threshold, unmatched_threshold=spec.unmatched_threshold,
            rpn_batch_size_per_im=spec.rpn_minibatch_size, rpn_fg_fraction=spec.rpn_positive_fraction)
        max_boxes = options.max_number_of_boxes

        def targets(pixel_boxes, classes):
            score_targets, box_targets = labeler.label_anchors(
                anchor_boxes, pixel_boxes, tf.cast(tf.expand_dims(classes, 1), tf.float32))
            return {"rpn_score_targets": score_targets, "rpn_box_targets": box_targets,
                    "gt_boxes": tf.ensure_shape(inputs.pad_to(pixel_boxes, max_boxes, -1.0), [max_boxes, 4]),
                    "gt_classes": tf.ensure_shape(inputs.pad_to(classes, max_boxes, -1), [max_boxes])}
        return targets

    def losses(self, model, images, labels, aux_losses=None):
        """Model Garden's Faster R-CNN losses (tasks/maskrcnn.py build_losses), weighted by the config."""
        from components.trainer import faster_rcnn_builder  # pylint: disable=import-outside-toplevel
        spec = self.spec
        outputs = model(images, image_shape=labels["image_shape"],
                        anchor_boxes=faster_rcnn_builder.anchors_for_batch(spec, images),
                        gt_boxes=labels["gt_boxes"], gt_classes=labels["gt_classes"], training=True)
        out = {k: tf.cast(outputs[k], tf.float32) for k in ("class_outputs", "class_targets",
                                                             "box_outputs", "box_targets")}
        rpn_score = tf.reduce_mean(maskrcnn_losses.RpnScoreLoss(spec.rpn_minibatch_size)(
            outputs["rpn_scores"], labels["rpn_score_targets"]))
        rpn_box = tf.reduce_mean(maskrcnn_losses.RpnBoxLoss(RPN_HUBER_DELTA)(
            outputs["rpn_boxes"], labels["rpn_box_targets"]))
        frcnn_cls = tf.reduce_mean(maskrcnn_losses.FastrcnnClassLoss()(
            out["class_outputs"], out["class_targets"]))
        frcnn_box = tf.reduce_mean(maskrcnn_losses.FastrcnnBoxLoss(FRCNN_HUBER_DELTA, spec.class_agnostic_box)(
            out["box_outputs"], out["class_targets"], out["box_targets"]))
        cls_loss = spec.rpn_objectness_weight * rpn_score + spec.classification_weight * frcnn_cls
        box_loss = spec.rpn_localization_weight * rpn_box + spec.localization_weight * frcnn_box
        total = cls_loss + box_loss
        if aux_losses:
            total += tf.add_n(aux_losses)
        return {"loss": total, "cls_loss": cls_loss, "box_loss": box_loss, "rpn_score_loss": rpn_score,
                "rpn_box_loss": rpn_box, "frcnn_cls_loss": frcnn_cls, "frcnn_box_loss": frcnn_box}


def task_for(spec: ModelSpec) -> DetectorTask:
    """The DetectorTask of a built detector's meta-architecture."""
    return {"ssd": SsdTask, "faster_rcnn": FasterRcnnTask}[spec.meta_architecture](spec)
