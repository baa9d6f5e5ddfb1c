"""TFLite export of an SSD or CenterNet detector, in the OD API's TFLite convention, float or post-training quantized.

The model (`export_tflite`) is built from an export's `assets/pipeline.config`
and restored from its `checkpoint/` with `full`, so it is the network the
SavedModel serves:
- input `input`: [1, height, width, 3] of the config's fixed_shape_resizer,
  already resized and normalised the way the feature extractor preprocesses
  (MobileNet: (2/255)x - 1; ResNet: x minus the VGG means; EfficientNet:
  (x/255 - ImageNet mean) / ImageNet std), float32; uint8 for int8 models,
  whose input quantization then maps raw pixels onto that range;
- SSD: the network, the config's score converter, then the
  `TFLite_Detection_PostProcess` op (regular per-class NMS with the config's
  thresholds and max_total_detections, box coder scales and the anchors), as
  `export_tflite_graph_tf2.py` builds it. A head without a background column
  (EfficientDet's `add_background_class: false`) goes in as it is: the op
  takes the column count minus num_classes as its label offset. The op
  keeps up to 100 boxes per class whatever max_detections_per_class says
  (the export notes it). With
  `use_class_agnostic_nms: true` the op runs its fast NMS (one NMS over each
  box's best class, the OD API exporter's default), which is what the
  SavedModel then computes too; with many classes it is far faster on device;
- CenterNet (as the OD API's `CenterNetModule`): the network and its own
  post-processing in builtin ops (the center heatmap's peaks: sigmoid, max
  pool, top-k, and the boxes at them), max_box_predictions detections; with a
  keypoint task also `detection_keypoints` [1, N, K, 2] (normalised y, x) and
  `detection_keypoint_scores` [1, N, K], as the OD API's `include_keypoints`
  export (six outputs: the Task Library's object detector reads four);
- outputs found by name: `detection_boxes` [1, N, 4] normalised ymin, xmin,
  ymax, xmax clipped to [0, 1], `detection_classes` (0-based class index:
  label-map id - 1, as the OD API's TFLite models), `detection_scores`,
  `num_detections`.
The file carries TFLite metadata (tflite_metadata.py): the normalisation and
the labels, so the TFLite Task Library / MediaPipe object detector loads it.

Quantization: `none` (float32), `float16` (weights), `int8` (weights and
activations, uint8 input, calibrated on `representative_size` images, 100 by
default, of the given TFRecords: use the train split).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from typing import Sequence

import numpy as np
import tensorflow as tf

from detection.architectures import registry
from detection.checkpoints import restore
from detection.data import resizing
from detection.networks.spec import DetectorBundle
from detection.serving import export as export_lib
from detection.serving import tflite_metadata
from schemas import model_layout
from schemas.problems import problem

QUANTIZE_MODES = ("none", "float16", "int8")
DEFAULT_REPRESENTATIVE_SIZE = 100
POSTPROCESS_OP = "TFLite_Detection_PostProcess"


@dataclasses.dataclass
class TfliteExport:
    """What `export_tflite` wrote."""

    path: str
    quantize: str
    input_shape: list[int]
    input_dtype: str
    size_bytes: int
    representative_images: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)


# TFLite_Detection_PostProcess's default; the converter does not pass detections_per_class on.
TFLITE_DETECTIONS_PER_CLASS = 100



def normalization(bundle: DetectorBundle) -> tuple[list[float], list[float]]:
    """(mean, std) per RGB channel of the detector's own preprocessing: input = (pixel - mean) / std.

    Read off `bundle.preprocess` itself (its values at pixels 0 and 255), so a feature extractor's
    normalisation cannot drift from what the metadata says; ValueError if it is not per-channel affine.
    """
    probe = tf.constant([[[[0.0] * 3, [255.0] * 3, [100.0] * 3]]], tf.float32)
    out = bundle.preprocess(probe).numpy().astype(np.float64)[0, 0]
    scale = (out[1] - out[0]) / 255.0                     # 1 / std
    std = 1.0 / scale
    mean = -out[0] * std
    if not np.allclose((100.0 - mean) / std, out[2], rtol=1e-4, atol=1e-4):
        raise ValueError(f"{bundle.spec.feature_extractor}: preprocessing is not (pixel - mean) / std per channel")
    return [float(f"{m:.6g}") for m in mean], [float(f"{v:.6g}") for v in std]


def check_exportable(bundle: DetectorBundle, where: str) -> None:
    """ProblemsError unless the model's architecture exports to TFLite and has a fixed input size."""
    spec = bundle.spec
    _check_tflite_model(spec.meta_architecture, not spec.input.keep_aspect_ratio, where,
                        "; export this model with --format saved_model",
                        center_net_nms=getattr(getattr(bundle.model, "settings", None), "nms", None) is not None)


