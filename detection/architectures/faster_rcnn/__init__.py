"""The Faster R-CNN family (`model.faster_rcnn`): the OD API's Faster R-CNN with ResNet v1 50/101.

`network.py` builds it as the OD API does (`resnet.py`: the feature extractor, `crops.py`: ROI crops),
`losses.py` holds the targets and losses of both stages, `task.py` the training task over them.
"""

from __future__ import annotations

from detection.architectures.base import Exports, ResizeThenNormalize
from schemas.field_rules import FASTER_RCNN_FEATURE_EXTRACTORS

# The OD API's Faster R-CNN attributes (their zoo checkpoints' keys) → report module.
_MODULES = {"_feature_extractor_for_proposal_features": "backbone",
            "_feature_extractor_for_box_classifier_features": "box_classifier_features",
            "_first_stage_box_predictor_first_conv": "rpn_head",
            "_first_stage_box_predictor": "rpn_head"}
_SECOND_STAGE_HEADS = {"_class_prediction_head": "detection_head_class",
                       "_box_prediction_head": "detection_head_box"}


class FasterRcnnArchitecture(ResizeThenNormalize):
    """`model.faster_rcnn`; see the package doc."""

    name = "faster_rcnn"
    feature_extractors = FASTER_RCNN_FEATURE_EXTRACTORS
    class_dependent_modules = frozenset({"detection_head_class", "detection_head_box"})
    # Proposals and their NMS, training samples and losses, post-processing, implementation switches:
    # they change training or outputs, not what restored weights compute.
    network_free_fields = frozenset({
        "first_stage_nms_score_threshold", "first_stage_nms_iou_threshold", "first_stage_max_proposals",
        "first_stage_minibatch_size", "first_stage_positive_balance_fraction",
        "first_stage_localization_loss_weight", "first_stage_objectness_loss_weight", "second_stage_batch_size",
        "second_stage_balance_fraction", "second_stage_post_processing", "second_stage_localization_loss_weight",
        "second_stage_classification_loss_weight", "second_stage_mask_prediction_loss_weight",
        "second_stage_classification_loss", "hard_example_miner", "batch_norm_trainable", "clip_anchors_to_image",
        "use_static_shapes", "use_static_shapes_for_eval", "use_matmul_crop_and_resize",
        "use_static_balanced_label_sampler", "use_matmul_gather_in_matcher", "use_partitioned_nms_in_first_stage",
        "resize_masks", "output_final_box_features", "output_final_box_rpn_features"})
    exports = Exports(tflite=False, tflite_refusal="TFLite export is for SSD and CenterNet models (as the OD API's "
                      "TFLite exporter)")

    def build(self, pipeline_proto):
        from detection.architectures.faster_rcnn import network  # pylint: disable=import-outside-toplevel
        return network.build_faster_rcnn(pipeline_proto)

    def task(self, bundle):
        from detection.architectures.faster_rcnn.task import FasterRcnnTask  # pylint: disable=import-outside-toplevel
        return FasterRcnnTask(bundle)

    def module_of(self, parts):
        """The OD API's attributes: proposal/box-classifier features, RPN head, second-stage heads."""
        if parts[0] in _MODULES:
            return _MODULES[parts[0]]
        if parts[0] == "_mask_rcnn_box_predictor" and len(parts) > 1:
            return _SECOND_STAGE_HEADS.get(parts[1], "detection_head_tower")
        return None


ARCHITECTURE = FasterRcnnArchitecture()
