"""Runs the detectors users already have, as `serving_default` would: the runner behind `predict` and the Evaluator.

`load_model(path)` reads:
- a SavedModel with `serving_default` taking images (`input_tensor` uint8, as the OD API's
  `exporter_main_v2.py` and detflow export): the folder itself, an OD API export folder (its
  `saved_model/`), or a TFX Model artifact (its `Format-Serving/`);
- a `.tflite` detector, quantized or float, whose four outputs are found, in this order of trust:
  by its SignatureDef (`detection_boxes`, `detection_classes`, `detection_scores`, `num_detections`),
  by its TFLite metadata (output tensors `location`, `category`, `score`, `number of detections`), by
  the names of the `TFLite_Detection_PostProcess` op's outputs (`...PostProcess`, `:1`, `:2`, `:3` are
  boxes, classes, scores, count), or by that op's order (what the TFLite Task Library falls back to).
Anything else is refused in one line saying what was found (ProblemsError).

Every model is called the same way: uint8 images [B, H, W, 3] of one size → `detection_boxes`
(normalised ymin, xmin, ymax, xmax), `detection_scores`, `detection_classes` (label-map ids, 1-based:
a TFLite model's 0-based class index + 1, as the OD API's and the Task Library's label files count),
`num_detections`. TFLite inputs: uint8 models get the raw pixels resized to their input (the Task
Library's contract); float models get them normalised with the metadata's mean/std, else (x - 127.5)
/ 127.5 (the OD API's MobileNet preprocessing), which `kind` then says was assumed.

A model that also gives the OD API's CenterNet keypoint outputs (`detection_keypoints` [B, N, K, 2], normalised
y, x as the boxes, and `detection_keypoint_scores` [B, N, K]) is called for those too: a SavedModel whose
`serving_default` has both, a TFLite file whose signature names both (`Detector.keys` lists what a call gives).

Class names: `--label-map` when given; else the label map a detflow export carries, the one an OD API
export's pipeline.config names (when that file exists), or a TFLite file's packed labels.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence

import numpy as np

from schemas.model_layout import PIPELINE_CONFIG_FILE, SAVED_MODEL_FOLDERS, export_config
from schemas.problems import problem

DETECTION_KEYS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
KEYPOINT_KEYS = ("detection_keypoints", "detection_keypoint_scores")
MOBILENET_NORMALIZATION = ([127.5, 127.5, 127.5], [127.5, 127.5, 127.5])
# The TFLite_Detection_PostProcess op's output order, and the TFLite metadata names of the same tensors.
POSTPROCESS_ORDER = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")
# Words of the TFLite metadata's output names ("location"/"locations", "category"/"classes", "score"/"scores",
# "number of detections"): the metadata writers' spellings differ between versions.
METADATA_WORDS = (("location", "detection_boxes"), ("box", "detection_boxes"), ("categor", "detection_classes"),
                  ("class", "detection_classes"), ("score", "detection_scores"), ("number", "num_detections"))


@dataclasses.dataclass
class Labels:
    """Class names by label-map id, and where they came from."""

    names: dict[int, str] = dataclasses.field(default_factory=dict)
    shown: dict[int, str] = dataclasses.field(default_factory=dict)
    source: str = "none"


class Detector:
    """A loaded detector: `__call__(uint8 [B,H,W,3])` → the arrays named in `keys` (see the module doc)."""

    kind: str = ""
    path: str = ""
    keys: tuple[str, ...] = DETECTION_KEYS

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def default_labels(self) -> Labels:
        """The class names the model itself carries."""
        return Labels()

    def pipeline_config(self):
        """The TrainEvalPipelineConfig the model was exported with, when it carries one; else None."""
        return None


class SavedModelDetector(Detector):
    """`serving_default` of a SavedModel; batches split to fit a signature whose batch size is fixed."""

    def __init__(self, path: str, saved_model_dir: str):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        self.path, self.saved_model_dir = path, saved_model_dir
        try:
            self._loaded = tf.saved_model.load(saved_model_dir)
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise problem(path, f"cannot load the SavedModel: {str(error).splitlines()[0]}") from None
        if "serving_default" not in self._loaded.signatures:
            found = ", ".join(sorted(self._loaded.signatures)) or "none"
            raise problem(path, f"the SavedModel has no serving_default signature (signatures: {found})")
        self.fn = self._loaded.signatures["serving_default"]
        inputs = self.fn.structured_input_signature[1]
        self.input_name = "input_tensor" if "input_tensor" in inputs else next(iter(inputs), None)
        spec = inputs.get(self.input_name)
        missing = [k for k in DETECTION_KEYS if k not in self.fn.structured_outputs]
        if spec is None or missing or spec.shape.rank != 4:
            raise problem(path, "not a detector: serving_default takes "
                                + ", ".join(f"{k} {v.dtype.name} {v.shape}" for k, v in inputs.items())
                                + " and gives " + ", ".join(sorted(self.fn.structured_outputs))
                                + " (a detector takes images [batch, H, W, 3] and gives "
                                + ", ".join(DETECTION_KEYS) + ")")
        self.input_dtype = spec.dtype
        self.max_batch = spec.shape[0]
        if all(k in self.fn.structured_outputs for k in KEYPOINT_KEYS):
            self.keys = DETECTION_KEYS + KEYPOINT_KEYS
        self.od_api_export = os.path.basename(saved_model_dir.rstrip("/")) == "saved_model"
        self.kind = "SavedModel (" + ("OD API export" if self.od_api_export else
                                      "detflow export" if _detflow_label_map(saved_model_dir) else
                                      "serving_default") + ")"

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        step = self.max_batch or len(images)
        parts = []
        for start in range(0, len(images), step):
            out = self.fn(**{self.input_name: tf.cast(images[start:start + step], self.input_dtype)})
            parts.append({k: out[k].numpy() for k in self.keys})
        return {k: np.concatenate([p[k] for p in parts]) for k in self.keys}

    def default_labels(self) -> Labels:
        """The detflow export's label map, or the one an OD API export's pipeline.config names."""
        found = _detflow_label_map(self.saved_model_dir) or _label_map_of_od_export(self.saved_model_dir)
        return label_map_labels(found) if found else Labels()

    def pipeline_config(self):
        """A detflow export's assets/pipeline.config, else an OD API export's pipeline.config; None when neither
        is there or parses."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from detection.checkpoints import network_settings  # pylint: disable=import-outside-toplevel

        paths = [_od_export_config(self.saved_model_dir)] if self.od_api_export else []
        for path in [export_config(self.saved_model_dir), *paths]:
            if tf.io.gfile.exists(path):
                return network_settings.read_config(path)
        return None