def check_config_exportable(pipeline_proto, where: str) -> None:
    """`check_exportable` on a parsed pipeline.config, before anything is built or trained."""
    kind = pipeline_proto.model.WhichOneof("model") or ""
    model = getattr(pipeline_proto.model, kind) if kind else None
    fixed = bool(model) and model.image_resizer.WhichOneof("image_resizer_oneof") == "fixed_shape_resizer"
    _check_tflite_model(kind, fixed, where,
                        center_net_nms=kind == "center_net" and model.HasField("post_processing"))


def _check_tflite_model(meta_architecture: str, fixed_size: bool, where: str,
                        advice: str = "", center_net_nms: bool = False) -> None:
    family = registry.architecture(meta_architecture)
    if not family.exports.tflite:
        raise problem(where, f"{family.config_path}: {family.exports.tflite_refusal}{advice}")
    if center_net_nms:
        raise problem(where, f"{family.config_path}.post_processing: TFLite has no builtin op for CenterNet's NMS "
                             "(the OD API's CenterNet TFLite export cannot convert it either): export without "
                             f"post_processing, whose detections are the heatmap's peaks{advice}")
    if not fixed_size:
        raise problem(where, f"{family.config_path}.image_resizer: TFLite needs a fixed input size: "
                             "use fixed_shape_resizer (as the OD API's TFLite export does; for a "
                             "keep_aspect_ratio_resizer with pad_to_max_dimension, height and width = "
                             f"max_dimension){advice}")


def _postprocess_signature(bundle: DetectorBundle) -> str:
    post, scales = bundle.model.post, bundle.model.box_coder_scales
    attrs = [("max_detections", "i", post.max_total_detections), ("max_classes_per_detection", "i", 1),
             ("use_regular_nms", "b", "false" if post.class_agnostic else "true"),
             ("nms_score_threshold", "f", post.score_threshold), ("nms_iou_threshold", "f", post.iou_threshold),
             ("y_scale", "f", scales[0]), ("x_scale", "f", scales[1]), ("h_scale", "f", scales[2]),
             ("w_scale", "f", scales[3]), ("num_classes", "i", bundle.spec.num_classes)]
    values = " ".join(f'attr {{ key: "{k}" value {{ {t}: {v if t != "f" else f"{float(v):.9g}"} }} }}'
                      for k, t, v in attrs)
    return f'name: "{POSTPROCESS_OP}" {values}'


def _center_size_anchors(anchors: np.ndarray) -> np.ndarray:
    heights, widths = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    return np.stack([anchors[:, 0] + heights / 2, anchors[:, 1] + widths / 2, heights, widths], 1).astype(np.float32)


class TfliteDetector(tf.Module):
    """The network and its post-processing in TFLite ops (see the module doc)."""

    def __init__(self, bundle: DetectorBundle):
        super().__init__(name="detflow_tflite_detector")
        self._bundle = bundle
        self.model_variables = list(bundle.model.variables)
        spec = bundle.spec
        self.input_signature = [tf.TensorSpec([1, spec.input.height, spec.input.width, 3], tf.float32, name="input")]
        if spec.meta_architecture == "center_net":
            self.infer = tf.function(self._center_net, autograph=False, input_signature=self.input_signature)
            return
        anchors = tf.constant(_center_size_anchors(bundle.anchors))

        @tf.function(experimental_implements=_postprocess_signature(bundle))
        def postprocess(box_encodings, class_scores, anchor_boxes):  # replaced by the op in the .tflite
            del box_encodings, class_scores, anchor_boxes
            zero = tf.constant(0.0)
            return zero, zero, zero, zero

        def infer(images):
            from detection.networks import postprocess as post_lib  # pylint: disable=import-outside-toplevel
            model = self._bundle.model
            out = model(images, training=False)
            scores = post_lib.score_converter(out["class_predictions_with_background"], model.post.score_converter,
                                              model.post.logit_scale)
            boxes, classes, scores, num = postprocess(out["box_encodings"], scores, anchors)
            return {"detection_boxes": tf.clip_by_value(boxes, 0.0, 1.0), "detection_classes": classes,
                    "detection_scores": scores, "num_detections": num}

        self.infer = tf.function(infer, autograph=False, input_signature=self.input_signature)

    def _center_net(self, images):
        """CenterNet's peaks and boxes, on the whole (fixed-size) input; classes 0-based as the OD API's TFLite."""
        spec = self._bundle.spec
        shapes = tf.constant([[spec.input.height, spec.input.width, 3]], tf.int32)
        out = self._bundle.model.postprocess(self._bundle.model(images, training=False), shapes)
        result = {"detection_boxes": out["detection_boxes"],
                  "detection_classes": tf.cast(out["detection_classes"], tf.float32),
                  "detection_scores": out["detection_scores"],
                  "num_detections": tf.cast(out["num_detections"], tf.float32)}
        result.update({k: out[k] for k in tflite_metadata.KEYPOINT_OUTPUTS if k in out})
        return result


