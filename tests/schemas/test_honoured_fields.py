"""Every field `schemas/field_support.py` marks honoured changes what detflow builds or trains.

One probe per field (tests/schemas/honoured_probes.py): the field's value is
changed on a small config and the part of detflow it belongs to must come out
different; a field limited to one value must have any other refused. A new
honoured field without a probe fails `test_every_honoured_field_has_a_probe`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import zlib

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from google.protobuf import text_format

from schemas import field_support
from schemas.protos import pipeline_pb2
from tests.schemas.honoured_probes import BASES, CONTAINERS, PROBES

LR_STEPS = (0, 1, 2, 5, 9, 10, 20, 49, 50, 51, 99, 100, 150, 199, 200, 500, 999, 1000, 5000)
_LAYER_KEYS = ("filters", "kernel_size", "strides", "padding", "use_bias", "depth_multiplier", "momentum", "epsilon",
               "center", "scale", "rate", "max_value")


def _digest(value) -> str:
    def norm(v):
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        if isinstance(v, (np.ndarray, tf.Tensor)):
            return norm(np.asarray(v, np.float64).round(6).ravel().tolist())
        if isinstance(v, float):
            return float(f"{v:.6g}")
        return v if isinstance(v, (int, str, bool, type(None))) else repr(v)
    return json.dumps(norm(value), sort_keys=True)


def _proto(name: str, *edits) -> pipeline_pb2.TrainEvalPipelineConfig:
    proto = text_format.Parse(BASES[name](), pipeline_pb2.TrainEvalPipelineConfig())
    for edit in edits:
        if edit is not None:
            edit(proto)
    return proto


def _example_batch(bundle, task):
    from detection.data import inputs  # pylint: disable=import-outside-toplevel
    from tests.detection import records  # pylint: disable=import-outside-toplevel
    rng = np.random.default_rng(3)
    image, boxes, labels = records.make_image(rng, 64, 3)
    keypoint_tasks = getattr(bundle.spec.training, "keypoint_tasks", ())
    num_keypoints = sum(t.num_keypoints for t in keypoint_tasks)
    keypoints = records.box_keypoints(rng, boxes, num_keypoints) if num_keypoints else None
    options = inputs.InputOptions.from_spec(bundle.spec, max_number_of_boxes=100, num_keypoints=num_keypoints)
    parse = inputs.make_parser(options, bundle.preprocess, targets=task.targets(options))
    images, label_dict = parse(tf.constant(records.example(image, boxes, labels, "probe.png", keypoints)))
    return images[None], tf.nest.map_structure(lambda t: t[None], label_dict)


def network_stages(proto):
    """The network fingerprint in stages, cheapest first: spec, variables, initial values, regularisation and
    anchors; layer settings; outputs and detections; losses. A probe stops at the first stage that differs."""
    from detection.architectures import registry  # pylint: disable=import-outside-toplevel
    from detection.checkpoints import restore  # pylint: disable=import-outside-toplevel
    from detection.networks import spec as spec_lib  # pylint: disable=import-outside-toplevel
    tf_keras.utils.set_random_seed(0)
    bundle = registry.build_detector(proto)
    model = bundle.model
    paths = restore.all_variable_paths(model)
    yield _digest({"spec": bundle.spec.to_dict(), "variables": [(p[0], v.shape.as_list()) for v, p in paths]})
    yield _digest({"initial": [(float(np.sum(v.numpy(), dtype=np.float64)),
                                float(np.sum(np.square(v.numpy()), dtype=np.float64))) for v, _ in paths],
                   "regularization": float(tf.add_n(model.losses)) if model.losses else 0.0,
                   "anchors": bundle.anchors if bundle.anchors is not None else []})
    layers = []
    for layer in spec_lib.all_layers(model):
        try:
            config = layer.get_config()
        except (NotImplementedError, TypeError):   # models and subclassed layers without a config
            config = {}
        picked = {k: config[k] for k in _LAYER_KEYS if k in config}
        trainable = layer.trainable if isinstance(layer, tf_keras.layers.BatchNormalization) else None
        layers.append(_digest([type(layer).__name__, picked, trainable]))
    yield _digest(sorted(layers))
    # CenterNet's post-processing acts on its heatmap's values: its kernels are fan-in scaled and its batch-norm
    # scales shrunk, or the ResNet's residual sums overflow, every score saturates and the peaks cannot differ.
    fan_in_scaled = bundle.spec.meta_architecture == "center_net"
    for var, path in paths:       # the same values for the same variable names: outputs show the function
        rng = np.random.default_rng(zlib.crc32(path[0].encode()))
        value = rng.uniform(-0.3, 0.3, var.shape.as_list())
        if fan_in_scaled and path[0].endswith("kernel") and len(var.shape) == 4:
            value *= np.sqrt(3.0 / np.prod(var.shape.as_list()[:3])) / 0.3
        if "moving_variance" in path[0]:
            value = np.abs(value) + 0.5
        elif "gamma" in path[0]:
            value = (value + 1.0) * (0.3 if fan_in_scaled else 1.0)
        var.assign(value.astype(np.float32))
    task = registry.task_for(bundle)
    images, labels = _example_batch(bundle, task)
    if bundle.spec.meta_architecture == "ssd":
        out = model(images, training=False)
        detections = model.postprocess(out)
        outputs = [out["box_encodings"], out["class_predictions_with_background"]]
    else:
        shapes = tf.concat([tf.cast(labels["image_shape"], tf.int32), tf.fill([tf.shape(images)[0], 1], 3)], 1)
        detections = model.detect(images, shapes)
        outputs = []
    yield _digest({"outputs": outputs, "detections": {k: detections[k] for k in (
        "detection_boxes", "detection_scores", "detection_classes", "num_detections", "detection_keypoints",
        "detection_keypoint_scores") if k in detections}})
    tf.random.set_seed(0)
    yield _digest({k: float(v) for k, v in task.losses(model, images, labels, model.losses).items()})


def network_fingerprint(proto) -> str:
    """Spec, variables, layer settings, initial values, regularisation, outputs, detections and losses."""
    return _digest(list(network_stages(proto)))


def training_fingerprint(proto) -> str:
    """Training settings, optimizer, learning rates over the steps, and augmentation output (keypoints too, with
    train_input_reader.num_keypoints)."""
    from detection.data import augmentations  # pylint: disable=import-outside-toplevel
    from detection.training import optimizers, precision, train_settings  # pylint: disable=import-outside-toplevel
    tc = proto.train_config
    settings = train_settings.TrainSettings.from_config(proto)
    optimizer = optimizers.build_optimizer(tc.optimizer)
    schedule = getattr(optimizer, "_learning_rate", optimizer.learning_rate)
    rates = [float(schedule(step)) if callable(schedule) else float(schedule) for step in LR_STEPS]
    config = {k: v for k, v in optimizer.get_config().items() if k != "learning_rate"}
    ops = augmentations.build_augmentations(tc.data_augmentation_options)
    rng = np.random.default_rng(5)
    image = tf.constant(rng.uniform(0, 1, (48, 40, 3)), tf.float32)
    boxes = tf.constant([[0.1, 0.1, 0.5, 0.4], [0.3, 0.5, 0.9, 0.95], [0.6, 0.2, 0.8, 0.3]], tf.float32)
    classes = tf.constant([1, 2, 1], tf.int32)
    num_keypoints = proto.train_input_reader.num_keypoints
    keypoints = tf.constant(rng.uniform(0, 1, (3, num_keypoints, 2)), tf.float32)
    tf.random.set_seed(0)
    drawn = []
    for _ in range(12):
        out = (image, boxes, classes, keypoints) if num_keypoints else (image, boxes, classes)
        for op in ops:
            out = op(*out)
        drawn.append([float(tf.reduce_mean(out[0])), list(out[0].shape), *out[1:]])
    # use_bfloat16 acts on a TPU only (as in the OD API): the policy training there would use.
    on_tpu = precision.resolve("auto", tc.use_bfloat16, on_tpu=True).policy
    return _digest({"settings": settings.__dict__, "optimizer": [type(optimizer).__name__, config, rates],
                    "augmentation": drawn, "precision_on_a_tpu": on_tpu})


@functools.lru_cache(maxsize=None)
def _base_model(name: str):
    from detection.architectures import registry  # pylint: disable=import-outside-toplevel
    return registry.build_detector(_proto(name)).model


def freeze_fingerprint(proto, base: str) -> str:
    """The variables that train."""
    from detection.checkpoints import freeze  # pylint: disable=import-outside-toplevel
    tc = proto.train_config
    kept = freeze.trainable_variables(_base_model(base), False, list(tc.freeze_variables),
                                      list(tc.update_trainable_variables))
    return _digest([v.name for v in kept])


def readers_fingerprint(proto) -> str:
    """What `detflow train` reads."""
    from detection.training import train_settings  # pylint: disable=import-outside-toplevel
    return _digest(train_settings.inputs_from_config(proto))


def evaluation_fingerprint(proto) -> str:
    """The keypoint metrics the Evaluator computes, against the keypoint probes' label map."""
    import dataclasses  # pylint: disable=import-outside-toplevel

    from components.evaluator.keypoint_metrics import keypoint_setup  # pylint: disable=import-outside-toplevel
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel
    from tests.schemas.probe_kit import LABEL_MAPS  # pylint: disable=import-outside-toplevel
    setup = keypoint_setup(proto, load_label_map(LABEL_MAPS / "probe_keypoints.pbtxt"))
    return _digest(dataclasses.asdict(setup) if setup else None)


