"""`model.faster_rcnn` → the OD API's two-stage Faster R-CNN (`faster_rcnn_meta_arch`, Keras, inference).

`FasterRcnnDetector` computes what the OD API's meta-architecture computes with
`is_training=False`, with its variables under the OD API's object paths, so a
TF2 Detection Zoo `checkpoint/ckpt-0` restores by name:

- `_feature_extractor_for_proposal_features`: ResNet v1 up to conv4
  (`faster_rcnn_resnet.py`), stride 16;
- `_first_stage_box_predictor_first_conv`: the RPN conv (`RPNConv`,
  first_stage_box_predictor_kernel_size / depth / atrous rate, the config's
  first_stage_box_predictor_conv_hyperparams: bias, batch norm only if set),
  then ReLU6;
- `_first_stage_box_predictor`: 1x1 box (4 per anchor) and objectness (2 per
  anchor: background, object; softmax) convs (`ConvolutionalBoxPredictor`);
- grid anchors (`first_stage_anchor_generator.grid_anchor_generator`) in
  pixels on cell corners (anchor offset 0), clipped to the input;
- proposals: decoded with the Faster R-CNN box coder (10, 10, 5, 5), NMS at
  first_stage_nms_iou_threshold / score threshold keeping
  first_stage_max_proposals inside the true (unpadded) image;
- crops of the conv4 map at the proposals, initial_crop_size square
  (`crops.py`: the OD API's matmul version with use_matmul_crop_and_resize,
  else `tf.image.crop_and_resize`), max-pooled with
  maxpool_kernel_size / maxpool_stride, then
  `_feature_extractor_for_box_classifier_features` (ResNet conv5) per crop;
- `_mask_rcnn_box_predictor`: spatial mean, then dense layers to
  num_classes + 1 class logits and 4 (share_box_across_classes) or
  4 * num_classes box encodings;
- `postprocess`: the second stage's score converter, per-class NMS over the
  valid proposals (second_stage_post_processing), boxes clipped to the true
  image and normalised to it, classes 0-based.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tf_keras

from detection.architectures.faster_rcnn import crops as crop_lib
from detection.architectures.faster_rcnn.resnet import DEPTHS, FasterRcnnResNetFeatureExtractor
from detection.networks import anchors as anchor_lib
from detection.networks import postprocess as post_lib
from detection.networks.box_predictors import BOX_ENCODINGS, CLASS_PREDICTIONS, ConvolutionalBoxPredictor, HeadOptions
from detection.networks.dtypes import float32_outputs
from detection.networks.hyperparams import LayerHyperparams
from detection.architectures.faster_rcnn.spec import FasterRcnnTraining
from detection.networks.spec import (AnchorSpec, DetectorBundle, ModelSpec, config_problem, freeze_batchnorm,
                                     input_size)

BOX_CODER_SCALES = (10.0, 10.0, 5.0, 5.0)     # the OD API's Faster R-CNN target assigners


class _Prediction(tf_keras.Model):
    """One second-stage head: spatial mean, Flatten, (Dropout), Dense, batch norm or identity."""

    def __init__(self, attribute: str, outputs: int, dense_name: str, fc: LayerHyperparams,
                 use_dropout: bool, keep_probability: float, name: str):
        super().__init__(name=name)
        layers = [tf_keras.layers.Flatten()]
        if use_dropout:
            layers.append(tf_keras.layers.Dropout(rate=1.0 - keep_probability))
        # The OD API's heads build a plain Dense: fc_hyperparams' initializer and regularizer are not used.
        layers += [tf_keras.layers.Dense(outputs, name=dense_name), fc.build_batch_norm(name=dense_name.replace(
            "_dense", "_batchnorm"))]
        setattr(self, attribute, layers)
        self._attribute = attribute

    def call(self, features, training=None):  # pylint: disable=arguments-differ
        out = tf.reduce_mean(features, [1, 2], keepdims=True)
        for layer in getattr(self, self._attribute):
            out = layer(out, training=training) if isinstance(
                layer, (tf_keras.layers.Dropout, tf_keras.layers.BatchNormalization)) else layer(out)
        return out


class MaskRcnnBoxPredictor(tf_keras.Model):
    """The OD API's `MaskRCNNKerasBoxPredictor` without masks: class logits and box encodings per proposal."""

    def __init__(self, num_classes: int, fc: LayerHyperparams, share_box_across_classes: bool,
                 use_dropout: bool = False, keep_probability: float = 0.5, name="mask_rcnn_keras_box_predictor"):
        super().__init__(name=name)
        self.num_boxes = 1 if share_box_across_classes else num_classes
        self._box_prediction_head = _Prediction("_box_encoder_layers", self.num_boxes * 4,
                                                "BoxEncodingPredictor_dense", fc, use_dropout, keep_probability,
                                                name="mask_rcnn_box_head")
        self._class_prediction_head = _Prediction("_class_predictor_layers", num_classes + 1, "ClassPredictor_dense",
                                                  fc, use_dropout, keep_probability, name="mask_rcnn_class_head")

    def call(self, features, training=None):  # pylint: disable=arguments-differ
        """[K, h, w, C] → {box_encodings: [K, num_boxes, 4], class_predictions_with_background: [K, C + 1]}."""
        boxes = self._box_prediction_head(features, training=training)
        return {BOX_ENCODINGS: tf.reshape(boxes, [-1, self.num_boxes, 4]),
                CLASS_PREDICTIONS: self._class_prediction_head(features, training=training)}