def representative_images(patterns: str | Sequence[str], bundle: DetectorBundle, size: int) -> list[np.ndarray]:
    """Up to `size` images of OD API TFRecords, resized and preprocessed as the model's input [1, H, W, 3]."""
    from detection.data import inputs  # pylint: disable=import-outside-toplevel
    from detection.data.tf_example import decode_example  # pylint: disable=import-outside-toplevel
    from schemas.example_format import records_dataset  # pylint: disable=import-outside-toplevel
    try:
        files = inputs.expand_globs(patterns)
    except ValueError as error:
        raise problem("--representative-data", str(error)) from None
    inputs.check_records(files)
    spec, out = bundle.spec, []
    dataset = records_dataset(files)
    for serialized in dataset.take(size):
        image = tf.cast(decode_example(serialized)["image"], tf.float32)
        resized, _ = resizing.resize_to_input(bundle.preprocess(image)[None], spec.input.height, spec.input.width)
        out.append(resized.numpy().astype(np.float32))
    if not out:
        raise problem("--representative-data", f"{', '.join(files)}: no images to calibrate int8 on")
    return out


def convert(bundle: DetectorBundle, quantize: str = "none", representative: Sequence[np.ndarray] = ()) -> bytes:
    """The .tflite bytes (without metadata) of `bundle` for a quantize mode of QUANTIZE_MODES."""
    if quantize not in QUANTIZE_MODES:
        raise problem("--quantize", f"{quantize!r} is not one of {', '.join(QUANTIZE_MODES)}")
    if quantize == "int8" and not representative:
        raise problem("--representative-data", "int8 needs representative images (TFRecords of the train split)")
    module = TfliteDetector(bundle)
    with tempfile.TemporaryDirectory(prefix="detflow-tflite-") as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.infer.get_concrete_function()})
        return convert_saved_model(tmp, quantize, representative)


def convert_saved_model(saved_model_dir: str, quantize: str = "none",
                        representative: Sequence[np.ndarray] = ()) -> bytes:
    """Runs the TFLite converter on a SavedModel; ProblemsError with the converter's first line if it fails.

    Only TFLite builtin ops (and the OD API's custom detection op) are allowed: a
    model that needs TF ops is refused here, not shipped needing Flex delegates.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image] for image in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.uint8
    try:
        return converter.convert()
    except Exception as error:  # the converter's ConverterError carries the op it could not convert
        text = str(error)
        ops = sorted(set(re.findall(r"^\s*'?(tf\.\w+)", text, re.MULTILINE)))
        if ops:
            raise problem("TFLite converter", f"cannot convert this model: no TFLite builtin kernel for "
                                               f"{', '.join(ops)} (detflow exports builtin ops only)") from None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        raise problem("TFLite converter", f"cannot convert this model: {(lines or [repr(error)])[0]}") from None


def load_export(export_dir: str) -> tuple[DetectorBundle, str]:
    """(the detector of an export, restored from its checkpoint with `full`; its config text)."""
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel
    config_path = model_layout.export_config(export_dir)
    if not tf.io.gfile.exists(config_path):
        raise problem(export_dir, "not a detflow export: no assets/pipeline.config (export a trained model dir's "
                                   "export/ folder, or a pushed model)")
    with tf.io.gfile.GFile(config_path) as f:
        text = f.read()
    config = parse_pipeline_config_text(text, config_path)
    from detection.training.train_settings import resolve_relative_paths  # pylint: disable=import-outside-toplevel
    resolve_relative_paths(config.proto, config_path)       # a keypoint label map beside the config
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, export_dir, "full", pipeline_proto=config.proto)
    return bundle, text


def labels_of(export_dir: str, num_classes: int) -> list[str]:
    """One label per class index 0..num_classes-1 (id - 1): the label map's names, '???' for unused ids."""
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel
    path = export_lib.find_label_map(export_dir)
    names = {item.id: item.name for item in load_label_map(path).items} if path else {}
    return [names.get(i, "???") for i in range(1, num_classes + 1)]


