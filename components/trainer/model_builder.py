"""Builds a TF Model Garden detector from an OD API `pipeline.config`.

`build_detector(proto)` reads `proto.model` (a `DetectionModel` of the OD API
`TrainEvalPipelineConfig`) and returns a `DetectorBundle`: the tf_keras model,
a `ModelSpec` (everything the input pipeline, the losses and the export need)
and the Model Garden config it was built from.

Mapping of `model.ssd` to Model Garden's RetinaNet (`build_retinanet`):

- `ssd_mobilenet_v2_fpn_keras` → MobileNetV2 backbone (`filter_size_scale` =
  depth_multiplier) + FPN decoder with separable convs (FPN-lite),
  `num_filters` = fpn.additional_layer_depth, levels fpn.min_level..max_level
  (`BackboneLevelsFPN`: fed only the backbone levels it takes).
- `ssd_resnet50_v1_fpn_keras` → ResNet-50 + FPN (regular convs).
- `ssd_mobilenet_v2_keras` (no FPN in the OD API: MobileNetV2 stride-16 and
  stride-32 maps plus extra stride-2 layers) → MobileNetV2 + `SsdExtraLayers`
  below: each native level (4, 5) is projected by a 1x1 conv to the box
  predictor's depth (the weight-shared head needs one depth on every level),
  and levels above 5 are made, as in the OD API, by a 1x1 conv to depth/2 then
  a stride-2 separable 3x3 conv. There is no top-down path. Model Garden has no
  such decoder; this one is ours.
- weight_shared_convolutional_box_predictor → RetinaNet head: `num_convs` =
  num_layers_before_predictor, `num_filters` = depth, separable when
  use_depthwise; convs shared over levels and batch norm per level (as the OD
  API's default); the class bias is set to class_prediction_bias_init.
- multiscale_anchor_generator → anchors (num_scales = scales_per_octave,
  aspect_ratios, anchor_size = anchor_scale).
- batch_non_max_suppression → Model Garden's MultilevelDetectionGenerator
  (score_threshold, iou_threshold, max_total_detections; its NMS v2 runs per
  class and keeps up to max_total_detections per class before the final
  top-k, so max_detections_per_class is not a separate limit).
- faster_rcnn_box_coder scales → `box_coder_weights` (decoder and labeler).
- num_classes → Model Garden num_classes = num_classes + 1 (0 = background).
- freeze_batchnorm → every BatchNormalization layer has `trainable=False`
  (inference mode, gamma/beta fixed), as the OD API does.

`model.faster_rcnn` is built by `faster_rcnn_builder.build_faster_rcnn`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf
import tf_keras

from official.vision.configs import backbones as backbones_cfg
from official.vision.configs import common as common_cfg
from official.vision.configs import decoders as decoders_cfg
from official.vision.configs import retinanet as retinanet_cfg
from official.vision.modeling import backbones, factory
from official.vision.modeling.decoders import fpn as fpn_lib
from official.vision.ops import anchor as anchor_ops
from official.vision.ops import preprocess_ops
from schemas.problems import Problem, ProblemsError

SSD_FEATURE_EXTRACTORS = (
    "ssd_mobilenet_v2_keras",
    "ssd_mobilenet_v2_fpn_keras",
    "ssd_resnet50_v1_fpn_keras",
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What inputs, losses and export need to know about a built detector."""

    meta_architecture: str            # "ssd" or "faster_rcnn"
    feature_extractor: str
    input_height: int                 # model input (fixed_shape_resizer, or
    input_width: int                  # max_dimension square for keep-aspect)
    keep_aspect_ratio: bool
    min_dimension: int
    max_dimension: int
    num_classes: int                  # label-map classes (OD API num_classes)
    mg_num_classes: int               # num_classes + 1 (background = 0)
    min_level: int
    max_level: int
    num_scales: int
    aspect_ratios: tuple[float, ...]
    anchor_size: float
    box_coder_weights: tuple[float, ...] | None
    matched_threshold: float
    unmatched_threshold: float
    focal_gamma: float
    focal_alpha: float
    huber_delta: float                # weighted_smooth_l1 delta
    classification_weight: float
    localization_weight: float
    score_threshold: float
    iou_threshold: float
    max_detections: int
    freeze_batchnorm: bool
    grid_anchor_scales: tuple[float, ...] | None = None      # faster_rcnn grid anchors
    grid_anchor_base_size: tuple[float, float] | None = None
    # faster_rcnn first stage (RPN) loss weights and anchor sampling; second stage box sharing
    rpn_localization_weight: float = 1.0
    rpn_objectness_weight: float = 1.0
    rpn_minibatch_size: int = 256
    rpn_positive_fraction: float = 0.5
    class_agnostic_box: bool = False

    @property
    def num_anchors_per_location(self) -> int:
        """Anchors per feature-map cell."""
        return self.num_scales * len(self.aspect_ratios)

    def anchor_boxes(self, height: int | None = None, width: int | None = None) -> dict[str, tf.Tensor]:
        """Multilevel anchors (pixel ymin,xmin,ymax,xmax) for an input size: {level: [h, w, 4 * A]}."""
        if self.grid_anchor_scales:
            from components.trainer.faster_rcnn_builder import grid_anchor_boxes  # pylint: disable=import-outside-toplevel
            return grid_anchor_boxes(height or self.input_height, width or self.input_width, self.min_level,
                                     self.grid_anchor_scales, self.aspect_ratios, self.grid_anchor_base_size)
        return anchor_ops.Anchor(
            min_level=self.min_level, max_level=self.max_level,
            num_scales=self.num_scales, aspect_ratios=list(self.aspect_ratios),
            anchor_size=self.anchor_size,
            image_size=(height or self.input_height, width or self.input_width),
        ).multilevel_boxes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the spec."""
        d = dataclasses.asdict(self)
        d["aspect_ratios"] = list(self.aspect_ratios)
        for key in ("box_coder_weights", "grid_anchor_scales", "grid_anchor_base_size"):
            d[key] = list(d[key]) if d[key] else None
        return d


@dataclasses.dataclass
class DetectorBundle:
    """A built detector: the tf_keras model, its spec and its Model Garden config."""

    model: tf_keras.Model
    spec: ModelSpec
    model_config: Any

    @property
    def modules(self) -> dict[str, Any]:
        """The model's top-level parts by name (backbone, decoder, head, ...)."""
        return module_map(self.model)