@dataclasses.dataclass(frozen=True)
class FasterRcnnSettings:
    """The settings of `model.faster_rcnn` the network computes with, beside its layers."""

    num_classes: int
    grid_anchors: dict                   # scales, aspect_ratios, base_size, stride, offset
    first_stage: post_lib.PostProcessing     # the proposals' NMS
    second_stage: post_lib.PostProcessing    # the detections' NMS and score converter
    initial_crop_size: int = 14
    maxpool_kernel_size: int = 2
    maxpool_stride: int = 2
    matmul_crops: bool = False


class FasterRcnnDetector(tf_keras.Model):
    """The OD API's Faster R-CNN at inference (see the module doc)."""

    architecture = "faster_rcnn"      # its plug-in in detection.architectures.registry

    def __init__(self, feature_extractor: FasterRcnnResNetFeatureExtractor, rpn_conv: tf_keras.Model,
                 rpn_predictor: ConvolutionalBoxPredictor, box_predictor: MaskRcnnBoxPredictor,
                 settings: FasterRcnnSettings, name="faster_rcnn"):
        super().__init__(name=name)
        self._extractor = feature_extractor            # a plain object: its full backbone stays untracked
        self._feature_extractor_for_proposal_features = feature_extractor.proposal_features
        self._feature_extractor_for_box_classifier_features = feature_extractor.box_classifier_features
        self._first_stage_box_predictor_first_conv = rpn_conv
        self._first_stage_box_predictor = rpn_predictor
        self._mask_rcnn_box_predictor = box_predictor
        self.num_classes = settings.num_classes
        self.grid_anchors = dict(settings.grid_anchors)
        self.first_stage, self.second_stage = settings.first_stage, settings.second_stage
        self.initial_crop_size = settings.initial_crop_size
        self.matmul_crops = settings.matmul_crops
        kernel = settings.maxpool_kernel_size
        self._maxpool = (tf_keras.layers.MaxPooling2D([kernel] * 2, strides=settings.maxpool_stride,
                                                      name="MaxPool2D") if kernel else None)

    @property
    def backbone(self) -> tf_keras.Model:
        """The first-stage feature extractor, ResNet v1 conv1..conv4 (what a frozen-backbone fine-tune keeps)."""
        return self._feature_extractor_for_proposal_features

    @property
    def classification_backbone(self) -> tf_keras.Model:
        """The whole ResNet v1 (conv1..conv5): both halves share its layers."""
        return self._extractor.classification_backbone

    @property
    def box_outputs(self) -> int:
        """Refined boxes per proposal: 1 with share_box_across_classes, else num_classes."""
        return self._mask_rcnn_box_predictor.num_boxes

    def preprocess(self, resized_images: tf.Tensor) -> tf.Tensor:
        """Resized float 0..255 images → network input (VGG means subtracted)."""
        return self._extractor.preprocess(resized_images)

    def anchors_for(self, grid_height: int, grid_width: int, image_height: int, image_width: int) -> tf.Tensor:
        """Grid anchors [grid_h * grid_w * A, 4] in pixels, clipped to the input image (the OD API's order)."""
        g = self.grid_anchors
        boxes = anchor_lib.grid_anchors(grid_height, grid_width, g["scales"], g["aspect_ratios"], g["base_size"],
                                        g["stride"], g["offset"])
        return tf.clip_by_value(tf.constant(boxes), 0.0,
                                tf.constant([image_height, image_width] * 2, tf.float32))

    def first_stage_outputs(self, preprocessed, training=None) -> dict[str, tf.Tensor]:
        """Network input → conv4 features, RPN box encodings [B, N, 4] and objectness logits [B, N, 2]."""
        features = self._feature_extractor_for_proposal_features(preprocessed, training=training)
        rpn_features = self._first_stage_box_predictor_first_conv(features, training=training)
        rpn = self._first_stage_box_predictor([rpn_features], training=training)
        # The predictions float32 whatever the policy the network computes in (training/precision.py).
        rpn = float32_outputs(rpn)
        return {"rpn_features_to_crop": features, "rpn_box_predictor_features": rpn_features,
                "rpn_box_encodings": rpn[BOX_ENCODINGS],
                "rpn_objectness_predictions_with_background": rpn[CLASS_PREDICTIONS]}

    def proposals(self, rpn_box_encodings, rpn_objectness, anchors, true_image_shapes) -> dict[str, tf.Tensor]:
        """Decoded, NMS'd proposals in pixels [B, P, 4], their objectness scores [B, P] and counts [B]."""
        boxes = post_lib.decode_boxes(rpn_box_encodings, anchors, BOX_CODER_SCALES)
        scores = tf.nn.softmax(rpn_objectness)[:, :, 1:2]
        heights, widths = (tf.cast(true_image_shapes[:, i], tf.float32) for i in (0, 1))
        window = tf.stack([tf.zeros_like(heights), tf.zeros_like(heights), heights, widths], axis=1)
        nms = post_lib.od_batch_non_max_suppression(boxes, scores, self.first_stage, window)
        return {"proposal_boxes": nms["detection_boxes"], "proposal_scores": nms["detection_scores"],
                "num_proposals": nms["num_detections"]}

    def box_classifier(self, features, proposal_boxes_normalized, training=None) -> dict[str, tf.Tensor]:
        """Crops of the conv4 map at the proposals → conv5 features and second-stage predictions."""
        crop = crop_lib.matmul_crop_and_resize if self.matmul_crops else crop_lib.native_crop_and_resize
        crops = crop(features, proposal_boxes_normalized, self.initial_crop_size)
        if self._maxpool is not None:
            crops = self._maxpool(crops)
        box_features = self._feature_extractor_for_box_classifier_features(crops, training=training)
        predictions = self._mask_rcnn_box_predictor(box_features, training=training)
        predictions = float32_outputs(predictions)
        return {"box_classifier_features": box_features,
                "refined_box_encodings": predictions[BOX_ENCODINGS],
                "class_predictions_with_background": predictions[CLASS_PREDICTIONS]}

    def call(self, preprocessed, true_image_shapes=None, training=None):  # pylint: disable=arguments-differ
        """Network input [B, H, W, 3] (+ true image shapes [B, >=2], default the input) → both stages' outputs.

        Keys as the OD API's `predict`: rpn_box_encodings, rpn_objectness_predictions_with_background,
        anchors (pixels), proposal_boxes (pixels), proposal_boxes_normalized, proposal_scores,
        num_proposals, refined_box_encodings [B * P, num_boxes, 4], class_predictions_with_background
        [B * P, num_classes + 1], box_classifier_features, rpn_features_to_crop, image_shape.
        """
        shape = preprocessed.shape.as_list()
        height, width = shape[1], shape[2]
        if true_image_shapes is None:
            true_image_shapes = tf.tile(tf.constant([[height, width, 3]], tf.int32), [tf.shape(preprocessed)[0], 1])
        out = self.first_stage_outputs(preprocessed, training=training)
        grid = out["rpn_features_to_crop"].shape.as_list()
        anchors = self.anchors_for(grid[1], grid[2], height, width)
        out.update(self.proposals(out["rpn_box_encodings"], out["rpn_objectness_predictions_with_background"],
                                  anchors, true_image_shapes))
        normalized = out["proposal_boxes"] / tf.constant([height, width] * 2, tf.float32)
        out.update(self.box_classifier(out["rpn_features_to_crop"], normalized, training=training))
        out.update({"anchors": anchors, "proposal_boxes_normalized": normalized,
                    "image_shape": tf.constant([height, width], tf.float32),
                    "true_image_shapes": true_image_shapes})
        return out

    def postprocess(self, predictions: dict) -> dict[str, tf.Tensor]:
        """Both stages' outputs → OD API detections: boxes normalised to the true image, classes 0-based."""
        proposals = predictions["proposal_boxes"]
        per_image = proposals.shape[1]
        codes = tf.reshape(predictions["refined_box_encodings"], [-1, per_image, self.box_outputs, 4])
        boxes = post_lib.decode_boxes(codes, proposals[:, :, None, :], BOX_CODER_SCALES)
        logits = tf.reshape(predictions[CLASS_PREDICTIONS], [-1, per_image, self.num_classes + 1])
        scores = post_lib.score_converter(logits, self.second_stage.score_converter,
                                          self.second_stage.logit_scale)[:, :, 1:]
        shapes = predictions["true_image_shapes"]
        heights, widths = (tf.cast(shapes[:, i], tf.float32) for i in (0, 1))
        window = tf.stack([tf.zeros_like(heights), tf.zeros_like(heights), heights, widths], axis=1)
        return post_lib.od_batch_non_max_suppression(boxes, scores, self.second_stage, window,
                                                  num_valid_boxes=predictions["num_proposals"])

    def detect(self, preprocessed, true_image_shapes=None) -> dict[str, tf.Tensor]:
        """Inference: `postprocess(call(...))`."""
        return self.postprocess(self(preprocessed, true_image_shapes, training=False))