def export_tflite(export_dir: str, out_path: str, quantize: str = "none",
                  representative_data: str | Sequence[str] | None = None,
                  representative_size: int = DEFAULT_REPRESENTATIVE_SIZE) -> TfliteExport:
    """Writes the .tflite of the export at `export_dir` to `out_path` (see the module doc)."""
    bundle, _ = load_export(export_dir)
    return write_tflite(bundle, labels_of(export_dir, bundle.spec.num_classes), out_path, quantize,
                        representative_data, representative_size, where=export_dir)


def write_tflite(bundle: DetectorBundle, labels: Sequence[str], out_path: str, quantize: str = "none",
                 representative_data: str | Sequence[str] | None = None,
                 representative_size: int = DEFAULT_REPRESENTATIVE_SIZE, where: str | None = None) -> TfliteExport:
    """Writes the .tflite of a built, restored detector with its metadata (one label per class) to `out_path`;
    a detector TFLite cannot hold is refused naming `where` (default `out_path`)."""
    check_exportable(bundle, where or out_path)
    representative = (representative_images(representative_data, bundle, representative_size)
                      if quantize == "int8" and representative_data else [])
    flat = convert(bundle, quantize, representative)
    mean, std = normalization(bundle)
    keypoints = bool(getattr(getattr(bundle.model, "settings", None), "keypoint_tasks", ()))
    metadata = tflite_metadata.object_detector_metadata(
        mean, std, uint8_input=quantize == "int8", name=f"detflow {bundle.spec.feature_extractor}",
        description=f"{_FAMILY_NAMES[bundle.spec.meta_architecture]} {bundle.spec.feature_extractor}, "
                    f"{bundle.spec.input.height}x{bundle.spec.input.width}, {quantize} (detflow)",
        keypoints=keypoints)
    flat = tflite_metadata.with_metadata(flat, metadata, list(labels))
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(flat)
    os.replace(tmp, out_path)
    spec = bundle.spec
    return TfliteExport(path=out_path, quantize=quantize, input_shape=[1, spec.input.height, spec.input.width, 3],
                        input_dtype="uint8" if quantize == "int8" else "float32", size_bytes=len(flat),
                        representative_images=len(representative), notes=_postprocess_notes(bundle))


_FAMILY_NAMES = {"ssd": "SSD", "center_net": "CenterNet"}


def _postprocess_notes(bundle: DetectorBundle) -> list[str]:
    """Where the TFLite post-processing op cannot do what the config asks (said, not hidden)."""
    post = getattr(bundle.model, "post", None)
    if post is None:               # CenterNet: its own post-processing, converted as it is
        return []
    per_class = post.max_detections_per_class
    if post.class_agnostic or per_class >= min(TFLITE_DETECTIONS_PER_CLASS, post.max_total_detections):
        return []
    return [f"post_processing.batch_non_max_suppression.max_detections_per_class {per_class}: the TFLite "
            f"detection op keeps up to {TFLITE_DETECTIONS_PER_CLASS} boxes per class (the converter has no "
            "setting for it, as with the OD API's exporter); the SavedModel keeps the config's limit"]




def export_variants(export_dir: str, out_dir: str, modes: Sequence[str], train_files: Sequence[str],
                    representative_size: int = DEFAULT_REPRESENTATIVE_SIZE) -> dict[str, dict]:
    """Writes one .tflite per mode into `out_dir`; {mode: {file, size_bytes, representative_images, notes}}."""
    written = {}
    for mode in modes:
        result = export_tflite(export_dir, os.path.join(out_dir, model_layout.tflite_file(mode)), mode,
                               train_files if mode == "int8" else None, representative_size)
        written[mode] = {"file": model_layout.tflite_file(mode), "size_bytes": result.size_bytes,
                         "representative_images": result.representative_images, "notes": result.notes}
    return written


def check_modes(modes: Sequence[str], where: str) -> None:
    """ProblemsError naming `where` unless every mode is one of QUANTIZE_MODES, each once."""
    unknown = [m for m in modes if m not in QUANTIZE_MODES]
    if unknown or len(set(modes)) != len(modes):
        raise problem(where, f"{','.join(modes)}: expected distinct modes of {', '.join(QUANTIZE_MODES)}")
