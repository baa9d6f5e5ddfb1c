"""Impossible or contradictory values in a parsed pipeline.config.

`check(proto)` returns `(errors, warnings)`, each a list of `(field_path, message)`
with the dotted path (repeated indices included) that the caller turns into
CONFIG:LINE:COL problems. The checks mirror what the OD API builders would
reject at training time, so a user learns it from `config check` instead.
`ssd_input_size_issues` is the one statement of which input sizes an SSD
feature extractor takes; the trainer's model builder calls it too.
"""

from __future__ import annotations

import math

from schemas.learning_rate_scale import learning_rate_note, peak_learning_rate
from schemas.protos import pipeline_pb2

Issue = tuple[str, str]

# The OD API's check_min_image_dim: the smallest side each SSD backbone family takes.
MIN_IMAGE_SIZE = {"mobilenet": 33, "resnet": 129, "efficientnet": 129}
# FPN levels above 5 are made by stride-2 convs on level 5's map, which take any size.
TOP_BACKBONE_LEVEL = 5


def num(value: float) -> str:
    """A float32 field value as the user wrote it (0.08, not 0.0799999982)."""
    return f"{value:.7g}"


class _Checker:
    def __init__(self):
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def positive(self, message, path: str, field: str) -> None:
        value = getattr(message, field)
        if value <= 0:
            self.error(f"{path}.{field}", f"must be > 0 (got {num(value)})")

    def unit(self, message, path: str, field: str) -> None:
        value = getattr(message, field)
        if not 0.0 <= value <= 1.0:
            self.error(f"{path}.{field}", f"must be in [0, 1] (got {num(value)})")

    def ordered(self, message, path: str, low: str, high: str) -> None:
        a, b = getattr(message, low), getattr(message, high)
        if a > b:
            self.error(f"{path}.{low}", f"{num(a)} must not exceed {high} ({num(b)})")


def check(proto: pipeline_pb2.TrainEvalPipelineConfig) -> tuple[list[Issue], list[Issue]]:
    """Errors and warnings for values no detector can be built or trained with."""
    c = _Checker()
    arch = proto.model.WhichOneof("model")
    if arch is None:
        c.error("model", "no model: the config needs model { ssd { ... } }, model { faster_rcnn { ... } } or "
                         "model { center_net { ... } }")
    elif arch == "ssd":
        _check_ssd(c, proto.model.ssd, "model.ssd")
    elif arch == "faster_rcnn":
        _check_faster_rcnn(c, proto.model.faster_rcnn, "model.faster_rcnn")
    elif arch == "center_net":
        _check_center_net(c, proto.model.center_net, "model.center_net")
        if proto.train_config.fine_tune_checkpoint_type == "fine_tune":
            c.error("train_config.fine_tune_checkpoint_type", '"fine_tune" is not a CenterNet type (the OD API '
                    'refuses it too): "detection" restores the whole feature extractor, as it did')
        if (proto.train_config.fine_tune_checkpoint_type == "classification"
                and proto.model.center_net.feature_extractor.type.startswith("hourglass")):
            c.error("train_config.fine_tune_checkpoint_type", '"classification" needs a classification backbone, '
                    "and the OD API's hourglass networks have none (it refuses too): use \"detection\" (the whole "
                    'hourglass network) or "full"')
    _check_train(c, proto.train_config, "train_config")
    _check_keypoint_flips(c, proto)
    _check_keypoint_input(c, proto)
    _check_eval(c, proto)
    return c.errors, c.warnings


def _check_common_model(c: _Checker, model, path: str) -> None:
    if model.num_classes <= 0:
        c.error(f"{path}.num_classes", f"num_classes must be > 0, the highest id in the label map "
                                       f"(got {model.num_classes})")
    resizer = model.image_resizer
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind is None:
        c.error(f"{path}.image_resizer", "image_resizer is required")
    elif kind == "fixed_shape_resizer":
        for field in ("height", "width"):
            c.positive(resizer.fixed_shape_resizer, f"{path}.image_resizer.fixed_shape_resizer", field)
    elif kind == "keep_aspect_ratio_resizer":
        r, rpath = resizer.keep_aspect_ratio_resizer, f"{path}.image_resizer.keep_aspect_ratio_resizer"
        c.positive(r, rpath, "min_dimension")
        c.ordered(r, rpath, "min_dimension", "max_dimension")