F = "model.faster_rcnn"


def _grid_anchor_settings(frcnn) -> dict:
    ag = frcnn.first_stage_anchor_generator
    if ag.WhichOneof("anchor_generator_oneof") != "grid_anchor_generator":
        raise config_problem(f"{F}.first_stage_anchor_generator", "only grid_anchor_generator is supported")
    g = ag.grid_anchor_generator
    return {"scales": tuple(g.scales) or (0.5, 1.0, 2.0), "aspect_ratios": tuple(g.aspect_ratios) or (0.5, 1.0, 2.0),
            "base_size": (float(g.height), float(g.width)), "stride": (float(g.height_stride), float(g.width_stride)),
            "offset": (float(g.height_offset), float(g.width_offset))}


def build_network(frcnn) -> FasterRcnnDetector:
    """The OD API's Faster R-CNN of a `model.faster_rcnn` message, variables created (not wrapped in a bundle)."""
    fe = frcnn.feature_extractor
    if fe.type not in DEPTHS:
        raise config_problem(f"{F}.feature_extractor.type",
                             f"{fe.type!r} is not supported (supported: {', '.join(DEPTHS)})")
    if (fe.first_stage_features_stride or 16) != 16:
        raise config_problem(f"{F}.feature_extractor.first_stage_features_stride",
                             "must be 16 (the OD API's ResNet feature extractors refuse others)")
    if frcnn.number_of_stages != 2:
        raise config_problem(f"{F}.number_of_stages", f"{frcnn.number_of_stages} is not supported (2)")
    kind = frcnn.second_stage_box_predictor.WhichOneof("box_predictor_oneof")
    if kind != "mask_rcnn_box_predictor":
        raise config_problem(f"{F}.second_stage_box_predictor", f"{kind or 'none'} is not supported "
                             "(mask_rcnn_box_predictor)")
    predictor = frcnn.second_stage_box_predictor.mask_rcnn_box_predictor
    if predictor.predict_instance_masks:
        raise config_problem(f"{F}.second_stage_box_predictor.mask_rcnn_box_predictor.predict_instance_masks",
                             "masks are not supported")
    anchors = _grid_anchor_settings(frcnn)
    hp = LayerHyperparams(frcnn.first_stage_box_predictor_conv_hyperparams)
    kernel = frcnn.first_stage_box_predictor_kernel_size
    rpn_conv = tf_keras.Sequential([
        tf_keras.layers.Conv2D(frcnn.first_stage_box_predictor_depth, [kernel, kernel],
                               dilation_rate=frcnn.first_stage_atrous_rate, padding="same", name="RPNConv",
                               **hp.params()),
        hp.build_batch_norm(name="RPNBatchNorm"),
        tf_keras.layers.ReLU(max_value=6.0, name="RPNActivation")], name="FirstStageRPNFeatures")
    per_location = len(anchors["scales"]) * len(anchors["aspect_ratios"])
    rpn_predictor = ConvolutionalBoxPredictor(1, [per_location], hp, HeadOptions(), name="FirstStageBoxPredictor")
    box_predictor = MaskRcnnBoxPredictor(frcnn.num_classes, LayerHyperparams(predictor.fc_hyperparams),
                                         predictor.share_box_across_classes, predictor.use_dropout,
                                         predictor.dropout_keep_probability)
    proposals = frcnn.first_stage_max_proposals
    first = post_lib.PostProcessing(score_threshold=frcnn.first_stage_nms_score_threshold,
                                    iou_threshold=frcnn.first_stage_nms_iou_threshold,
                                    max_detections_per_class=proposals, max_total_detections=proposals,
                                    change_coordinate_frame=False)
    settings = FasterRcnnSettings(
        num_classes=frcnn.num_classes, grid_anchors=anchors, first_stage=first,
        # The OD API's second stage always passes change_coordinate_frame=True to its NMS.
        second_stage=dataclasses.replace(post_lib.PostProcessing.from_proto(frcnn.second_stage_post_processing),
                                         change_coordinate_frame=True),
        initial_crop_size=frcnn.initial_crop_size or 14, maxpool_kernel_size=frcnn.maxpool_kernel_size,
        maxpool_stride=frcnn.maxpool_stride or 1, matmul_crops=frcnn.use_matmul_crop_and_resize)
    model = FasterRcnnDetector(FasterRcnnResNetFeatureExtractor(fe.type), rpn_conv, rpn_predictor, box_predictor,
                               settings)
    size = input_size(frcnn, F)
    model.detect(tf.zeros([1, size.height, size.width, 3]))              # creates every variable
    return model