def module_map(model: tf_keras.Model) -> dict[str, Any]:
    """Top-level parts of a Model Garden detector, by the name used in reports."""
    return {k: v for k, v in model.checkpoint_items.items() if v is not None}


def preprocess_images(images: tf.Tensor, spec: ModelSpec | None = None) -> tf.Tensor:
    """uint8/float 0..255 RGB images [B,H,W,3] → normalised float32 model input.

    The one normalisation shared by training and serving: Model Garden's
    ImageNet mean/std (`preprocess_ops.MEAN_RGB/STDDEV_RGB`), what its
    backbones expect. With `spec`, images are first resized (bilinear, aspect
    ratio not kept — the OD API's fixed_shape_resizer) to the input size.
    """
    images = tf.cast(images, tf.float32)
    if spec is not None:
        images = tf.image.resize(images, [spec.input_height, spec.input_width], method="bilinear")
    mean = tf.constant(preprocess_ops.MEAN_RGB, tf.float32)
    std = tf.constant(preprocess_ops.STDDEV_RGB, tf.float32)
    return (images - mean) / std


class BackboneLevelsFPN(fpn_lib.FPN):
    """Model Garden's FPN, called with only the backbone levels it was built on.

    Model Garden's MobileNet also outputs its last 1x1 conv as the level above
    its top one (left out of `output_specs` on purpose); the FPN's functional
    inputs do not take it, and tf_keras warns on every call ("Input dict
    contained keys ['6'] which did not match any model input"). Same layers,
    variables and checkpoint paths as `fpn.FPN`: only `call` differs.
    """

    def call(self, inputs, training=None, mask=None):
        levels = self._config_dict["input_specs"]
        return super().call({k: v for k, v in inputs.items() if k in levels}, training=training, mask=mask)


