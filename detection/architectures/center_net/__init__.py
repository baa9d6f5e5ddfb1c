"""The CenterNet family (`model.center_net`): the OD API's CenterNet ("Objects as Points"), boxes and keypoints.

`network.py` builds it as the OD API does (`resnet_fpn.py`: the ResNet v1 FPN feature extractors,
`resnet_v2.py`: the ResNet v2 one, `mobilenet_fpn.py`: the MobileNetV2 FPN ones, `hourglass.py`: the
hourglasses, `preprocessing.py`: their
channel normalisation, `keypoints.py`: the keypoint tasks), `targets.py` holds its training targets and losses,
`task.py` the training task over them.
"""

from __future__ import annotations

from detection.architectures.base import Exports, ResizeThenNormalize
from schemas.field_rules import CENTER_NET_FEATURE_EXTRACTORS

_FEATURE_EXTRACTOR = {"_base_model": "backbone", "_resnet_model": "backbone", "_fpn_model": "backbone",
                      "_feature_extractor_model": "feature_maps", "_network": "backbone"}
_HEADS = {"object_center": "head_class", "box.Sscale": "head_box_scale", "box.Soffset": "head_box_offset"}
# A keypoint task's heads, `<task_name>/keypoint/<head>` (checkpoint names escape "/" as ".S").
_KEYPOINT_HEADS = {".Skeypoint.Sheatmap": "head_keypoint_heatmap", ".Skeypoint.Sregression": "head_keypoint_regression",
                   ".Skeypoint.Soffset": "head_keypoint_offset"}


class CenterNetArchitecture(ResizeThenNormalize):
    """`model.center_net`; see the package doc."""

    name = "center_net"
    feature_extractors = CENTER_NET_FEATURE_EXTRACTORS
    class_dependent_modules = frozenset({"head_class"})
    # The OD API's `detection` restore of a CenterNet takes its feature extractor only: every head is new.
    detection_modules = frozenset({"backbone", "feature_maps"})
    # Targets, losses, initial biases and the peaks kept: they change training or outputs, not what the
    # restored weights compute (the heads' convs do: their params are compared).
    network_free_fields = frozenset({
        "task_loss_weight", "offset_loss_weight", "scale_loss_weight", "localization_loss",
        "object_center_loss_weight", "classification_loss", "heatmap_bias_init", "min_box_overlap_iou",
        "max_box_predictions", "use_labeled_classes", "peak_max_pool_kernel_size", "compute_heatmap_sparse",
        "output_prediction_dict", "post_processing",
        # keypoint tasks: their label map, targets, losses and post-processing
        "keypoint_label_map_path", "keypoint_class_name", "loss", "keypoint_label_to_std",
        "keypoint_regression_loss_weight",
        "keypoint_heatmap_loss_weight", "keypoint_offset_loss_weight", "keypoint_candidate_score_threshold",
        "num_candidates_per_keypoint", "unmatched_keypoint_score", "box_scale", "candidate_search_scale",
        "candidate_ranking_mode", "score_distance_offset", "offset_peak_radius", "clip_out_of_frame_keypoints",
        "rescore_instances", "rescoring_threshold", "score_distance_multiplier", "std_dev_multiplier",
        "gaussian_denom_ratio"})
    exports = Exports(tflite=True)

    def build(self, pipeline_proto):
        from detection.architectures.center_net import network  # pylint: disable=import-outside-toplevel
        return network.build_center_net(pipeline_proto)

    def task(self, bundle):
        from detection.architectures.center_net.task import CenterNetTask  # pylint: disable=import-outside-toplevel
        return CenterNetTask(bundle)

    def module_of(self, parts):
        """`_feature_extractor/<its Keras models>/...` and `_prediction_head_dict/<head>/...`."""
        if parts[0] == "_feature_extractor" and len(parts) > 1 and parts[1] in _FEATURE_EXTRACTOR:
            return _FEATURE_EXTRACTOR[parts[1]]
        if parts[0] == "_prediction_head_dict" and len(parts) > 1:
            keypoint_head = next((m for suffix, m in _KEYPOINT_HEADS.items() if parts[1].endswith(suffix)), None)
            return keypoint_head or _HEADS.get(parts[1], "head_other")
        return None


ARCHITECTURE = CenterNetArchitecture()