def build_faster_rcnn(pipeline_proto) -> DetectorBundle:
    """The DetectorBundle of `pipeline_proto.model.faster_rcnn` (see the module doc)."""
    frcnn = pipeline_proto.model.faster_rcnn
    size = input_size(frcnn, F)
    model = build_network(frcnn)
    anchors = model.grid_anchors
    nms = frcnn.second_stage_post_processing.batch_non_max_suppression
    training = FasterRcnnTraining(
        rpn_localization_weight=frcnn.first_stage_localization_loss_weight,
        rpn_objectness_weight=frcnn.first_stage_objectness_loss_weight,
        rpn_minibatch_size=frcnn.first_stage_minibatch_size,
        rpn_positive_fraction=frcnn.first_stage_positive_balance_fraction,
        second_stage_batch_size=frcnn.second_stage_batch_size,
        second_stage_positive_fraction=frcnn.second_stage_balance_fraction,
        classification_weight=frcnn.second_stage_classification_loss_weight,
        localization_weight=frcnn.second_stage_localization_loss_weight,
        class_agnostic_box=frcnn.second_stage_box_predictor.mask_rcnn_box_predictor.share_box_across_classes)
    spec = ModelSpec(
        meta_architecture="faster_rcnn", feature_extractor=frcnn.feature_extractor.type, input=size,
        num_classes=frcnn.num_classes, mg_num_classes=frcnn.num_classes + 1,
        anchors=AnchorSpec(min_level=4, max_level=4, num_scales=len(anchors["scales"]),
                           aspect_ratios=anchors["aspect_ratios"], anchor_size=anchors["base_size"][0] / 16,
                           box_coder_weights=BOX_CODER_SCALES, grid_scales=anchors["scales"],
                           grid_base_size=anchors["base_size"]),
        score_threshold=nms.score_threshold, iou_threshold=nms.iou_threshold,
        max_detections=nms.max_total_detections or 100,
        freeze_batchnorm=not frcnn.feature_extractor.batch_norm_trainable, training=training)
    if spec.freeze_batchnorm:
        freeze_batchnorm(model)
    return DetectorBundle(model=model, spec=spec, model_config=frcnn)
