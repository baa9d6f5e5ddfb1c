"""Keras weight files as a `classification` fine-tune start: the backbone's layers loaded by name and shape.

What users have of an ImageNet backbone is a Keras file, not a TF2 checkpoint in the OD API's object
layout: the Keras-applications weights (`mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5`,
`resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`) or a whole model with the backbone nested inside
(a Teachable Machine `keras_model.h5`, a `.keras` file). The OD API builds its backbones from the Keras
applications with the same layer names (`networks/keras_backbones.py`), so each backbone layer is looked
up by name in the file and loaded when every weight it has is there with its shape.

Read:
- Keras 2 HDF5, whole model (`model_weights/<layer>/...`, nested models included) or weights only
  (`<layer>/<layer>/kernel:0`), weights named by each layer group's `weight_names`;
- Keras 3 `.keras` (a zip with `config.json` and `model.weights.h5`), loaded by Keras 3 itself.
A Keras 3 `.weights.h5` is refused: it names layers by class (`layers/conv2d_34/vars/0`), not by name.

Kept honest:
- a layer loads whole or not at all; one that does not fit is left as initialised and the report says
  why (e.g. the OD API's MobileNetV2 at depth 0.35 widens `Conv_1` to 448 channels, Keras keeps 1280);
- a conv whose file layer has a bias the OD API's layer lacks (Keras' ResNet has conv biases, the OD
  API's has none) is loaded with the bias folded into the batch norm that follows it (its moving mean
  minus the bias: the same function), or left initialised when no such batch norm is loaded;
- a file in which fewer than half of the backbone's weight tensors fit is refused, naming the first
  layers that did not.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import zipfile

import numpy as np

from detection.checkpoints.restore_report import RestoreReport
from schemas.problems import problem

LAYOUT = "keras_weights"
_SHOWN = 5


@dataclasses.dataclass
class FileLayer:
    """One layer of a Keras file: its name, where it sits in the file and its weights by short name."""

    name: str
    where: str
    weights: dict[str, np.ndarray]


def _short(weight_name: str) -> str:
    """`sequential_1/Conv1/kernel:0` → `kernel`."""
    return re.sub(r":\d+$", "", weight_name.rsplit("/", 1)[-1])


def _h5_layers(data: bytes | str, where: str) -> list[FileLayer]:
    """The layers of a Keras 2 HDF5 file (a path or its bytes)."""
    import h5py  # pylint: disable=import-outside-toplevel

    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with h5py.File(source, "r") as f:
        if "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f:
            raise problem(where, "a Keras 3 weights file (layers/<class name>/vars/N): it keeps no layer names, so "
                                 "the backbone's layers cannot be found in it; give the .keras model file or a "
                                 "Keras 2 .h5 (model.save('x.h5') or the Keras-applications weights)")
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise problem(where, "not a Keras weights file (no layer_names in it)")
        layers: dict[tuple[str, str], FileLayer] = {}
        for group_name in (n.decode() if isinstance(n, bytes) else n for n in root.attrs["layer_names"]):
            group = root[group_name]
            for weight_name in group.attrs.get("weight_names", []):
                weight_name = weight_name.decode() if isinstance(weight_name, bytes) else weight_name
                parts = weight_name.split("/")
                layer = parts[-2] if len(parts) > 1 else group_name
                key = (group_name, layer)
                if key not in layers:
                    inner = f"/{group_name}" if layer != group_name else ""
                    layers[key] = FileLayer(layer, f"{root.name.strip('/') or '.'}{inner}/{layer}", {})
                layers[key].weights[_short(weight_name)] = np.asarray(group[weight_name])
    return list(layers.values())


def _keras3_layers(path: str) -> list[FileLayer]:
    """The layers of a Keras 3 `.keras` file, loaded by Keras 3 (`keras.saving.load_model`)."""
    import keras  # pylint: disable=import-outside-toplevel

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file it cannot rebuild
        first = (str(error).strip().splitlines() or [repr(error)])[0]
        raise problem(path, f"Keras cannot load this .keras file: {first}") from None
    out, stack = [], [(model, model.name)]
    while stack:
        layer, where = stack.pop(0)
        children = [child for child in getattr(layer, "layers", [])]
        if children:
            stack = [(child, f"{where}/{child.name}") for child in children] + stack
        elif layer.weights:
            out.append(FileLayer(layer.name, where, {_short(w.name): np.asarray(w.numpy()) for w in layer.weights}))
    return out


def read_file_layers(path: str) -> list[FileLayer]:
    """Every layer with weights in a Keras file; ProblemsError naming the file when it cannot be read."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    if not tf.io.gfile.exists(path):
        raise problem(path, "Keras weights file not found")
    if path.lower().endswith(".keras"):
        if "://" in path:
            raise problem(path, "a .keras file is read from local disk only: copy it here first")
        return _keras3_layers(path)
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    if zipfile.is_zipfile(io.BytesIO(data)):
        raise problem(path, "a zip archive (a Keras 3 .keras file?): name it .keras")
    try:
        return _h5_layers(data, path)
    except OSError as error:
        raise problem(path, f"not an HDF5 file: {error}") from None