class TfliteDetector(Detector):
    """A .tflite detector run by the TFLite interpreter (one image per call; see the module doc)."""

    def __init__(self, path: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from detection.serving import tflite_metadata  # pylint: disable=import-outside-toplevel

        self.path = path
        with open(path, "rb") as f:
            self._bytes = f.read()
        try:
            # One thread: with more, TF 2.16's TFLite_Detection_PostProcess kernel (regular NMS) was seen to drop
            # a class's boxes that the single-threaded kernel and the SavedModel keep.
            self._interpreter = tf.lite.Interpreter(model_content=self._bytes, num_threads=1)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise problem(path, f"not a TFLite model: {str(error).splitlines()[0]}") from None
        inputs = self._interpreter.get_input_details()
        self._meta = tflite_metadata.read_metadata(self._bytes)
        self._outputs, how = self._find_outputs()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][-1] != 3:
            raise problem(path, f"not an image detector: {self._found(inputs)}")
        self._input = inputs[0]
        self.height, self.width = (int(v) for v in self._input["shape"][1:3])
        # detflow's own files run with the OD API's resize, as their SavedModel and training do, so the
        # Evaluator compares like with like; any other file as the TFLite Task Library runs it.
        self.od_resize = tflite_metadata.written_by_detflow(self._meta)
        normalization = (mean, std) if mean is not None and std is not None else \
            tflite_metadata.normalization_of(self._meta)
        assumed = normalization is None and self.input_dtype != "uint8"
        mean, std = normalization or MOBILENET_NORMALIZATION
        self._mean, self._std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.kind = (f"TFLite, {self.input_dtype} input {self.height}x{self.width}, outputs {how}, resized "
                     + ("as the OD API resizes (detflow's file)" if self.od_resize else
                        "as the TFLite Task Library resizes (libyuv bilinear)")
                     + ("; no normalisation in metadata: (x - 127.5) / 127.5 assumed" if assumed else ""))

    @property
    def input_dtype(self) -> str:
        """'float32' or 'uint8'."""
        return np.dtype(self._input["dtype"]).name

    def _found(self, inputs) -> str:
        outs = self._interpreter.get_output_details()
        return (f"{len(inputs)} input(s) " + ", ".join(f"{np.dtype(d['dtype']).name} {list(d['shape'])}" for d in inputs)
                + f"; {len(outs)} output(s) " + ", ".join(f"{d['name']} {list(d['shape'])}" for d in outs))

    def _find_outputs(self) -> tuple[dict[str, int] | str, str]:
        """{detection key: tensor index} (or the signature's output names), and how they were found."""
        from detection.serving import tflite_metadata  # pylint: disable=import-outside-toplevel

        signatures = self._interpreter.get_signature_list()
        if signatures:
            key = next(iter(signatures))
            names = signatures[key]["outputs"]
            if all(k in names for k in DETECTION_KEYS):
                self._runner = self._interpreter.get_signature_runner(key)
                self._runner_input = next(iter(self._runner.get_input_details()))
                if all(k in names for k in KEYPOINT_KEYS):
                    self.keys = DETECTION_KEYS + KEYPOINT_KEYS
                return {k: k for k in self.keys}, f"by signature '{key}'"
        details = self._interpreter.get_output_details()
        if len(details) != 4:
            raise problem(self.path, "not a detector: " + self._found(self._interpreter.get_input_details())
                          + " (a TFLite detector has 4 outputs: boxes, classes, scores, count)")
        self._runner = None
        keys = [_metadata_key(n) for n in tflite_metadata.output_names(self._meta)]
        if sorted(k for k in keys if k) == sorted(DETECTION_KEYS):
            return {k: d["index"] for k, d in zip(keys, details)}, "by TFLite metadata"
        by_name = {d["name"]: d["index"] for d in details}
        op = [n for n in by_name if n.split(":")[0].endswith("TFLite_Detection_PostProcess")]
        if len(op) == 4:
            base = min(op, key=len)
            order = [base] + [f"{base}:{i}" for i in (1, 2, 3)]
            if all(n in by_name for n in order):
                return ({k: by_name[n] for k, n in zip(POSTPROCESS_ORDER, order)},
                        "by the TFLite_Detection_PostProcess op's output names")
        return ({k: d["index"] for k, d in zip(POSTPROCESS_ORDER, details)},
                "in the TFLite_Detection_PostProcess order (boxes, classes, scores, count)")

    def _one(self, image: np.ndarray) -> dict[str, np.ndarray]:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from detection.data import resizing  # pylint: disable=import-outside-toplevel

        if self.od_resize:
            resized = resizing.resize_to_input(tf.constant(image[None]), self.height, self.width)[0].numpy()
        else:
            resized = libyuv_bilinear(image, self.height, self.width)[None].astype(np.float32)
        if self.input_dtype == "uint8":
            x = np.clip(np.round(resized), 0, 255).astype(np.uint8)
        else:
            x = ((resized - self._mean) / self._std).astype(self._input["dtype"])
        if self._runner is not None:
            out = self._runner(**{self._runner_input: x})
            out = {k: np.asarray(out[k]) for k in self.keys}
        else:
            self._interpreter.set_tensor(self._input["index"], x)
            self._interpreter.invoke()
            out = {k: np.asarray(self._interpreter.get_tensor(i)) for k, i in self._outputs.items()}
        self._check_shapes(out)
        out["detection_classes"] = out["detection_classes"].astype(np.float32) + 1.0
        out["num_detections"] = np.reshape(out["num_detections"], [1]).astype(np.float32)
        return out

    def _check_shapes(self, out: dict[str, np.ndarray]) -> None:
        boxes = out["detection_boxes"]
        n = boxes.shape[1] if boxes.ndim == 3 else -1
        if boxes.ndim != 3 or boxes.shape[-1] != 4 or out["detection_scores"].shape != (1, n) \
                or out["detection_classes"].shape != (1, n) or out["num_detections"].size != 1:
            raise problem(self.path, "not a detector's outputs: " + ", ".join(
                f"{k} {list(v.shape)}" for k, v in out.items()) + " (expected boxes [1,N,4], classes [1,N], "
                "scores [1,N], count [1])")

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        parts = [self._one(image) for image in images]
        return {k: np.concatenate([p[k] for p in parts]) for k in self.keys}

    def default_labels(self) -> Labels:
        """The labels packed in the file (id = index + 1; '???' entries are unused ids)."""
        from detection.serving import tflite_metadata  # pylint: disable=import-outside-toplevel

        labels = tflite_metadata.read_labels(self._bytes, tflite_metadata.label_file_name(self._meta))
        names = {i: name for i, name in enumerate(labels, 1) if name and name != "???"}
        return Labels(names, dict(names), f"{self.path} (labels in its metadata)") if names else Labels()


