"""The short summary `detflow config check` prints for a valid pipeline.config."""

from __future__ import annotations

from schemas.config_checks import num


def _backbone(config) -> str:
    fe = config.model.feature_extractor
    if config.meta_architecture == "faster_rcnn":
        return f"{fe.type} (batch_norm_trainable {str(fe.batch_norm_trainable).lower()})"
    if config.meta_architecture == "center_net":
        return f"{fe.type} (one stride-4 feature map; heads: object center, box scale and offset)"
    parts = [f"depth_multiplier {num(fe.depth_multiplier)}"]
    if fe.HasField("fpn"):
        parts.append(f"FPN levels {fe.fpn.min_level}-{fe.fpn.max_level} depth {fe.fpn.additional_layer_depth}")
    if fe.use_depthwise:
        parts.append("depthwise")
    return f"{fe.type} ({', '.join(parts)})"


def _input_size(config) -> str:
    resizer = config.model.image_resizer
    if resizer.HasField("fixed_shape_resizer"):
        return f"{resizer.fixed_shape_resizer.height}x{resizer.fixed_shape_resizer.width}"
    keep = resizer.keep_aspect_ratio_resizer
    padded = f", padded to {keep.max_dimension}x{keep.max_dimension}" if keep.pad_to_max_dimension else ""
    return f"shorter side {keep.min_dimension}, longer side at most {keep.max_dimension}{padded}"


def _learning_rate(lr) -> str:
    kind = lr.WhichOneof("learning_rate")
    s = getattr(lr, kind)
    if kind == "constant_learning_rate":
        return f"constant {num(s.learning_rate)}"
    if kind == "exponential_decay_learning_rate":
        text = (f"exponential_decay from {num(s.initial_learning_rate)}, x{num(s.decay_factor)} every "
                f"{s.decay_steps} steps{' (staircase)' if s.staircase else ''}")
        if s.burnin_steps:
            text += f", burn-in {num(s.burnin_learning_rate)} for {s.burnin_steps} steps"
        if s.min_learning_rate:
            text += f", min {num(s.min_learning_rate)}"
        return text
    if kind == "manual_step_learning_rate":
        steps = ", ".join(f"{num(e.learning_rate)} from step {e.step}" for e in s.schedule)
        warm = " (linear warm-up to the first step)" if s.warmup else ""
        return f"manual_step {num(s.initial_learning_rate)}{', ' + steps if steps else ''}{warm}"
    return (f"cosine_decay base {num(s.learning_rate_base)}, total_steps {s.total_steps}, "
            f"warm-up from {num(s.warmup_learning_rate)} for {s.warmup_steps} steps, "
            f"hold {s.hold_base_rate_steps} steps")


def _optimizer(opt) -> str:
    kind = opt.WhichOneof("optimizer")
    o = getattr(opt, kind)
    if kind == "momentum_optimizer":
        text = f"momentum {num(o.momentum_optimizer_value)}"
    elif kind == "adam_optimizer":
        text = f"adam (epsilon {num(o.epsilon)})"
    else:
        text = f"rms_prop (momentum {num(o.momentum_optimizer_value)}, decay {num(o.decay)})"
    average = f"moving average {num(opt.moving_average_decay)}" if opt.use_moving_average else "no moving average"
    return f"{text}, {average}"


def summarize(config) -> dict:
    """Facts about a valid PipelineConfig, in print order."""
    train = config.proto.train_config
    lr_kind = train.optimizer.WhichOneof("optimizer")
    checkpoint = train.fine_tune_checkpoint
    return {
        "architecture": config.meta_architecture,
        "backbone": _backbone(config),
        "input size": _input_size(config),
        "num_classes": config.num_classes,
        "batch size": train.batch_size,
        "steps": train.num_steps or "0 (forever, as in the OD API)",
        "optimizer": _optimizer(train.optimizer),
        "learning rate": _learning_rate(getattr(train.optimizer, lr_kind).learning_rate),
        "augmentation": ", ".join(s.WhichOneof("preprocessing_step") or "?"
                                  for s in train.data_augmentation_options) or "none",
        "fine-tune checkpoint": (f"{checkpoint} (type {train.fine_tune_checkpoint_type or 'classification'}, "
                                 f"version {'V2' if train.fine_tune_checkpoint_version == 2 else 'V1'})"
                                 if checkpoint else "none (training from scratch)"),
    }


def format_summary(summary: dict) -> str:
    """'key: value' lines with the values aligned."""
    width = max(len(key) for key in summary) + 1
    return "\n".join(f"{key + ':':<{width}} {value}" for key, value in summary.items())