@dataclasses.dataclass
class _Fit:
    """How one backbone layer fits the file: its values to assign, or why it is left initialised."""

    layer: object
    values: dict[str, np.ndarray] | None = None
    reason: str = ""
    bias_to_fold: np.ndarray | None = None
    source: str = ""
    note: str = ""


def _fit(layer, candidates: list[FileLayer]) -> _Fit:
    if not candidates:
        return _Fit(layer, reason="no layer of this name in the file")
    reasons = []
    ours = {_short(w.name): tuple(w.shape) for w in layer.weights}
    for candidate in candidates:
        arrays = dict(candidate.weights)
        if "depthwise_kernel" in ours and "depthwise_kernel" not in arrays and "kernel" in arrays:
            arrays["depthwise_kernel"] = arrays.pop("kernel")      # Keras 3's DepthwiseConv2D names it `kernel`
        theirs = {k: tuple(v.shape) for k, v in arrays.items()}
        missing = [k for k in ours if k not in theirs]
        shapes = [f"{k} model {list(ours[k])}, file {list(theirs[k])}" for k in ours
                  if k in theirs and ours[k] != theirs[k]]
        extra = [k for k in theirs if k not in ours]
        if missing or shapes:
            reasons.append("; ".join(shapes + ([f"the file lacks {', '.join(missing)}"] if missing else [])))
            continue
        if extra and extra != ["bias"]:
            reasons.append(f"the file's layer has weights this layer has not: {', '.join(extra)}")
            continue
        values = {k: arrays[k] for k in ours}
        return _Fit(layer, values, bias_to_fold=arrays.get("bias") if extra else None,
                    source=candidate.where)
    return _Fit(layer, reason=" | ".join(reasons))


def _following_batch_norm(backbone, layer):
    """The batch-norm layer that takes `layer`'s output alone, if any."""
    for node in getattr(layer, "_outbound_nodes", []):
        nxt = node.outbound_layer
        if "BatchNormalization" in type(nxt).__name__ or "batch_norm" in type(nxt).__name__.lower():
            return nxt
    return None


def _fold_biases(backbone, fits: dict[str, _Fit]) -> None:
    """A file conv's bias the OD API's conv lacks goes into the next batch norm's moving mean, or the layer is left."""
    for fit in list(fits.values()):
        if fit.bias_to_fold is None:
            continue
        bn = _following_batch_norm(backbone, fit.layer)
        bn_fit = fits.get(bn.name) if bn is not None else None
        if bn_fit is None or bn_fit.values is None or "moving_mean" not in bn_fit.values:
            fit.values, fit.reason = None, ("the file's layer has a bias this layer has not, and no loaded batch "
                                            "norm follows it to fold the bias into")
            continue
        bn_fit.values = {**bn_fit.values, "moving_mean": bn_fit.values["moving_mean"] - fit.bias_to_fold}
        fit.note = f"its bias folded into the moving mean of {bn.name}"


def backbone_of(model):
    """The classification backbone a `classification` start restores (the whole ResNet for Faster R-CNN)."""
    return getattr(model, "classification_backbone", None) or model.backbone