def _metadata_key(name: str) -> str | None:
    """The detection key a TFLite metadata output name stands for (METADATA_WORDS), or None."""
    return next((key for word, key in METADATA_WORDS if word in name.lower()), None)


def libyuv_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 [h,w,C] → [height,width,C] as libyuv's bilinear ARGBScale (the TFLite Task Library's resize).

    Its fixed-point arithmetic: 16.16 positions starting half a step in (half-pixel centres when shrinking,
    corners aligned when growing), rows blended with 8-bit weights (an exact half rounds up), then
    columns with 7-bit weights, each rounded to uint8.
    """
    def slope(src: int, dst: int) -> tuple[int, int]:
        if dst <= src:
            step = (src << 16) // dst
            return (step >> 1) - 32768, step
        return 0, (((src << 16) - 0x00010001) // (dst - 1)) if src > 1 and dst > 1 else 0

    src_h, src_w = image.shape[:2]
    pixels = image.astype(np.int32)
    x0, dx = slope(src_w, width)
    y, dy = slope(src_h, height)
    xs = np.clip(x0 + dx * np.arange(width, dtype=np.int64), 0, (src_w - 1) << 16)
    xi, xf = (xs >> 16).astype(np.int64), ((xs >> 9) & 0x7F)[:, None]
    xi1 = np.minimum(xi + 1, src_w - 1)
    out = np.empty((height, width, image.shape[2]), np.uint8)
    for j in range(height):
        yi, yf = y >> 16, (y >> 8) & 255
        top, bottom = pixels[yi], pixels[min(yi + 1, src_h - 1)]
        row = top if yf == 0 else (top + bottom + 1) >> 1 if yf == 128 else (top * (256 - yf) + bottom * yf + 128) >> 8
        a, b = row[xi], row[xi1]
        out[j] = a + ((xf * (b - a) + 0x40) >> 7)
        y = min(y + dy, (src_h - 1) << 16)
    return out


def _detflow_label_map(saved_model_dir: str) -> Optional[str]:
    from detection.serving import export as export_lib  # pylint: disable=import-outside-toplevel

    return export_lib.find_label_map(saved_model_dir)


def _od_export_config(saved_model_dir: str) -> str:
    """Where an OD API export keeps its pipeline.config: beside its saved_model/."""
    return os.path.join(os.path.dirname(saved_model_dir.rstrip("/")), PIPELINE_CONFIG_FILE)


def _label_map_of_od_export(saved_model_dir: str) -> Optional[str]:
    """The label map an OD API export's pipeline.config names, when that file exists here."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from detection.checkpoints import network_settings  # pylint: disable=import-outside-toplevel

    config = _od_export_config(saved_model_dir)
    proto = network_settings.read_config(config) if tf.io.gfile.exists(config) else None
    if proto is None:
        return None
    for path in [proto.train_input_reader.label_map_path] + [r.label_map_path for r in proto.eval_input_reader]:
        if path and tf.io.gfile.exists(path):
            return path
    return None


