"""Exports a detector as a SavedModel with the OD API's serving contract.

Signatures:
- `serving_default`: `input_tensor` uint8 [batch, H, W, 3], any H and W.
- `serving_bytes`: `encoded_image_string_tensor` string [batch] (JPEG/PNG/...;
  images of one batch may differ in size).
Outputs of both: `detection_boxes` float32 [batch, N, 4] normalised
ymin, xmin, ymax, xmax in [0, 1] relative to the ORIGINAL image,
`detection_scores` float32 [batch, N], `detection_classes` float32 [batch, N]
(label-map ids, 1-based), `num_detections` float32 [batch]; a CenterNet with a keypoint task adds the OD
API's `detection_keypoints` float32 [batch, N, K, 2] (y, x normalised as the boxes) and
`detection_keypoint_scores` float32 [batch, N, K].

Images are resized inside as the OD API's image resizer does
(fixed_shape_resizer: to the input size, aspect not kept;
keep_aspect_ratio_resizer: scaled to fit min/max_dimension and padded to a
max_dimension square), normalised by the network's own preprocessing, and run
through the network and its post-processing:
- SSD (the OD API's networks): `SsdDetector.postprocess`, the OD API's: boxes
  normalised to the input and clipped to the window, classes 0-based, then
  + 1 as the OD API's exporter adds label_id_offset;
- Faster R-CNN (the OD API's network): `FasterRcnnDetector.detect` with the
  resized (unpadded) size as the true image shape: boxes normalised to it,
  classes 0-based, then + 1 as the OD API's exporter adds label_id_offset.
Either way boxes come out normalised to the original image.

Layout of the export directory:
    saved_model.pb, variables/          the SavedModel
    assets/label_map.pbtxt              the label map
    assets/pipeline.config              the effective pipeline.config
    assets/keypoint_label_map.pbtxt     a CenterNet keypoint task's label map (the config names it
                                        relative to itself)
    checkpoint/ckpt-N.{index,data-*}    the training checkpoint, with a
    checkpoint/checkpoint               `checkpoint` state file: fine-tune
                                        from this directory with type
                                        `detection` (restore.find_checkpoint)
The whole directory is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import Any

import tensorflow as tf

from detection.architectures import registry
from detection.data import resizing
from detection.networks.spec import DetectorBundle, ModelSpec
from schemas import model_layout
from schemas.model_layout import KEYPOINT_LABEL_MAP_FILE, LABEL_MAP_FILE, PIPELINE_CONFIG_FILE

BYTES_SIGNATURE = "serving_bytes"


def resize_for_model(images: tf.Tensor, spec: ModelSpec) -> tuple[tf.Tensor, tf.Tensor]:
    """Resizes a same-size batch [B,h,w,3] as the config's image_resizer does.

    Returns (float32 0..255 images [B, input_height, input_width, 3], the
    valid (unpadded) height/width of the resized image as float32 [2]).
    The geometry is `resizing.resize_to_input`, the one the training inputs use.
    """
    return resizing.resize_to_input(images, spec.input.height, spec.input.width, spec.input.keep_aspect_ratio,
                                    spec.input.min_dimension, spec.input.max_dimension)


class _Ref:  # not trackable: keeps tf_keras from serialising every layer (minutes per export); also holds
    # the traced signatures, which must not become saved attributes (tf.saved_model.save would re-trace them)
    __slots__ = ("model",)

    def __init__(self, model):
        self.model = model


class DetectionModule(tf.Module):
    """The serving module: the model's variables (tracked as a list) + the two signatures."""

    def __init__(self, bundle: DetectorBundle):
        super().__init__(name="detflow_detector")
        self._ref = _Ref(bundle)
        self.model_variables = list(bundle.model.variables)
        self._spec = bundle.spec
        self._architecture = registry.architecture(bundle.spec.meta_architecture)
        self._traced = _Ref({})   # signatures, untracked too: the saved module gets them as its signatures only

    def _detect(self, inputs: tf.Tensor, valid_hw: tf.Tensor) -> dict[str, tf.Tensor]:
        """inputs: resized, preprocessed [B, H_in, W_in, 3]; valid_hw: [B, 2] unpadded resized sizes."""
        outputs = self._architecture.detect(self._ref.model, inputs, valid_hw)
        boxes = outputs["detection_boxes"]
        num = tf.cast(outputs["num_detections"], tf.float32)
        scores = tf.cast(outputs["detection_scores"], tf.float32)
        classes = tf.cast(outputs["detection_classes"], tf.float32) + 1.0     # the exporter's label_id_offset
        # Padding rows past num_detections: zero, as the OD API's exports have them.
        valid = tf.sequence_mask(tf.cast(num, tf.int32), tf.shape(scores)[1], dtype=tf.float32)
        result = {"detection_boxes": boxes * valid[:, :, None], "detection_scores": scores * valid,
                  "detection_classes": classes * valid, "num_detections": num}
        if "detection_keypoints" in outputs:
            result["detection_keypoints"] = outputs["detection_keypoints"] * valid[:, :, None, None]
            result["detection_keypoint_scores"] = outputs["detection_keypoint_scores"] * valid[:, :, None]
        return result

    def _prepare(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """0..255 images → (network input, valid resized height/width), in the OD API's order.

        Each architecture's order (SSD normalises then resizes, Faster R-CNN resizes and pads then
        normalises, as the OD API's meta-architectures do): bilinear resizing is linear, so only
        rounding and the value of the padding differ, and this keeps even the rounding the OD API's.
        """
        return self._architecture.prepare(self._ref.model, images, lambda x: resize_for_model(x, self._spec))

    def serve_tensor(self, input_tensor):
        """OD API `serving_default`: uint8 images of one size."""
        inputs, hw = self._prepare(input_tensor)
        return self._detect(inputs, tf.tile(hw[None], [tf.shape(inputs)[0], 1]))

    def serve_bytes(self, encoded_image_string_tensor):
        """Encoded images (any format tf.io.decode_image reads), each of its own size."""
        spec = self._spec

        def one(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image.set_shape([None, None, 3])
            prepared, hw = self._prepare(image[None])
            return prepared[0], hw

        images, hw = tf.map_fn(one, encoded_image_string_tensor, fn_output_signature=(
            tf.TensorSpec([spec.input.height, spec.input.width, 3], tf.float32),
            tf.TensorSpec([2], tf.float32)))
        return self._detect(images, hw)

    def signatures(self) -> dict[str, Any]:
        """Concrete functions of both signatures, traced once (and kept: a second call returns them).

        They are tf.functions over plain closures, not methods kept on the
        module: `tf.saved_model.save` re-traces tf.function attributes,
        which doubles an export's time. AutoGraph is off: the serving code
        and Model Garden's layers have no data-dependent Python control flow,
        and converting every layer's call took two thirds of an export.
        """
        if self._traced.model:
            return self._traced.model
        tensor_fn = tf.function(self.serve_tensor, autograph=False, input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.uint8, name="input_tensor")])
        bytes_fn = tf.function(self.serve_bytes, autograph=False, input_signature=[
            tf.TensorSpec([None], tf.string, name="encoded_image_string_tensor")])
        self._traced.model.update({"serving_default": tensor_fn.get_concrete_function(),
                                   BYTES_SIGNATURE: bytes_fn.get_concrete_function()})
        return self._traced.model