def drawing_fingerprint(proto) -> str:
    """What `detflow predict` draws from a config (its keypoint edges), drawn on one detection with three keypoints."""
    from detection import visualize  # pylint: disable=import-outside-toplevel
    from detection.serving import predict  # pylint: disable=import-outside-toplevel
    keypoints = visualize.Keypoints([[[0.2, 0.2], [0.2, 0.8], [0.8, 0.5]]], [[0.9, 0.9, 0.9]],
                                    predict.keypoint_edges(proto))
    picture = visualize.draw_predictions(np.zeros((64, 64, 3), np.uint8), [[0.1, 0.1, 0.9, 0.9]], [1], [0.9],
                                         {1: "c1"}, keypoints=keypoints)
    return hashlib.sha256(np.asarray(picture).tobytes()).hexdigest()


def _stages(effect: str, proto, base: str):
    """The `effect` fingerprint of a config: the network's in stages, the others in one."""
    if effect == "network":
        yield from network_stages(proto)
    elif effect == "training":
        yield training_fingerprint(proto)
    elif effect == "freeze":
        yield freeze_fingerprint(proto, base)
    elif effect == "drawing":
        yield drawing_fingerprint(proto)
    elif effect == "evaluation":
        yield evaluation_fingerprint(proto)
    else:
        yield readers_fingerprint(proto)