def label_map_labels(path: str) -> Labels:
    """Labels from a StringIntLabelMap file, or a TFLite labels file (`.txt`: one label a line, the first id 1).

    ProblemsError naming the file when it is neither.
    """
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel

    if path.lower().endswith(".txt"):
        try:
            with open(path, encoding="utf-8") as f:
                lines = [line.strip() for line in f.read().splitlines()]
        except (OSError, UnicodeDecodeError) as error:
            raise problem(path, f"cannot read the labels file: {error}") from None
        names = {i: name for i, name in enumerate(lines, 1) if name and name != "???"}
        return Labels(names, dict(names), f"{path} (one label a line, the first id 1)")
    items = load_label_map(path).items
    return Labels({i.id: i.name for i in items if i.id > 0},
                  {i.id: i.display_name or i.name for i in items if i.id > 0}, path)


def _saved_model_dir(path: str) -> Optional[str]:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    for sub in SAVED_MODEL_FOLDERS:
        candidate = os.path.join(path, sub) if sub else path
        if tf.io.gfile.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    return None


def load_model(path: str) -> Detector:
    """The detector at `path` (see the module doc); ProblemsError (one line) when there is none."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    if path.endswith(".tflite"):
        if not os.path.isfile(path):
            raise problem(path, "no such file")
        return TfliteDetector(path)
    if not tf.io.gfile.exists(path):
        raise problem(path, "not a model: no such file or directory")
    if not tf.io.gfile.isdir(path):
        with tf.io.gfile.GFile(path, "rb") as f:
            head = f.read(8)
        if head[4:8] == b"TFL3":
            return TfliteDetector(path)
        raise problem(path, "not a model: a SavedModel folder (saved_model.pb), an OD API export folder or a "
                            ".tflite file was expected")
    found = _saved_model_dir(path)
    if found is None:
        looked = ", ".join(os.path.join(path, s, "saved_model.pb") if s else os.path.join(path, "saved_model.pb")
                           for s in SAVED_MODEL_FOLDERS)
        raise problem(path, f"not an exported model: no saved_model.pb (looked at {looked})")
    return SavedModelDetector(path, found)


def labels_for(detector: Detector, label_map: Optional[str] = None) -> Labels:
    """The class names to show: `label_map` when given, else what the model carries."""
    return label_map_labels(label_map) if label_map else detector.default_labels()

