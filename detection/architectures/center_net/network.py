"""`model.center_net` → the OD API's CenterNet (`center_net_meta_arch.CenterNetMetaArch`), boxes task.

`CenterNetDetector` computes what the OD API's meta-architecture computes, with its variables under
the OD API's object paths, so a TF2 Detection Zoo `checkpoint/ckpt-0` restores by name:

- `_feature_extractor`: the config's feature extractor (`resnet_fpn.py`), `num_feature_outputs` maps
  at `out_stride`;
- `_prediction_head_dict`: per head (`object_center`: num_classes channels, its last bias
  `heatmap_bias_init`; `box/scale` and `box/offset`: 2 channels) one net per feature map, each
  `make_prediction_net`: per (kernel size, filters) of the head's params (default one 3x3 conv of
  256) a conv (separable with use_depthwise) and ReLU, then a 1x1 conv;
- `postprocess`: the sigmoid of the last center heatmap, zeroed where the feature-map row / column
  index is not below the true image height / width in input pixels (the OD API's own comparison),
  peaks that equal their `peak_max_pool_kernel_size` max-pool neighbourhood, the top
  `max_box_predictions` over all classes, and at each the box `(y + dy, x + dx) ± (h, w) / 2` from the
  offset and scale heads, clipped to the feature map, scaled by the stride and normalised by the true
  image shape. Classes are 0-based. With `post_processing`, the OD API's multiclass NMS then runs over
  those boxes, each scored for its own class only, its clip window the batch's extent (the OD API's when
  none is given), so boxes of zero area are dropped.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tf_keras

from detection.architectures.center_net import keypoints as kp_lib
from detection.architectures.center_net.heads import HeadParams, make_prediction_net
from detection.architectures.center_net.peaks import top_k_feature_map_locations
from detection.networks import postprocess as post_lib
from detection.networks.dtypes import float32_outputs
from detection.networks.spec import DetectorBundle, ModelSpec, config_problem, input_size

OBJECT_CENTER = "object_center"
BOX_SCALE = "box/scale"
BOX_OFFSET = "box/offset"


@dataclasses.dataclass(frozen=True)
class CenterNetSettings:
    """The settings of `model.center_net` the network computes with, beside its layers."""

    num_classes: int
    max_box_predictions: int = 100
    peak_max_pool_kernel_size: int = 3
    nms: post_lib.PostProcessing | None = None     # `post_processing`: NMS over the peaks' boxes, when set
    keypoint_tasks: tuple[kp_lib.KeypointTask, ...] = ()


def prediction_tensors_to_boxes(y_indices, x_indices, height_width, offsets) -> tf.Tensor:
    """Boxes [B, N, 4] in feature-map cells from the scale and offset maps at the peaks (the OD API's)."""
    height, width = (tf.cast(d, tf.float32) for d in height_width.shape[1:3])
    at = tf.stack([y_indices, x_indices], axis=-1)
    sizes = tf.maximum(tf.gather_nd(height_width, at, batch_dims=1), 0.0)
    shift = tf.gather_nd(offsets, at, batch_dims=1)
    y = tf.cast(y_indices, tf.float32) + shift[..., 0]
    x = tf.cast(x_indices, tf.float32) + shift[..., 1]
    h, w = sizes[..., 0], sizes[..., 1]
    return tf.stack([tf.clip_by_value(y - h / 2.0, 0.0, height), tf.clip_by_value(x - w / 2.0, 0.0, width),
                     tf.clip_by_value(y + h / 2.0, 0.0, height), tf.clip_by_value(x + w / 2.0, 0.0, width)], axis=2)


def mask_from_true_image_shape(height: int, width: int, true_image_shapes: tf.Tensor) -> tf.Tensor:
    """[B, height, width, 1]: 1 where the row / column index is below the true height / width (OD API's)."""
    rows = tf.cast(tf.range(height)[None, :] < true_image_shapes[:, 0:1], tf.float32)
    cols = tf.cast(tf.range(width)[None, :] < true_image_shapes[:, 1:2], tf.float32)
    return (rows[:, :, None] * cols[:, None, :])[..., None]


class CenterNetDetector(tf_keras.Model):
    """The OD API's CenterNet at inference, boxes task (see the module doc)."""

    architecture = "center_net"      # its plug-in in detection.architectures.registry

    def __init__(self, feature_extractor: tf_keras.Model, heads: dict[str, list[tf_keras.Model]],
                 settings: CenterNetSettings, name="center_net"):
        super().__init__(name=name)
        self._feature_extractor = feature_extractor
        self._prediction_head_dict = heads
        self.num_classes = settings.num_classes
        self.settings = settings
        self.stride = feature_extractor.out_stride

    @property
    def backbone(self) -> tf_keras.Model:
        """The feature extractor's classification network (what a frozen-backbone fine-tune keeps; its FPN trains)."""
        return self._feature_extractor.classification_backbone

    @property
    def classification_backbone(self) -> tf_keras.Model:
        """The feature extractor's classification network."""
        return self._feature_extractor.classification_backbone

    def preprocess(self, resized_images: tf.Tensor) -> tf.Tensor:
        """Resized float 0..255 images → network input (the feature extractor's normalisation)."""
        return self._feature_extractor.preprocess(resized_images)

    def call(self, preprocessed, training=None):  # pylint: disable=arguments-differ
        """Network input → {head name: [per feature map output], 'extracted_features': [...]} (OD API's predict)."""
        features = self._feature_extractor(preprocessed, training=training)
        predictions = {name: [head(feature, training=training) for feature, head in zip(features, heads)]
                       for name, heads in self._prediction_head_dict.items()}
        # The predictions float32 whatever the policy the network computes in (training/precision.py).
        predictions = {name: list(float32_outputs(dict(enumerate(outputs))).values())
                       for name, outputs in predictions.items()}
        predictions["extracted_features"] = features
        return predictions

    def postprocess(self, predictions: dict, true_image_shapes: tf.Tensor) -> dict[str, tf.Tensor]:
        """Predictions → OD API detections: boxes normalised to the true image, classes 0-based."""
        centers = tf.nn.sigmoid(predictions[OBJECT_CENTER][-1])
        height, width = centers.shape[1], centers.shape[2]
        centers *= mask_from_true_image_shape(height, width, true_image_shapes)
        s = self.settings
        scores, ys, xs, classes = top_k_feature_map_locations(centers, s.peak_max_pool_kernel_size,
                                                              s.max_box_predictions)
        multiclass = tf.gather_nd(centers, tf.stack([ys, xs], -1), batch_dims=1)
        strided = prediction_tensors_to_boxes(ys, xs, predictions[BOX_SCALE][-1], predictions[BOX_OFFSET][-1])
        true_hw = tf.cast(tf.tile(true_image_shapes[:, None, :2], [1, 1, 2]), tf.float32)
        boxes = tf.clip_by_value(strided * float(self.stride) / true_hw, 0.0, 1.0)
        num = tf.reduce_sum(tf.cast(scores > 0, tf.int32), axis=1)
        if s.nms is not None:
            own_class = tf.cast(tf.one_hot(classes, self.num_classes), tf.bool)
            # The OD API's NMS without a clip window takes the batch's extent as one: boxes of zero area after
            # clipping to it (a scale head's 0 height or width) are dropped.
            window = tf.stack([tf.reduce_min(boxes[..., 0]), tf.reduce_min(boxes[..., 1]),
                               tf.reduce_max(boxes[..., 2]), tf.reduce_max(boxes[..., 3])])
            return post_lib.od_batch_non_max_suppression(
                boxes, tf.where(own_class, multiclass, tf.zeros_like(multiclass)), s.nms,
                tf.tile(window[None], [tf.shape(boxes)[0], 1]), num)
        detections = {"detection_boxes": boxes, "detection_scores": scores, "detection_classes": classes,
                      "detection_multiclass_scores": multiclass, "num_detections": num,
                      "detection_boxes_strided": strided}
        if s.keypoint_tasks:
            detections.update(self._keypoints(predictions, detections, ys, xs, true_image_shapes))
        return detections

    def _keypoints(self, predictions, detections, ys, xs, true_image_shapes) -> dict[str, tf.Tensor]:
        """The keypoint tasks' detection_keypoints [B, N, K, 2] (normalised y, x), their scores [B, N, K] and the
        detection scores rescored by them (`rescore_instances`), as the OD API's postprocess adds them."""
        tasks = self.settings.keypoint_tasks
        classes = detections["detection_classes"]
        keypoints, scores = kp_lib.postprocess_keypoints(predictions, tasks, self.num_classes, classes, ys, xs,
                                                         detections["detection_boxes_strided"],
                                                         detections["num_detections"])
        # The OD API clips only when every task asks it to.
        clip = all(t.post.clip_out_of_frame_keypoints for t in tasks)
        keypoints, scores = kp_lib.normalized_keypoints(keypoints, scores, self.stride, true_image_shapes, clip)
        return {"detection_keypoints": keypoints, "detection_keypoint_scores": scores,
                "detection_scores": kp_lib.rescore_instances(tasks, classes, detections["detection_scores"], scores)}

    def detect(self, preprocessed, true_image_shapes=None) -> dict[str, tf.Tensor]:
        """Inference: `postprocess(call(...))`; true image shapes default to the whole input."""
        if true_image_shapes is None:
            shape = preprocessed.shape.as_list()
            true_image_shapes = tf.tile(tf.constant([[shape[1], shape[2], 3]], tf.int32),
                                        [tf.shape(preprocessed)[0], 1])
        return self.postprocess(self(preprocessed, training=False), true_image_shapes)


C = "model.center_net"


def _feature_extractor(center_net):
    # pylint: disable=import-outside-toplevel
    from detection.architectures.center_net import hourglass, mobilenet_fpn, resnet_fpn, resnet_v2
    from detection.architectures.center_net.preprocessing import ChannelNormalization
    fe = center_net.feature_extractor
    normalization = ChannelNormalization.from_proto(fe)
    if fe.type in resnet_fpn.TYPES:
        return resnet_fpn.CenterNetResnetV1FpnFeatureExtractor(resnet_fpn.TYPES[fe.type], normalization)
    if fe.type in resnet_v2.TYPES:
        return resnet_v2.CenterNetResnetFeatureExtractor(fe.type, normalization)
    if fe.type in mobilenet_fpn.TYPES:
        # The OD API's builder passes use_separable_conv only when the field is set (then `_sep_conv` forces it
        # on): `mobilenet_v2_fpn_sep_conv` alone, as the zoo's configs have it, builds regular convs.
        separable = fe.HasField("use_separable_conv") and (fe.use_separable_conv
                                                           or fe.type == "mobilenet_v2_fpn_sep_conv")
        return mobilenet_fpn.CenterNetMobileNetV2FpnFeatureExtractor(normalization, fe.depth_multiplier, separable,
                                                                     fe.upsampling_interpolation)
    if fe.type in hourglass.SHAPES:
        return hourglass.CenterNetHourglassFeatureExtractor(fe.type, normalization)
    raise config_problem(f"{C}.feature_extractor.type", f"{fe.type!r} is not supported (supported: "
                         f"{', '.join([*resnet_fpn.TYPES, *resnet_v2.TYPES, *mobilenet_fpn.TYPES, *hourglass.TYPES])})")


def keypoint_tasks(center_net) -> tuple[kp_lib.KeypointTask, ...]:
    """The config's keypoint tasks, their classes and keypoints from `keypoint_label_map_path` (read as given,
    as the OD API's builder reads it)."""
    if not center_net.keypoint_estimation_task:
        return ()
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel
    path = center_net.keypoint_label_map_path
    if not path:
        raise config_problem(f"{C}.keypoint_label_map_path", "is required with a keypoint_estimation_task: the label "
                             "map whose item `keypoint_class_name` declares the keypoints (`keypoints { id label }`)")
    label_map = load_label_map(path)
    tasks = []
    for i, task in enumerate(center_net.keypoint_estimation_task):
        try:
            tasks.append(kp_lib.task_from_proto(task, label_map, center_net.num_classes,
                                                f"{C}.keypoint_estimation_task[{i}]"))
        except kp_lib.KeypointConfigError as e:
            raise config_problem(e.field, e.message) from None
    _check_task_overlap(tasks, label_map.path)
    return tuple(tasks)


def _check_task_overlap(tasks: list, label_map_path: str) -> None:
    """The OD API's rules across tasks: one task per class, each keypoint id in one task; and (the columns of the
    keypoint outputs) the ids are 0..total-1."""
    classes = [t.class_id for t in tasks]
    if len(set(classes)) < len(classes):
        raise config_problem(f"{C}.keypoint_estimation_task", "two tasks have the same keypoint_class_name: one "
                             "task per class")
    ids = [i for t in tasks for i in t.keypoint_indices]
    if len(set(ids)) < len(ids):
        raise config_problem(f"{C}.keypoint_estimation_task", f"two tasks share keypoint ids in {label_map_path}: "
                             "each keypoint id belongs to one task")
    if sorted(ids) != list(range(len(ids))):
        raise config_problem(f"{C}.keypoint_estimation_task", f"the tasks' keypoint ids in {label_map_path} are "
                             f"{sorted(ids)}; they must be 0..{len(ids) - 1}, one column each in the outputs")


def build_network(center_net) -> CenterNetDetector:
    """The OD API's CenterNet of a `model.center_net` message, variables created (not wrapped in a bundle)."""
    if not center_net.HasField("object_detection_task"):
        raise config_problem(f"{C}.object_detection_task", "is required: detflow's CenterNet detects boxes")
    extractor = _feature_extractor(center_net)
    od, oc = center_net.object_detection_task, center_net.object_center_params
    center = HeadParams.from_proto(oc.HasField("center_head_params"), oc.center_head_params)
    scale = HeadParams.from_proto(od.HasField("scale_head_params"), od.scale_head_params)
    offset = HeadParams.from_proto(od.HasField("offset_head_params"), od.offset_head_params)
    for field, params in ((f"{C}.object_center_params.center_head_params", center),
                          (f"{C}.object_detection_task.scale_head_params", scale),
                          (f"{C}.object_detection_task.offset_head_params", offset)):
        if len(params.kernel_sizes) != len(params.num_filters):
            raise config_problem(field, f"has {len(params.kernel_sizes)} kernel_sizes and {len(params.num_filters)} "
                                 "num_filters: one of each per conv")

    def heads(out_channels, params, bias_fill=None):
        return [make_prediction_net(out_channels, params.kernel_sizes, params.num_filters, bias_fill,
                                    center_net.use_depthwise) for _ in range(extractor.num_feature_outputs)]
    head_dict = {OBJECT_CENTER: heads(center_net.num_classes, center, oc.heatmap_bias_init),
                 BOX_SCALE: heads(2, scale), BOX_OFFSET: heads(2, offset)}
    tasks = keypoint_tasks(center_net)
    for task in tasks:
        for name, (channels, params, bias_fill) in task.head_channels().items():
            head_dict[name] = heads(channels, params, bias_fill)
    nms = (post_lib.PostProcessing.from_proto(center_net.post_processing)
           if center_net.HasField("post_processing") else None)
    settings = CenterNetSettings(num_classes=center_net.num_classes, max_box_predictions=oc.max_box_predictions,
                                 peak_max_pool_kernel_size=oc.peak_max_pool_kernel_size, nms=nms,
                                 keypoint_tasks=tasks)
    model = CenterNetDetector(extractor, head_dict, settings)
    size = input_size(center_net, C)
    model.detect(tf.zeros([1, size.height, size.width, 3]))              # creates every variable
    return model


def _check_keypoints_in_data(tasks, num_keypoints: int) -> None:
    """A task's keypoint ids index the records' keypoints: each below train_input_reader.num_keypoints (when set:
    a config that only detects has no reader)."""
    highest = max((i for t in tasks for i in t.keypoint_indices), default=-1)
    if num_keypoints and highest >= num_keypoints:
        raise config_problem("train_input_reader.num_keypoints", f"is {num_keypoints}, but the keypoint tasks use "
                             f"keypoint id {highest} (ids index each object's keypoints in the records)")


def build_center_net(pipeline_proto) -> DetectorBundle:
    """The DetectorBundle of `pipeline_proto.model.center_net` (see the module doc)."""
    from detection.architectures.center_net.spec import CenterNetTraining  # pylint: disable=import-outside-toplevel
    center_net = pipeline_proto.model.center_net
    size = input_size(center_net, C)
    model = build_network(center_net)
    od, oc = center_net.object_detection_task, center_net.object_center_params
    focal = oc.classification_loss.penalty_reduced_logistic_focal_loss
    training = CenterNetTraining(
        stride=model.stride, min_box_overlap_iou=oc.min_box_overlap_iou,
        object_center_loss_weight=oc.object_center_loss_weight, focal_alpha=focal.alpha, focal_beta=focal.beta,
        task_loss_weight=od.task_loss_weight, scale_loss_weight=od.scale_loss_weight,
        offset_loss_weight=od.offset_loss_weight, keypoint_tasks=model.settings.keypoint_tasks)
    _check_keypoints_in_data(model.settings.keypoint_tasks, pipeline_proto.train_input_reader.num_keypoints)
    spec = ModelSpec(
        meta_architecture="center_net", feature_extractor=center_net.feature_extractor.type, input=size,
        num_classes=center_net.num_classes, mg_num_classes=center_net.num_classes, anchors=None,
        score_threshold=0.0, iou_threshold=1.0, max_detections=oc.max_box_predictions,
        freeze_batchnorm=False, training=training)
    return DetectorBundle(model=model, spec=spec, model_config=center_net)