def ssd_input_size_issues(feature_extractor, height: int, width: int, path: str = "model.ssd",
                          keep_aspect_ratio: bool = False) -> list[Issue]:
    """Why an SSD `feature_extractor` cannot take a `height` x `width` input: [] when it can.

    The side must reach the backbone's minimum (33 px for MobileNet, 129 px for
    ResNet FPN and EfficientNet), and with an FPN, unless use_explicit_padding, each
    level's map from fpn.min_level to min(fpn.max_level, 5) must be twice the next after
    padding to feature_extractor.pad_to_multiple (with a BiFPN, every level up to
    bifpn.max_level). Paths start at `path`; `keep_aspect_ratio`: the input is the
    keep_aspect_ratio_resizer's max_dimension square, named once.
    """
    fe = feature_extractor
    if keep_aspect_ratio:
        field = f"{path}.image_resizer.keep_aspect_ratio_resizer.max_dimension"
        return [(field, message) for _, message in ssd_input_size_issues(fe, height, width, path)[:1]]
    resizer = f"{path}.image_resizer.fixed_shape_resizer"
    family = ("resnet" if fe.type.startswith("ssd_resnet") else
              "efficientnet" if fe.type.startswith("ssd_efficientnet") else "mobilenet")
    if min(height, width) < MIN_IMAGE_SIZE[family]:
        return [(resizer, f"{height}x{width} is smaller than {fe.type} takes (at least "
                          f"{MIN_IMAGE_SIZE[family]} px on each side)")]
    if family == "efficientnet":
        return _bifpn_size_issues(fe, height, width, resizer)
    if not fe.HasField("fpn") or not fe.type.endswith("_fpn_keras") or fe.use_explicit_padding:
        return []
    issues = []
    multiple = max(1, fe.pad_to_multiple)
    top = min(fe.fpn.max_level, TOP_BACKBONE_LEVEL)
    for name, size in (("height", height), ("width", width)):
        padded = -(-size // multiple) * multiple
        maps = [math.ceil(padded / 2 ** level) for level in range(fe.fpn.min_level, top + 1)]
        if any(2 * upper != lower for lower, upper in zip(maps, maps[1:])):
            good = 2 ** top
            issues.append((f"{resizer}.{name}",
                           f"{size} px does not fit the FPN of levels {fe.fpn.min_level}..{top}: its maps would be "
                           f"{' / '.join(map(str, maps))} cells and each level must be twice the next; use a "
                           f"multiple of {good} (e.g. {max(good, round(size / good) * good)}) or set "
                           f"feature_extractor.pad_to_multiple: {good}"))
    return issues


def _check_nms(c: _Checker, post_processing, path: str) -> None:
    nms, npath = post_processing.batch_non_max_suppression, f"{path}.batch_non_max_suppression"
    c.unit(nms, npath, "score_threshold")
    c.unit(nms, npath, "iou_threshold")
    c.positive(nms, npath, "max_detections_per_class")
    c.positive(nms, npath, "max_total_detections")


def _check_ssd(c: _Checker, ssd, path: str) -> None:
    _check_common_model(c, ssd, path)
    fe, fpath = ssd.feature_extractor, f"{path}.feature_extractor"
    if not fe.HasField("type"):
        from schemas.field_support import SSD_FEATURE_EXTRACTORS
        c.error(f"{fpath}.type" if ssd.HasField("feature_extractor") else fpath,
                f"feature_extractor.type is required (supported: {', '.join(SSD_FEATURE_EXTRACTORS)})")
    c.positive(fe, fpath, "depth_multiplier")
    if fe.HasField("fpn"):
        c.ordered(fe.fpn, f"{fpath}.fpn", "min_level", "max_level")
        c.positive(fe.fpn, f"{fpath}.fpn", "additional_layer_depth")
    elif fe.type.endswith("_fpn_keras"):
        c.error(f"{fpath}.type", f"{fe.type} needs an fpn {{ min_level max_level additional_layer_depth }} block")
    matcher, mpath = ssd.matcher.argmax_matcher, f"{path}.matcher.argmax_matcher"
    c.unit(matcher, mpath, "matched_threshold")
    c.unit(matcher, mpath, "unmatched_threshold")
    c.ordered(matcher, mpath, "unmatched_threshold", "matched_threshold")
    if ssd.anchor_generator.HasField("multiscale_anchor_generator"):
        anchors, apath = ssd.anchor_generator.multiscale_anchor_generator, \
            f"{path}.anchor_generator.multiscale_anchor_generator"
        c.ordered(anchors, apath, "min_level", "max_level")
        c.positive(anchors, apath, "anchor_scale")
        c.positive(anchors, apath, "scales_per_octave")
        _check_ratios(c, anchors.aspect_ratios, f"{apath}.aspect_ratios")
        if fe.HasField("fpn") and (anchors.min_level, anchors.max_level) != (fe.fpn.min_level, fe.fpn.max_level):
            c.error(f"{apath}.min_level", f"anchor levels {anchors.min_level}..{anchors.max_level} differ from "
                                          f"feature_extractor.fpn levels {fe.fpn.min_level}..{fe.fpn.max_level}")
    elif not ssd.HasField("anchor_generator"):
        c.error(f"{path}.anchor_generator", "anchor_generator is required (multiscale_anchor_generator)")
    if not ssd.HasField("box_predictor"):
        c.error(f"{path}.box_predictor", "box_predictor is required (weight_shared_convolutional_box_predictor)")
    head = ssd.box_predictor.weight_shared_convolutional_box_predictor
    hpath = f"{path}.box_predictor.weight_shared_convolutional_box_predictor"
    if ssd.box_predictor.HasField("weight_shared_convolutional_box_predictor"):
        c.positive(head, hpath, "depth")
        c.positive(head, hpath, "kernel_size")
    focal = ssd.loss.classification_loss.weighted_sigmoid_focal
    if ssd.loss.classification_loss.HasField("weighted_sigmoid_focal"):
        fpath2 = f"{path}.loss.classification_loss.weighted_sigmoid_focal"
        if focal.HasField("alpha"):
            c.unit(focal, fpath2, "alpha")
        if focal.gamma < 0:
            c.error(f"{fpath2}.gamma", f"gamma must be >= 0 (got {num(focal.gamma)})")
    _check_nms(c, ssd.post_processing, f"{path}.post_processing")
    from schemas.field_support import SSD_FEATURE_EXTRACTORS
    size = ssd.image_resizer.fixed_shape_resizer
    if (ssd.image_resizer.HasField("fixed_shape_resizer") and size.height > 0 and size.width > 0
            and fe.type in SSD_FEATURE_EXTRACTORS):
        c.errors += ssd_input_size_issues(fe, size.height, size.width, path)
    keep = ssd.image_resizer.keep_aspect_ratio_resizer
    if ssd.image_resizer.HasField("keep_aspect_ratio_resizer") and keep.max_dimension > 0 \
            and fe.type in SSD_FEATURE_EXTRACTORS:
        c.errors += ssd_input_size_issues(fe, keep.max_dimension, keep.max_dimension, path, keep_aspect_ratio=True)


def _bifpn_size_issues(fe, height: int, width: int, resizer: str) -> list[Issue]:
    """A BiFPN combines each level with the x2 upsampling of the next: every level's map but the top one must
    have an even side, i.e. the padded input a multiple of 2 ** max_level."""
    top = fe.bifpn.max_level if fe.HasField("bifpn") else 7
    multiple, good = max(1, fe.pad_to_multiple), 2 ** top
    issues = []
    for name, size in (("height", height), ("width", width)):
        padded = -(-size // multiple) * multiple
        if padded % good:
            issues.append((f"{resizer}.{name}", f"{size} px does not fit the BiFPN up to level {top}: its levels "
                           f"halve the map {top} times and each must be twice the next; use a multiple of {good} "
                           f"(e.g. {-(-size // good) * good}) or set feature_extractor.pad_to_multiple: "
                           f"{good}"))
    return issues


def _check_ratios(c: _Checker, values, path: str) -> None:
    for i, value in enumerate(values):
        if value <= 0:
            c.error(f"{path}[{i}]", f"aspect ratios and scales must be > 0 (got {num(value)})")


def _check_faster_rcnn(c: _Checker, frcnn, path: str) -> None:
    _check_common_model(c, frcnn, path)
    if not frcnn.feature_extractor.HasField("type"):
        from schemas.field_support import FASTER_RCNN_FEATURE_EXTRACTORS
        c.error(f"{path}.feature_extractor", "feature_extractor.type is required "
                                             f"(supported: {', '.join(FASTER_RCNN_FEATURE_EXTRACTORS)})")
    grid, gpath = frcnn.first_stage_anchor_generator.grid_anchor_generator, \
        f"{path}.first_stage_anchor_generator.grid_anchor_generator"
    if not frcnn.first_stage_anchor_generator.HasField("grid_anchor_generator"):
        c.error(f"{path}.first_stage_anchor_generator", "first_stage_anchor_generator is required "
                                                        "(grid_anchor_generator)")
    _check_ratios(c, grid.scales, f"{gpath}.scales")
    _check_ratios(c, grid.aspect_ratios, f"{gpath}.aspect_ratios")
    for field in ("height_stride", "width_stride"):
        c.positive(grid, gpath, field)
    for field in ("first_stage_nms_score_threshold", "first_stage_nms_iou_threshold",
                  "first_stage_positive_balance_fraction", "second_stage_balance_fraction"):
        c.unit(frcnn, path, field)
    for field in ("first_stage_max_proposals", "first_stage_minibatch_size", "second_stage_batch_size"):
        c.positive(frcnn, path, field)
    for field in ("initial_crop_size", "maxpool_kernel_size", "maxpool_stride"):
        if frcnn.HasField(field):
            c.positive(frcnn, path, field)
    if not frcnn.second_stage_box_predictor.HasField("mask_rcnn_box_predictor"):
        c.error(f"{path}.second_stage_box_predictor", "second_stage_box_predictor is required "
                                                      "(mask_rcnn_box_predictor)")
    _check_nms(c, frcnn.second_stage_post_processing, f"{path}.second_stage_post_processing")


def _check_center_net(c: _Checker, cn, path: str) -> None:
    _check_common_model(c, cn, path)
    fe, fpath = cn.feature_extractor, f"{path}.feature_extractor"
    if not fe.HasField("type"):
        from schemas.field_rules import CENTER_NET_FEATURE_EXTRACTORS
        c.error(fpath, f"feature_extractor.type is required (supported: {', '.join(CENTER_NET_FEATURE_EXTRACTORS)})")
    for field in ("channel_means", "channel_stds"):
        if len(getattr(fe, field)) not in (0, 3):
            c.error(f"{fpath}.{field}", f"needs 3 values, one per RGB channel (got {len(getattr(fe, field))})")
    if any(s == 0 for s in fe.channel_stds):
        c.error(f"{fpath}.channel_stds", "a channel's std is 0: images would be divided by zero")
    _check_center_net_input(c, cn, path)
    nms = cn.post_processing.batch_non_max_suppression
    if cn.HasField("post_processing") and nms.change_coordinate_frame:
        c.error(f"{path}.post_processing.batch_non_max_suppression.change_coordinate_frame",
                "set it to false: CenterNet's NMS runs without a clip window, and the OD API fails on a CenterNet "
                "whose post_processing keeps this default (true)")
    if not cn.HasField("object_detection_task"):
        c.error(f"{path}.object_detection_task", "object_detection_task is required: detflow's CenterNet detects "
                                                 "boxes (and, with a keypoint_estimation_task, their keypoints)")
    oc, opath = cn.object_center_params, f"{path}.object_center_params"
    if not cn.HasField("object_center_params"):
        c.error(opath, "object_center_params is required (its classification_loss: "
                       "penalty_reduced_logistic_focal_loss)")
    elif not oc.classification_loss.HasField("penalty_reduced_logistic_focal_loss"):
        c.error(f"{opath}.classification_loss", "penalty_reduced_logistic_focal_loss is required")
    if cn.HasField("object_detection_task") and not cn.object_detection_task.localization_loss.HasField(
            "l1_localization_loss"):
        c.error(f"{path}.object_detection_task.localization_loss", "l1_localization_loss is required")
    if not 0.0 < oc.min_box_overlap_iou < 1.0:
        c.error(f"{opath}.min_box_overlap_iou", f"must be in (0, 1) (got {num(oc.min_box_overlap_iou)})")
    c.positive(oc, opath, "max_box_predictions")
    c.positive(oc, opath, "peak_max_pool_kernel_size")
    focal = oc.classification_loss.penalty_reduced_logistic_focal_loss
    for field in ("alpha", "beta"):
        if getattr(focal, field) < 0:
            c.error(f"{opath}.classification_loss.penalty_reduced_logistic_focal_loss.{field}", "must be >= 0")
    for head, owner, hpath in (("center_head_params", oc, opath),
                               ("scale_head_params", cn.object_detection_task, f"{path}.object_detection_task"),
                               ("offset_head_params", cn.object_detection_task, f"{path}.object_detection_task")):
        params = getattr(owner, head)
        if len(params.num_filters) != len(params.kernel_sizes):
            c.error(f"{hpath}.{head}", f"{len(params.kernel_sizes)} kernel_sizes and {len(params.num_filters)} "
                                       "num_filters: one of each per conv")
        if any(v <= 0 for v in (*params.num_filters, *params.kernel_sizes)):
            c.error(f"{hpath}.{head}", "num_filters and kernel_sizes must be > 0")
    _check_keypoint_tasks(c, cn, path)


def _check_keypoint_tasks(c: _Checker, cn, path: str) -> None:
    """`keypoint_estimation_task`s: what the OD API's builder needs, and the losses detflow computes."""
    if not cn.keypoint_estimation_task:
        return
    if not cn.keypoint_label_map_path:
        c.error(f"{path}.keypoint_label_map_path", "is required with a keypoint_estimation_task: the label map "
                                                   "whose keypoint_class_name item declares the keypoints")
    if cn.HasField("post_processing"):
        c.error(f"{path}.post_processing", "NMS over detections with keypoints is not built: remove post_processing "
                                           "(the zoo's keypoint configs have none) or the keypoint_estimation_task")
    names = [t.task_name for t in cn.keypoint_estimation_task]
    for i, task in enumerate(cn.keypoint_estimation_task):
        tpath = f"{path}.keypoint_estimation_task[{i}]"
        if not task.task_name or names.count(task.task_name) > 1:
            c.error(f"{tpath}.task_name", "each keypoint task needs a task_name of its own (it names its heads)")
        if not task.keypoint_class_name:
            c.error(f"{tpath}.keypoint_class_name", "is required: the keypoint label map item whose keypoints this "
                                                    "task predicts")
        if not task.loss.classification_loss.HasField("penalty_reduced_logistic_focal_loss"):
            c.error(f"{tpath}.loss.classification_loss", "penalty_reduced_logistic_focal_loss is required")
        if not task.loss.localization_loss.HasField("l1_localization_loss"):
            c.error(f"{tpath}.loss.localization_loss", "l1_localization_loss is required")
        for field in ("num_candidates_per_keypoint", "peak_max_pool_kernel_size"):
            c.positive(task, tpath, field)
        for head in ("heatmap_head_params", "offset_head_params", "regress_head_params"):
            params = getattr(task, head)
            if len(params.num_filters) != len(params.kernel_sizes):
                c.error(f"{tpath}.{head}", f"{len(params.kernel_sizes)} kernel_sizes and {len(params.num_filters)} "
                                           "num_filters: one of each per conv")
        if task.offset_peak_radius < 0:
            c.error(f"{tpath}.offset_peak_radius", "must be >= 0")


# The OD API's CenterNet FPNs add each upsampled level to the next finer block output, and its ResNet v2
# extractor's transposed convs give 8 x the stride-32 map: the input must halve evenly five times.
CENTER_NET_INPUT_MULTIPLE = 32
# The hourglasses add each stage's upsampled output to its input: the stride-4 map halves evenly once per stage
# (4 x 2^stages; detection/architectures/center_net/hourglass.py's SHAPES, which a test keeps in step).
HOURGLASS_INPUT_MULTIPLES = {"hourglass_104": 128, "hourglass_52": 128, "hourglass_32": 32, "hourglass_20": 16,
                             "hourglass_10": 8}


def _check_center_net_input(c: _Checker, cn, path: str) -> None:
    resizer = cn.image_resizer
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind == "fixed_shape_resizer":
        sizes = {"height": resizer.fixed_shape_resizer.height, "width": resizer.fixed_shape_resizer.width}
    elif kind == "keep_aspect_ratio_resizer":
        sizes = {"max_dimension": resizer.keep_aspect_ratio_resizer.max_dimension}
    else:
        return
    multiple = HOURGLASS_INPUT_MULTIPLES.get(cn.feature_extractor.type, CENTER_NET_INPUT_MULTIPLE)
    for field, size in sizes.items():
        if size > 0 and size % multiple:
            c.error(f"{path}.image_resizer.{kind}.{field}",
                    f"{size} is not a multiple of {multiple}: the feature extractor's upsampled "
                    f"maps would not match its block outputs (use {size - size % multiple or multiple} or "
                    f"{size - size % multiple + multiple})")


def _check_train(c: _Checker, train, path: str) -> None:
    if not train.ListFields():
        c.error(path, "train_config is missing or empty: it needs at least an optimizer "
                      "(and batch_size, num_steps, fine_tune_checkpoint as needed)")
        return
    if train.batch_size <= 0:
        c.error(f"{path}.batch_size", f"batch_size must be > 0 (got {train.batch_size})")
    if train.num_steps == 0:
        c.warnings.append((f"{path}.num_steps" if train.HasField("num_steps") else path,
                           "num_steps is 0: the OD API trains forever; give num_steps or --num-steps"))
    if train.gradient_clipping_by_norm < 0:
        c.error(f"{path}.gradient_clipping_by_norm", "gradient_clipping_by_norm must be >= 0 (0 disables it)")
    c.positive(train, path, "max_number_of_boxes")
    _check_fine_tune(c, train, path)
    opt = train.optimizer
    kind = opt.WhichOneof("optimizer")
    if kind is None:
        c.error(f"{path}.optimizer", "an optimizer is required (momentum_optimizer, adam_optimizer "
                                     "or rms_prop_optimizer)")
    else:
        optimizer, opath = getattr(opt, kind), f"{path}.optimizer.{kind}"
        if kind in ("momentum_optimizer", "rms_prop_optimizer") and not 0 <= optimizer.momentum_optimizer_value < 1:
            c.error(f"{opath}.momentum_optimizer_value", "momentum_optimizer_value must be in [0, 1)")
        _check_learning_rate(c, optimizer.learning_rate, f"{opath}.learning_rate")
        note = learning_rate_note(peak_learning_rate(opt), train.batch_size)
        if note:
            c.warnings.append((f"{opath}.learning_rate", note))
    if opt.use_moving_average:
        c.unit(opt, f"{path}.optimizer", "moving_average_decay")
    for i, step in enumerate(train.data_augmentation_options):
        _check_augmentation(c, step, f"{path}.data_augmentation_options[{i}]")


def _check_fine_tune(c: _Checker, train, path: str) -> None:
    if not train.fine_tune_checkpoint:
        return
    if not train.fine_tune_checkpoint_type:
        c.warnings.append((f"{path}.fine_tune_checkpoint",
                           "fine_tune_checkpoint_type is not set: the OD API then restores it as "
                           "'classification' (backbone only)"))
    if not train.HasField("fine_tune_checkpoint_version"):
        c.error(f"{path}.fine_tune_checkpoint",
                "fine_tune_checkpoint_version: V2 is required with a fine_tune_checkpoint (the OD API default "
                "V1 is a TF1 name-based checkpoint, which detflow cannot restore)")


def _check_learning_rate(c: _Checker, lr, path: str) -> None:
    kind = lr.WhichOneof("learning_rate")
    if kind is None:
        c.error(path, "learning_rate needs one of constant_learning_rate, exponential_decay_learning_rate, "
                      "manual_step_learning_rate, cosine_decay_learning_rate")
        return
    schedule, spath = getattr(lr, kind), f"{path}.{kind}"
    if kind == "constant_learning_rate":
        c.positive(schedule, spath, "learning_rate")
    elif kind == "exponential_decay_learning_rate":
        c.positive(schedule, spath, "initial_learning_rate")
        c.positive(schedule, spath, "decay_steps")
        c.positive(schedule, spath, "decay_factor")
        if schedule.min_learning_rate < 0 or schedule.burnin_learning_rate < 0:
            c.error(spath, "learning rates must be >= 0")
    elif kind == "manual_step_learning_rate":
        c.positive(schedule, spath, "initial_learning_rate")
        previous = 0
        for i, entry in enumerate(schedule.schedule):
            epath = f"{spath}.schedule[{i}]"
            if entry.step <= previous and (i > 0 or schedule.warmup):
                c.error(f"{epath}.step", f"schedule steps must increase strictly (step {entry.step} after "
                                         f"{previous}{'; with warmup the first step must be > 0' if i == 0 else ''})")
            if entry.learning_rate < 0:
                c.error(f"{epath}.learning_rate", "learning_rate must be >= 0")
            previous = entry.step
    elif kind == "cosine_decay_learning_rate":
        c.positive(schedule, spath, "learning_rate_base")
        if schedule.total_steps < schedule.warmup_steps:
            c.error(f"{spath}.total_steps", f"total_steps ({schedule.total_steps}) must be >= warmup_steps "
                                            f"({schedule.warmup_steps})")
        if schedule.learning_rate_base < schedule.warmup_learning_rate:
            c.error(f"{spath}.learning_rate_base",
                    f"learning_rate_base ({num(schedule.learning_rate_base)}) must be >= warmup_learning_rate "
                    f"({num(schedule.warmup_learning_rate)})")


def _check_augmentation(c: _Checker, step, path: str) -> None:
    kind = step.WhichOneof("preprocessing_step")
    if kind is None:
        return
    op, opath = getattr(step, kind), f"{path}.{kind}"
    if kind == "random_horizontal_flip":
        c.unit(op, opath, "probability")
    elif kind in ("random_adjust_contrast", "random_adjust_saturation"):
        c.ordered(op, opath, "min_delta", "max_delta")
    elif kind in ("random_adjust_brightness", "random_adjust_hue"):
        if op.max_delta < 0:
            c.error(f"{opath}.max_delta", "max_delta must be >= 0")
    elif kind == "random_crop_image":
        c.ordered(op, opath, "min_area", "max_area")
        c.ordered(op, opath, "min_aspect_ratio", "max_aspect_ratio")
        c.unit(op, opath, "min_object_covered")
    elif kind == "random_scale_crop_and_pad_to_square":
        c.positive(op, opath, "output_size")
        c.ordered(op, opath, "scale_min", "scale_max")
    elif kind == "random_patch_gaussian":
        if op.min_patch_size < 1:
            c.error(f"{opath}.min_patch_size", f"must be >= 1 (got {op.min_patch_size})")
        if op.max_patch_size <= op.min_patch_size:
            c.error(f"{opath}.max_patch_size", f"{op.max_patch_size} must exceed min_patch_size ({op.min_patch_size})")
        c.ordered(op, opath, "min_gaussian_stddev", "max_gaussian_stddev")
        c.unit(op, opath, "random_coef")
    elif kind == "random_absolute_pad_image":
        for field in ("max_height_padding", "max_width_padding"):
            if getattr(op, field) < 0:
                c.error(f"{opath}.{field}", f"must be >= 0 (got {getattr(op, field)})")
        if len(op.pad_color) not in (0, 3):
            c.error(f"{opath}.pad_color", f"needs 3 values (RGB, 0..255) or none (got {len(op.pad_color)})")
    elif kind == "random_square_crop_by_scale":
        c.positive(op, opath, "max_border")
        c.positive(op, opath, "num_scales")
        c.positive(op, opath, "scale_min")
        c.ordered(op, opath, "scale_min", "scale_max")


def _check_keypoint_flips(c: _Checker, proto) -> None:
    """A random_horizontal_flip's keypoint_flip_permutation: one entry per keypoint of train_input_reader, each
    keypoint index once (the OD API gathers the keypoints with it)."""
    num_keypoints = proto.train_input_reader.num_keypoints
    for i, step in enumerate(proto.train_config.data_augmentation_options):
        permutation = list(step.random_horizontal_flip.keypoint_flip_permutation)
        path = f"train_config.data_augmentation_options[{i}].random_horizontal_flip.keypoint_flip_permutation"
        if not permutation:
            if num_keypoints and step.HasField("random_horizontal_flip"):
                c.error(path, f"is required: the records have {num_keypoints} keypoints per object "
                              "(train_input_reader.num_keypoints), and a flip must say which keypoint each becomes "
                              "(left and right swap; list 0..K-1 when none do). The OD API refuses this too")
            continue
        if len(permutation) != num_keypoints:
            c.error(path, f"has {len(permutation)} entries; it needs one per keypoint "
                          f"(train_input_reader.num_keypoints: {num_keypoints})")
        elif sorted(permutation) != list(range(num_keypoints)):
            c.error(path, f"{permutation} is not a permutation of 0..{num_keypoints - 1} (each keypoint index once)")


def _check_keypoint_input(c: _Checker, proto) -> None:
    """A CenterNet keypoint task trains on the records' keypoints: train_input_reader.num_keypoints must say how
    many each object has (the OD API's decoder reads none without it)."""
    model = proto.model
    if (model.WhichOneof("model") == "center_net" and model.center_net.keypoint_estimation_task
            and proto.HasField("train_input_reader") and not proto.train_input_reader.num_keypoints):
        c.error("train_input_reader.num_keypoints", "is required with a keypoint_estimation_task: the number of "
                                                    "keypoints per object in the records")


def _check_eval(c: _Checker, proto) -> None:
    ev = proto.eval_config
    if proto.HasField("eval_config"):
        if ev.batch_size <= 0:
            c.error("eval_config.batch_size", "batch_size must be > 0")
        c.unit(ev, "eval_config", "min_score_threshold")
    if len(proto.eval_input_reader) > 1:
        c.error("eval_input_reader[1]", f"detflow evaluates one eval_input_reader; this config has "
                                        f"{len(proto.eval_input_reader)}")
    _check_keypoint_metrics(c, ev)


def _check_keypoint_metrics(c: _Checker, ev) -> None:
    """`parameterized_metric { coco_keypoint_metrics }`: a class_label, and sigmas > 0 (OKS divides by them)."""
    for i, metric in enumerate(ev.parameterized_metric):
        if metric.WhichOneof("parameterized_metric") != "coco_keypoint_metrics":
            c.error(f"eval_config.parameterized_metric[{i}]", "is empty: it needs coco_keypoint_metrics { ... } (the "
                                                             "OD API refuses it too)")
            continue
        path = f"eval_config.parameterized_metric[{i}].coco_keypoint_metrics"
        keypoints = metric.coco_keypoint_metrics
        if not keypoints.class_label:
            c.error(f"{path}.class_label", "is required: the label-map class whose keypoints are scored")
        for label, sigma in sorted(keypoints.keypoint_label_to_sigmas.items()):
            if not sigma > 0:
                c.error(f"{path}.keypoint_label_to_sigmas", f"the sigma of {label!r} must be > 0 (got {num(sigma)})")