class SsdExtraLayers(tf_keras.layers.Layer):
    """Decoder for `ssd_mobilenet_v2_keras`: projections + OD API extra layers (see module doc)."""

    def __init__(self, min_level: int, max_level: int, depth: int, backbone_max_level: int = 5,
                 use_separable_conv: bool = True, norm_momentum: float = 0.99,
                 norm_epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self._min_level, self._max_level, self._depth = min_level, max_level, depth
        self._backbone_max = backbone_max_level
        conv = tf_keras.layers.SeparableConv2D if use_separable_conv else tf_keras.layers.Conv2D
        bn = lambda name: tf_keras.layers.BatchNormalization(  # noqa: E731
            momentum=norm_momentum, epsilon=norm_epsilon, name=name)
        self._lateral, self._lateral_norms = [], []
        self._reduce, self._reduce_norms, self._down, self._down_norms = [], [], [], []
        for level in range(min_level, max_level + 1):
            if level <= backbone_max_level:
                self._lateral.append(tf_keras.layers.Conv2D(depth, 1, use_bias=False, name=f"lateral_{level}"))
                self._lateral_norms.append(bn(f"lateral_norm_{level}"))
            else:
                self._reduce.append(tf_keras.layers.Conv2D(max(depth // 2, 1), 1, use_bias=False,
                                                           name=f"extra_reduce_{level}"))
                self._reduce_norms.append(bn(f"extra_reduce_norm_{level}"))
                self._down.append(conv(depth, 3, strides=2, padding="same", use_bias=False,
                                       name=f"extra_down_{level}"))
                self._down_norms.append(bn(f"extra_down_norm_{level}"))

    def call(self, features, training=None):
        out = {}
        last_backbone = features[str(self._backbone_max)]
        prev = None
        for i, level in enumerate(range(self._min_level, min(self._max_level, self._backbone_max) + 1)):
            x = self._lateral_norms[i](self._lateral[i](features[str(level)]), training=training)
            out[str(level)] = tf.nn.relu6(x)
        prev = out.get(str(self._backbone_max), last_backbone)
        for j, level in enumerate(range(self._backbone_max + 1, self._max_level + 1)):
            x = tf.nn.relu6(self._reduce_norms[j](self._reduce[j](prev), training=training))
            x = tf.nn.relu6(self._down_norms[j](self._down[j](x), training=training))
            out[str(level)] = x
            prev = x
        return out

    def get_config(self):
        return {"min_level": self._min_level, "max_level": self._max_level, "depth": self._depth,
                "backbone_max_level": self._backbone_max, **super().get_config()}


def _problem(field: str, message: str) -> ProblemsError:
    return ProblemsError([Problem("pipeline.config", f"{field}: {message}")])


def _input_size(model_msg, field_prefix: str) -> tuple[int, int, bool, int, int]:
    resizer = model_msg.image_resizer
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind == "fixed_shape_resizer":
        r = resizer.fixed_shape_resizer
        return r.height, r.width, False, 0, 0
    if kind == "keep_aspect_ratio_resizer":
        r = resizer.keep_aspect_ratio_resizer
        # Padded to a max_dimension square so one SavedModel input shape serves all.
        return r.max_dimension, r.max_dimension, True, r.min_dimension, r.max_dimension
    raise _problem(f"{field_prefix}.image_resizer", f"{kind or 'none'} is not supported "
                   "(use fixed_shape_resizer or keep_aspect_ratio_resizer)")


def _box_coder_weights(ssd) -> tuple[float, ...] | None:
    if ssd.HasField("box_coder") and ssd.box_coder.WhichOneof("box_coder_oneof") == "faster_rcnn_box_coder":
        c = ssd.box_coder.faster_rcnn_box_coder
        return (c.y_scale, c.x_scale, c.height_scale, c.width_scale)
    if ssd.HasField("box_coder"):
        raise _problem("model.ssd.box_coder", f"{ssd.box_coder.WhichOneof('box_coder_oneof')} is not supported "
                       "(use faster_rcnn_box_coder)")
    return None


def _ssd_spec(proto) -> ModelSpec:
    ssd = proto.model.ssd
    fe = ssd.feature_extractor
    if fe.type not in SSD_FEATURE_EXTRACTORS:
        raise _problem("model.ssd.feature_extractor.type",
                       f"{fe.type!r} is not supported (supported: {', '.join(SSD_FEATURE_EXTRACTORS)})")
    height, width, keep, min_dim, max_dim = _input_size(ssd, "model.ssd")
    if ssd.anchor_generator.WhichOneof("anchor_generator_oneof") != "multiscale_anchor_generator":
        raise _problem("model.ssd.anchor_generator", "only multiscale_anchor_generator is supported")
    ag = ssd.anchor_generator.multiscale_anchor_generator
    if fe.HasField("fpn") and (fe.fpn.min_level, fe.fpn.max_level) != (ag.min_level, ag.max_level):
        raise _problem("model.ssd.anchor_generator.multiscale_anchor_generator",
                       f"levels {ag.min_level}..{ag.max_level} differ from feature_extractor.fpn levels "
                       f"{fe.fpn.min_level}..{fe.fpn.max_level}")
    if ssd.box_predictor.WhichOneof("box_predictor_oneof") != "weight_shared_convolutional_box_predictor":
        raise _problem("model.ssd.box_predictor", "only weight_shared_convolutional_box_predictor is supported")
    loss = ssd.loss
    if loss.classification_loss.WhichOneof("classification_loss") != "weighted_sigmoid_focal":
        raise _problem("model.ssd.loss.classification_loss", "only weighted_sigmoid_focal is supported")
    if loss.localization_loss.WhichOneof("localization_loss") not in (None, "weighted_smooth_l1"):
        raise _problem("model.ssd.loss.localization_loss", "only weighted_smooth_l1 is supported")
    focal = loss.classification_loss.weighted_sigmoid_focal
    post = ssd.post_processing
    if post.HasField("score_converter") and post.ScoreConverter.Name(post.score_converter) != "SIGMOID":
        raise _problem("model.ssd.post_processing.score_converter",
                       f"{post.ScoreConverter.Name(post.score_converter)} is not supported (RetinaNet "
                       "heads are sigmoid: use SIGMOID)")
    nms = post.batch_non_max_suppression
    matcher = ssd.matcher.argmax_matcher
    return ModelSpec(
        meta_architecture="ssd", feature_extractor=fe.type,
        input_height=height, input_width=width, keep_aspect_ratio=keep,
        min_dimension=min_dim, max_dimension=max_dim,
        num_classes=ssd.num_classes, mg_num_classes=ssd.num_classes + 1,
        min_level=ag.min_level, max_level=ag.max_level,
        num_scales=ag.scales_per_octave, aspect_ratios=tuple(float(a) for a in ag.aspect_ratios),
        anchor_size=ag.anchor_scale, box_coder_weights=_box_coder_weights(ssd),
        matched_threshold=matcher.matched_threshold, unmatched_threshold=matcher.unmatched_threshold,
        focal_gamma=focal.gamma, focal_alpha=focal.alpha,
        huber_delta=loss.localization_loss.weighted_smooth_l1.delta,
        classification_weight=loss.classification_weight, localization_weight=loss.localization_weight,
        score_threshold=nms.score_threshold, iou_threshold=nms.iou_threshold,
        max_detections=nms.max_total_detections, freeze_batchnorm=ssd.freeze_batchnorm,
    )


def _ssd_backbone(fe) -> backbones_cfg.Backbone:
    if fe.type.startswith("ssd_mobilenet_v2"):
        return backbones_cfg.Backbone(type="mobilenet", mobilenet=backbones_cfg.MobileNet(
            model_id="MobileNetV2", filter_size_scale=fe.depth_multiplier or 1.0))
    return backbones_cfg.Backbone(type="resnet", resnet=backbones_cfg.ResNet(model_id=50))


def _build_ssd(proto) -> DetectorBundle:
    spec = _ssd_spec(proto)
    ssd = proto.model.ssd
    fe = ssd.feature_extractor
    bp = ssd.box_predictor.weight_shared_convolutional_box_predictor
    norm = common_cfg.NormActivation(activation="relu6" if "mobilenet" in fe.type else "relu",
                                     use_sync_bn=False, norm_momentum=0.997, norm_epsilon=1e-3)
    with_fpn = fe.type.endswith("_fpn_keras")
    decoder_cfg = (decoders_cfg.Decoder(type="fpn", fpn=decoders_cfg.FPN(
        num_filters=fe.fpn.additional_layer_depth or 256,
        use_separable_conv="mobilenet" in fe.type)) if with_fpn else decoders_cfg.Decoder(type="identity"))
    model_config = retinanet_cfg.RetinaNet(
        num_classes=spec.mg_num_classes, input_size=[spec.input_height, spec.input_width, 3],
        min_level=spec.min_level, max_level=spec.max_level,
        anchor=retinanet_cfg.Anchor(num_scales=spec.num_scales, aspect_ratios=list(spec.aspect_ratios),
                                    anchor_size=spec.anchor_size),
        backbone=_ssd_backbone(fe), decoder=decoder_cfg,
        head=retinanet_cfg.RetinaNetHead(num_convs=bp.num_layers_before_predictor, num_filters=bp.depth,
                                         use_separable_conv=bp.use_depthwise, share_level_convs=True),
        detection_generator=retinanet_cfg.DetectionGenerator(
            pre_nms_score_threshold=spec.score_threshold, nms_iou_threshold=spec.iou_threshold,
            max_num_detections=spec.max_detections, nms_version="v2",
            box_coder_weights=list(spec.box_coder_weights) if spec.box_coder_weights else None),
        norm_activation=norm,
    )
    input_specs = tf_keras.layers.InputSpec(shape=[None, spec.input_height, spec.input_width, 3])
    # As build_retinanet makes them (backbone, then decoder from its output_specs), but the FPN
    # is told which levels it takes.
    backbone = backbones.factory.build_backbone(input_specs=input_specs, backbone_config=model_config.backbone,
                                                norm_activation_config=norm)
    if with_fpn:
        decoder = BackboneLevelsFPN(
            input_specs=backbone.output_specs, min_level=spec.min_level, max_level=spec.max_level,
            num_filters=decoder_cfg.fpn.num_filters, fusion_type=decoder_cfg.fpn.fusion_type,
            use_separable_conv=decoder_cfg.fpn.use_separable_conv, use_keras_layer=decoder_cfg.fpn.use_keras_layer,
            activation=norm.activation, use_sync_bn=norm.use_sync_bn, norm_momentum=norm.norm_momentum,
            norm_epsilon=norm.norm_epsilon)
    else:
        decoder = SsdExtraLayers(spec.min_level, spec.max_level, bp.depth, name="ssd_extra_layers",
                                 norm_momentum=norm.norm_momentum, norm_epsilon=norm.norm_epsilon)
        if spec.min_level < 4:
            raise _problem("model.ssd.anchor_generator.multiscale_anchor_generator.min_level",
                           "ssd_mobilenet_v2_keras has feature maps from level 4 (stride 16) up")
    model = factory.build_retinanet(input_specs, model_config, backbone=backbone, decoder=decoder)
    # Creates every variable (build_retinanet builds the head only when it built the decoder).
    model(tf.zeros([1, spec.input_height, spec.input_width, 3]), training=False)
    # OD API's class_prediction_bias_init (Model Garden fixes it at -log(99) ≈ -4.6).
    classifier = model.head._classifier  # pylint: disable=protected-access
    classifier.bias.assign(tf.fill(classifier.bias.shape, float(bp.class_prediction_bias_init)))
    if spec.freeze_batchnorm:
        freeze_batchnorm(model)
    return DetectorBundle(model=model, spec=spec, model_config=model_config)


def freeze_batchnorm(model: tf_keras.Model) -> int:
    """Puts every BatchNormalization layer in inference mode (OD API freeze_batchnorm); returns how many."""
    count = 0
    for layer in _all_layers(model):
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False
            count += 1
    return count


def _all_layers(layer):
    stack, seen = [layer], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(getattr(current, "_flatten_layers", lambda **_: [])(include_self=False, recursive=False))


@tf.autograph.experimental.do_not_convert
def build_detector(pipeline_proto) -> DetectorBundle:
    """Builds the detector `pipeline_proto.model` describes (a TrainEvalPipelineConfig).

    Raises ProblemsError naming the field for anything not supported. Built with
    AutoGraph off: tf_keras converts every layer's `call` while it builds a
    functional model, which took 9/10 of the build (38 s against 3.5 s for the
    demo's MobileNetV2-FPN); Model Garden's layers have no data-dependent
    Python control flow, and the model is the same (same outputs bitwise).
    """
    kind = pipeline_proto.model.WhichOneof("model")
    if kind == "ssd":
        return _build_ssd(pipeline_proto)
    if kind == "faster_rcnn":
        from components.trainer import faster_rcnn_builder  # pylint: disable=import-outside-toplevel
        return faster_rcnn_builder.build_faster_rcnn(pipeline_proto)
    raise _problem("model", f"{kind or 'no model'} is not supported (use ssd or faster_rcnn)")


def forward_train(model: tf_keras.Model, images: tf.Tensor) -> dict[str, dict[str, tf.Tensor]]:
    """Training-mode forward pass of a RetinaNet on preprocessed images.

    Returns {'cls_outputs': {level: [B,h,w,A*C]}, 'box_outputs': {level: [B,h,w,A*4]}}.
    """
    outputs = model(images, training=True)
    return {"cls_outputs": outputs["cls_outputs"], "box_outputs": outputs["box_outputs"]}