@functools.lru_cache(maxsize=None)
def _base_stages(effect: str, serialized: bytes, base: str) -> tuple:
    """Every stage of a probe's base config, once per config and worker: most probes share their base's."""
    return tuple(_stages(effect, pipeline_pb2.TrainEvalPipelineConfig.FromString(serialized), base))


def _changes(effect: str, before, changed, base: str) -> bool:
    """True when the changed config's fingerprint differs from its base's; computed until the first stage that does."""
    reference = _base_stages(effect, before.SerializeToString(deterministic=True), base)
    return any(stage != reference[i] for i, stage in enumerate(_stages(effect, changed, base)))


def _errors(proto) -> list[str]:
    return [f"{f.path}: {f.message}" for f in field_support.classify(proto) if f.is_error]


def test_every_honoured_field_has_a_probe():
    honoured = {r.key for r in field_support.RULES if r.support is field_support.Support.HONOURED}
    assert sorted(honoured - set(PROBES) - CONTAINERS) == []
    assert sorted((set(PROBES) | CONTAINERS) - honoured) == []      # no probe for a field no longer honoured


def test_the_fingerprints_are_stable():
    proto = _proto("ssd")
    assert network_fingerprint(proto) == network_fingerprint(_proto("ssd"))
    assert training_fingerprint(proto) == training_fingerprint(_proto("ssd"))


@pytest.mark.parametrize("key", sorted(PROBES))
def test_changing_an_honoured_field_changes_what_detflow_does(key):
    probe = PROBES[key]
    base = _proto(probe.base, probe.prepare)
    changed = _proto(probe.base, probe.prepare, probe.edit)
    assert base != changed, f"{key}: the probe's edit changes nothing in the config"
    assert _errors(base) == [], f"{key}: base config refused: {_errors(base)}"
    if probe.effect == "refused":
        errors = _errors(changed)
        assert errors and any(key.split(".")[-1] in e for e in errors), (key, errors)
        return
    assert _errors(changed) == [], f"{key}: changed config refused: {_errors(changed)}"
    assert _changes(probe.effect, base, changed, probe.base), (
        f"{key}: changing it changed nothing detflow builds or trains ({probe.effect})")