def _copy_checkpoint(prefix: str, out_dir: str) -> str:
    tf.io.gfile.makedirs(out_dir)
    name = os.path.basename(prefix)
    for path in tf.io.gfile.glob(prefix + ".*"):
        if path.endswith(".index") or ".data-" in path:
            tf.io.gfile.copy(path, os.path.join(out_dir, os.path.basename(path)), overwrite=True)
    with tf.io.gfile.GFile(os.path.join(out_dir, "checkpoint"), "w") as f:  # the state file, relative path
        f.write(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
    return os.path.join(out_dir, name)


_KEYPOINT_LABEL_MAP_PATH = re.compile(r"""(keypoint_label_map_path\s*:\s*)(["'])(?:(?!\2).)*\2""")


def _with_keypoint_label_map(bundle: DetectorBundle, config_text: str, staging: str) -> tuple[str, str | None]:
    """A CenterNet keypoint task's label map copied into the assets, and the config text naming it there by a
    path relative to the config (read beside it: `schemas.config_paths`), so that the export, moved or pushed,
    still builds; (config text, the copy or None)."""
    model = bundle.model_config
    if bundle.spec.meta_architecture != "center_net" or not model.keypoint_estimation_task:
        return config_text, None
    copy = os.path.join(staging, KEYPOINT_LABEL_MAP_FILE)
    tf.io.gfile.copy(model.keypoint_label_map_path, copy, overwrite=True)
    return _KEYPOINT_LABEL_MAP_PATH.sub(rf'\1"{KEYPOINT_LABEL_MAP_FILE}"', config_text), copy


def export_saved_model(bundle: DetectorBundle, label_map_path: str | None,
                       pipeline_config_text: str, checkpoint_prefix: str | None, out_dir: str,
                       module: "DetectionModule | None" = None) -> str:
    """Writes the SavedModel + label map + pipeline.config + checkpoint to `out_dir` (layout: module doc).

    `checkpoint_prefix` is the training checkpoint to ship (a
    `tf.train.Checkpoint(model=model)` prefix); None writes one from `model`.
    `module`: the bundle's DetectionModule when the caller already traced its
    signatures (`DetectionModule.signatures` keeps them), else a new one.
    Returns out_dir. An existing out_dir is replaced only once the new export
    is complete.
    """
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(out_dir) + ".tmp-", dir=parent)
    staging = tempfile.mkdtemp(prefix="detflow-export-assets-")
    try:
        label_map_copy = os.path.join(staging, LABEL_MAP_FILE)
        if label_map_path:
            tf.io.gfile.copy(label_map_path, label_map_copy, overwrite=True)
        else:
            with open(label_map_copy, "w", encoding="utf-8") as f:
                f.write("".join(f'item {{ id: {i} name: "class_{i}" }}\n'
                                for i in range(1, bundle.spec.num_classes + 1)))
        pipeline_config_text, keypoint_label_map = _with_keypoint_label_map(bundle, pipeline_config_text, staging)
        config_copy = os.path.join(staging, PIPELINE_CONFIG_FILE)
        with open(config_copy, "w", encoding="utf-8") as f:
            f.write(pipeline_config_text)

        ckpt_dir = model_layout.export_checkpoint_dir(tmp)
        if checkpoint_prefix:
            _copy_checkpoint(checkpoint_prefix, ckpt_dir)
        else:
            manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=bundle.model), ckpt_dir, max_to_keep=1)
            manager.save(checkpoint_number=0)

        module = module or DetectionModule(bundle)
        module.label_map = tf.saved_model.Asset(label_map_copy)
        module.pipeline_config = tf.saved_model.Asset(config_copy)
        if keypoint_label_map:
            module.keypoint_label_map = tf.saved_model.Asset(keypoint_label_map)
        tf.saved_model.save(module, tmp, signatures=module.signatures())
        if os.path.exists(out_dir):
            old = out_dir + ".old-" + os.path.basename(tmp)
            os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def find_label_map(export_dir: str) -> str | None:
    """The label map of an export (the first of `model_layout.export_label_maps` that exists), or None."""
    for candidate in model_layout.export_label_maps(export_dir):
        if tf.io.gfile.exists(candidate):
            return candidate
    return None