def restore_backbone(model, path: str, fine_tune_checkpoint_type: str = "classification"):
    """Loads the backbone of `model` from the Keras file at `path`; returns a restore_report.RestoreReport.

    Raises ProblemsError (nothing assigned) for another type than `classification`, an unreadable
    file, or a file in which fewer than half the backbone's weight tensors fit.
    """
    from detection.architectures.registry import module_of  # pylint: disable=import-outside-toplevel
    from detection.checkpoints.restore import all_variable_paths  # pylint: disable=import-outside-toplevel

    if fine_tune_checkpoint_type != "classification":
        raise problem(path, f"a Keras weights file holds a backbone only: set fine_tune_checkpoint_type: "
                            f"\"classification\" (not {fine_tune_checkpoint_type!r}) to start from it")
    backbone = backbone_of(model)
    file_layers = read_file_layers(path)
    by_name: dict[str, list[FileLayer]] = {}
    for layer in file_layers:
        by_name.setdefault(layer.name, []).append(layer)
    ours = [layer for layer in backbone.layers if layer.weights]
    fits = {layer.name: _fit(layer, by_name.get(layer.name, [])) for layer in ours}
    _fold_biases(backbone, fits)
    loaded = [f for f in fits.values() if f.values is not None]
    tensors = sum(len(f.layer.weights) for f in fits.values())
    fitting = sum(len(f.layer.weights) for f in loaded)
    if fitting * 2 < tensors:
        left = [f"{f.layer.name} ({f.reason})" for f in fits.values() if f.values is None]
        raise problem(path, f"this Keras file does not hold this backbone: {fitting} of its {tensors} weight "
                            f"tensors fit ({len(loaded)} of {len(ours)} layers); e.g. "
                            + "; ".join(left[:_SHOWN]) + (f"; ... ({len(left) - _SHOWN} more)" if len(left) > _SHOWN
                                                          else "")
                            + ". Is it this architecture at this depth_multiplier / min_depth?")
    for fit in loaded:
        for weight in fit.layer.weights:
            weight.assign(fit.values[_short(weight.name)])
    report = RestoreReport(checkpoint=path, checkpoint_type="classification", layout=LAYOUT,
                           network_check="a Keras file: layer names and shapes checked")
    report.restored["backbone"] = fitting
    in_backbone = {id(w) for w in backbone.weights}
    left_ids = {id(w): f for f in fits.values() if f.values is None for w in f.layer.weights}
    for var, paths in all_variable_paths(model):
        where = paths[0] if paths else var.name
        if id(var) in left_ids:
            fit = left_ids[id(var)]
            report.reinitialized.append({"variable": where, "module": "backbone",
                                         "reason": f"layer {fit.layer.name}: {fit.reason}"})
        elif id(var) not in in_backbone:
            module = module_of(where, getattr(model, "architecture", None)) if paths else "unknown"
            report.reinitialized.append({"variable": where, "module": module,
                                         "reason": "not restored by type classification"})
    used = {f.source for f in loaded}
    for layer in file_layers:
        if layer.where not in used:
            reason = ("not a layer of this backbone" if layer.name not in fits else
                      "does not fit this backbone's layer of its name (see left_initialised)"
                      if fits[layer.name].values is None else "another layer of this name was loaded")
            report.unused.append({"variable": layer.where, "module": "file", "reason": reason})
    report.layers = {"loaded": [{"layer": f.layer.name, "from": f.source, **({"note": f.note} if f.note else {})}
                                for f in loaded],
                     "left_initialised": [{"layer": f.layer.name, "reason": f.reason}
                                          for f in fits.values() if f.values is None],
                     "backbone_layers": len(ours)}
    return report


def write_classification_checkpoint(model, out_dir: str) -> str:
    """Writes `model`'s backbone as the OD API's classification checkpoint; returns its prefix.

    `tf.train.Checkpoint(feature_extractor=backbone)` (keys `feature_extractor/layer_with_weights-N/...`)
    is what the OD API's `fine_tune_checkpoint_type: "classification"` reads, and detflow too.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    tf.io.gfile.makedirs(out_dir)
    return tf.train.Checkpoint(feature_extractor=backbone_of(model)).save(os.path.join(out_dir, "ckpt"))

