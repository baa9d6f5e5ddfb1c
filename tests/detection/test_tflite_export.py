"""TFLite export: float, float16 and int8 files of the embedded (trained) detector, read as a phone would.

Real converter, real interpreter: each mode loads in a fresh process with plain
TensorFlow and finds its outputs by name; the float file detects what the
SavedModel detects; the TFLite Task Library (in the TensorFlow-free edge venv,
`make edge`) reads the metadata and the labels; bad input is one line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import sample_data
from components.trainer import base_checkpoint
from detection.architectures import registry
from detection.checkpoints import restore
from detection.serving import export, model_runner, tflite_export
from pipelines import cli
from schemas.pipeline_config import parse_pipeline_config_text
from schemas.problems import ProblemsError
from tests.detection import records

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EDGE_PYTHON = os.path.join(REPO, ".edge", "venv", "bin", "python")
OUTPUTS = {"detection_boxes", "detection_classes", "detection_scores", "num_detections"}

FRESH = r"""
import json, sys
import numpy as np
import tensorflow as tf
for path in sys.argv[1:]:
    runner = tf.lite.Interpreter(model_path=path).get_signature_runner()
    [(name, spec)] = runner.get_input_details().items()
    x = np.zeros(spec["shape"], spec["dtype"])
    out = runner(**{name: x})
    print(json.dumps({"input": [name, np.dtype(spec["dtype"]).name, spec["shape"].tolist()],
                      "outputs": {k: list(v.shape) for k, v in out.items()},
                      "boxes_in_unit_square": bool(((out["detection_boxes"] >= 0) &
                                                    (out["detection_boxes"] <= 1)).all()),
                      "num": float(out["num_detections"][0])}))
"""

CONSUME = r"""
import json, sys
import numpy as np
from tflite_support.task import core, processor, vision
options = vision.ObjectDetectorOptions(base_options=core.BaseOptions(file_name=sys.argv[1]),
                                       detection_options=processor.DetectionOptions(max_results=10))
detector = vision.ObjectDetector.create_from_options(options)
image = vision.TensorImage.create_from_array(np.load(sys.argv[2]))
found = detector.detect(image).detections
print(json.dumps([[d.categories[0].category_name, d.categories[0].score] for d in found]))
"""

POPULATE = r"""
import json, sys
from tflite_support import metadata
model = open(sys.argv[1], "rb").read()
populator = metadata.MetadataPopulator.with_model_buffer(model)
populator.load_metadata_buffer(metadata.get_metadata_buffer(model))
populator.populate()
def shown(buffer):
    return json.loads(metadata.MetadataDisplayer.with_model_buffer(buffer).get_metadata_json())
print(json.dumps({"ours": shown(model), "populated": shown(populator.get_model_buffer()),
                  "files": metadata.MetadataDisplayer.with_model_buffer(model).get_packed_associated_file_list()}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The embedded checkpoint's detector as a SavedModel and as .tflite in every quantize mode."""
    root = tmp_path_factory.mktemp("tflite")
    label_map = str(base_checkpoint.CHECKPOINT_DIR / "label_map.pbtxt")
    text = base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=5, label_map_path=label_map, train_input_path="x", eval_input_path="x", num_steps=1,
        batch_size=1, learning_rate_base=0.01, warmup_steps=0))
    config = parse_pipeline_config_text(text, "base.config")
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, base_checkpoint.checkpoint_prefix(), "full", pipeline_proto=config.proto)
    saved = export.export_saved_model(bundle, label_map, text, None, str(root / "export"))
    data = sample_data.generate(root / "images", num_images=4, classes=("disc", "bar", "triangle", "cross", "star"),
                                image_size=(128, 128), seed=3, mix=sample_data.ImageMix(min_objects=2))
    pattern = records.write_records(str(root / "records"), num_images=16, size=128, shards=1)
    files = {q: tflite_export.export_tflite(saved, str(root / f"model_{q}.tflite"), q,
                                            pattern if q == "int8" else None, representative_size=16)
             for q in tflite_export.QUANTIZE_MODES}
    images = sorted(str(p) for p in data.images_dir.iterdir())
    return {"saved": saved, "tflite": files, "images": images, "root": root, "records": pattern}


@pytest.fixture(scope="module")
def fresh_loads(exported):
    """Each mode's file run by `tf.lite.Interpreter` in one fresh process (no detflow on the path): mode -> what it saw."""
    modes = list(tflite_export.QUANTIZE_MODES)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    proc = subprocess.run([sys.executable, "-c", FRESH, *(exported["tflite"][m].path for m in modes)],
                          capture_output=True, text=True, env=env, cwd="/", timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(zip(modes, (json.loads(line) for line in proc.stdout.strip().splitlines()[-len(modes):])))


@pytest.mark.parametrize("mode", tflite_export.QUANTIZE_MODES)
def test_every_mode_loads_in_a_fresh_process_with_outputs_found_by_name(exported, fresh_loads, mode):
    result = exported["tflite"][mode]
    assert result.quantize == mode and os.path.getsize(result.path) == result.size_bytes
    found = fresh_loads[mode]
    assert found["input"] == ["input", "uint8" if mode == "int8" else "float32", [1, 128, 128, 3]]
    assert found["outputs"] == {"detection_boxes": [1, 50, 4], "detection_classes": [1, 50],
                                "detection_scores": [1, 50], "num_detections": [1]}
    assert found["boxes_in_unit_square"] and 0 <= found["num"] <= 50


def test_quantized_files_are_smaller(exported):
    sizes = {q: r.size_bytes for q, r in exported["tflite"].items()}
    assert sizes["int8"] < sizes["float16"] < sizes["none"]
    assert exported["tflite"]["int8"].representative_images == 16


def _assert_same_detections(saved: str, tflite: str, images: list[str]) -> None:
    serve = tf.saved_model.load(saved).signatures["serving_default"]
    runner = model_runner.load_model(tflite)
    compared = 0
    for path in images:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        want = {k: v.numpy() for k, v in serve(input_tensor=tf.constant(pixels[None])).items()}
        got = runner(pixels[None])
        n = int(want["num_detections"][0])
        assert int(got["num_detections"][0]) == n
        np.testing.assert_allclose(got["detection_scores"][0, :n], want["detection_scores"][0, :n], atol=1e-3)
        np.testing.assert_allclose(got["detection_boxes"][0, :n], want["detection_boxes"][0, :n], atol=1e-3)
        np.testing.assert_array_equal(got["detection_classes"][0, :n], want["detection_classes"][0, :n])
        compared += n
    assert compared > 0


def test_the_float_file_detects_what_the_saved_model_detects(exported):
    _assert_same_detections(exported["saved"], exported["tflite"]["none"].path, exported["images"])


def test_class_agnostic_nms_runs_the_fast_op_and_still_detects_what_the_saved_model_detects(exported, tmp_path):
    """`use_class_agnostic_nms: true`: the SavedModel runs the OD API's class-agnostic NMS, the op its fast NMS."""
    bundle, text = tflite_export.load_export(exported["saved"])
    agnostic = text.replace("batch_non_max_suppression {", "batch_non_max_suppression {\n        "
                                                          "use_class_agnostic_nms: true", 1)
    assert agnostic != text
    config = parse_pipeline_config_text(agnostic, "agnostic.config")
    agnostic_bundle = registry.build_detector(config.proto)
    restore.restore(agnostic_bundle.model, exported["saved"], "full", pipeline_proto=config.proto)
    assert agnostic_bundle.model.post.class_agnostic and not bundle.model.post.class_agnostic
    assert '"use_regular_nms" value { b: false }' in tflite_export._postprocess_signature(agnostic_bundle)
    label_map = str(base_checkpoint.CHECKPOINT_DIR / "label_map.pbtxt")
    saved = export.export_saved_model(agnostic_bundle, label_map, agnostic, None, str(tmp_path / "export"))
    result = tflite_export.export_tflite(saved, str(tmp_path / "fast.tflite"))
    _assert_same_detections(saved, result.path, exported["images"])


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_the_task_library_reads_the_metadata_and_the_labels(exported, mode, tmp_path):
    assert os.path.exists(EDGE_PYTHON), "no edge venv: run `make edge` (make test does)"
    pixels = tmp_path / "image.npy"
    np.save(pixels, np.asarray(Image.open(exported["images"][0]).convert("RGB")))
    proc = subprocess.run([EDGE_PYTHON, "-c", CONSUME, exported["tflite"][mode].path, str(pixels)],
                          capture_output=True, text=True, timeout=300, check=False, cwd="/",
                          env=dict(os.environ, PYTHONPATH=""))
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found and {name for name, _ in found} <= {"disc", "bar", "triangle", "cross", "star"}
    assert all(0.0 <= score <= 1.0 for _, score in found)


def test_predict_takes_a_tflite_file(exported, tmp_path, capsys):
    out = tmp_path / "preds"
    assert cli.main(["predict", "--model", exported["tflite"]["none"].path, *exported["images"][:2],
                     "--out", str(out), "--min-score", "0.3"]) == 0
    capsys.readouterr()
    result = json.loads((out / "detections.json").read_text())
    assert len(result["images"]) == 2
    names = {d["class_name"] for item in result["images"] for d in item["detections"]}
    assert names and names <= {"disc", "bar", "triangle", "cross", "star"}
    assert all(os.path.exists(item["output"]) for item in result["images"])


def test_bad_input_is_one_line(exported, tmp_path, capsys):
    empty = tmp_path / "empty.tfrecord"
    with tf.io.TFRecordWriter(str(empty)):
        pass
    with pytest.raises(ProblemsError, match="no images to calibrate int8 on"):
        tflite_export.export_tflite(exported["saved"], str(tmp_path / "x.tflite"), "int8", str(empty))
    code = cli.main(["export", "--model", exported["saved"], "--format", "tflite", "--quantize", "int8",
                     "--out", str(tmp_path / "y.tflite")])
    err = capsys.readouterr().err
    assert code == 2 and "--representative-data: int8 needs images to calibrate on" in err
    code = cli.main(["export", "--model", str(tmp_path), "--format", "tflite", "--out", str(tmp_path / "z.tflite")])
    err = capsys.readouterr().err
    assert code == 2 and "not a detflow export: no assets/pipeline.config" in err and "Traceback" not in err


def test_faster_rcnn_is_refused_with_what_to_do():
    with open("tests/data/configs/faster_rcnn_resnet50_v1_640x640.config", encoding="utf-8") as f:
        text = f.read().replace("min_dimension: 640", "min_dimension: 48").replace("max_dimension: 640",
                                                                                 "max_dimension: 64")
    bundle = registry.build_detector(parse_pipeline_config_text(text, "frcnn.config").proto)
    with pytest.raises(ProblemsError, match="TFLite export is for SSD and CenterNet models .* --format saved_model"):
        tflite_export.check_exportable(bundle, "frcnn-export")


def test_efficientdet_as_shipped_is_refused_for_its_resizer_and_accepted_with_a_fixed_one():
    """The zoo's keep_aspect_ratio_resizer is refused before anything is built, naming what to use (as the OD
    API's TFLite export refuses it); with a fixed_shape_resizer the head without a background column is
    accepted (tests/zoo/test_zoo_tflite.py converts and runs it)."""
    with open("tests/data/configs/ssd_efficientdet_d0_512x512.config", encoding="utf-8") as f:
        proto = parse_pipeline_config_text(f.read(), "d0.config").proto
    with pytest.raises(ProblemsError, match=r"--tflite: d0.config: model.ssd.image_resizer: TFLite needs a fixed "
                                            r"input size: use fixed_shape_resizer .*height and width = max_dimension"):
        tflite_export.check_config_exportable(proto, "--tflite: d0.config")
    proto.model.ssd.image_resizer.fixed_shape_resizer.height = 256
    proto.model.ssd.image_resizer.fixed_shape_resizer.width = 256
    assert not proto.model.ssd.add_background_class
    tflite_export.check_config_exportable(proto, "d0.config")


def test_a_per_class_limit_the_tflite_op_cannot_keep_is_said():
    text = base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=5, label_map_path="l", train_input_path="x", eval_input_path="x", num_steps=1, batch_size=1,
        learning_rate_base=0.01, warmup_steps=0))
    assert tflite_export._postprocess_notes(registry.build_detector(parse_pipeline_config_text(text, "c").proto)) == []
    limited = text.replace("max_detections_per_class: 50", "max_detections_per_class: 5")
    [note] = tflite_export._postprocess_notes(registry.build_detector(parse_pipeline_config_text(limited, "c").proto))
    assert "max_detections_per_class 5" in note and "up to 100 boxes per class" in note


def test_the_metadata_is_what_tflite_support_would_write(exported):
    """Our pure-Python writer against tflite-support's own populator (parser version, fields, packed labels)."""
    assert os.path.exists(EDGE_PYTHON), "no edge venv: run `make edge` (make test does)"
    proc = subprocess.run([EDGE_PYTHON, "-c", POPULATE, exported["tflite"]["int8"].path], capture_output=True,
                          text=True, timeout=300, check=False, cwd="/", env=dict(os.environ, PYTHONPATH=""))
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["ours"] == found["populated"]
    assert found["files"] == ["labels.txt"]
    outputs = [t["name"] for t in found["ours"]["subgraph_metadata"][0]["output_tensor_metadata"]]
    assert outputs == ["location", "category", "score", "number of detections"]


def test_an_op_tflite_has_no_kernel_for_is_one_line_naming_it(tmp_path):
    """The real converter on a SavedModel with TF-only ops: refused naming them, not shipped needing Flex."""

    class StringOps(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def serve(self, x):
            return {"length": tf.strings.length(tf.strings.as_string(x))}

    module = StringOps()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve.get_concrete_function()})
    with pytest.raises(ProblemsError) as raised:
        tflite_export.convert_saved_model(str(tmp_path))
    message = str(raised.value.problems[0])
    assert "no TFLite builtin kernel for tf.AsString, tf.StringLength" in message and "\n" not in message


def _rewritten(path: str, out: str, signatures: bool = True, metadata: bool = True, names: str = "") -> str:
    """The .tflite at `path` without its SignatureDef / metadata, its outputs renamed, as older files come.

    names "op": the outputs named as the TFLite_Detection_PostProcess op names them (boxes, :1 classes,
    :2 scores, :3 count) and listed in reverse order; "plain": named output_0..3, in the op's order.
    """
    import flatbuffers  # pylint: disable=import-outside-toplevel
    from tensorflow_lite_support.metadata import schema_py_generated as tfl  # pylint: disable=import-outside-toplevel
    with open(path, "rb") as f:
        parsed = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(bytearray(f.read()), 0))
    by_name = {o.name.decode(): o.tensorIndex for o in parsed.signatureDefs[0].outputs}
    order = [by_name[k] for k in model_runner.POSTPROCESS_ORDER]
    if not signatures:
        parsed.signatureDefs = []
    if not metadata:
        parsed.metadata = []
    if names == "op":
        for i, index in enumerate(order):
            parsed.subgraphs[0].tensors[index].name = ("TFLite_Detection_PostProcess" + (f":{i}" if i else "")).encode()
        parsed.subgraphs[0].outputs = list(reversed(order))
    elif names == "plain":
        for i, index in enumerate(order):
            parsed.subgraphs[0].tensors[index].name = f"output_{i}".encode()
        parsed.subgraphs[0].outputs = order
    builder = flatbuffers.Builder(1024)
    builder.Finish(parsed.Pack(builder), file_identifier=b"TFL3")
    with open(out, "wb") as f:
        f.write(bytes(builder.Output()))
    return out


@pytest.mark.parametrize("strip,how", [
    ({"signatures": False}, "by TFLite metadata"),
    ({"signatures": False, "metadata": False, "names": "op"}, "by the TFLite_Detection_PostProcess op's output names"),
    ({"signatures": False, "metadata": False, "names": "plain"}, "in the TFLite_Detection_PostProcess order")])
def test_a_tflite_detector_without_a_signature_is_read_as_the_task_library_reads_it(exported, tmp_path, strip, how):
    """Most published TFLite detectors have no SignatureDef: outputs by metadata, op names, or the op's order.

    Without detflow's metadata a file is resized as the Task Library resizes (libyuv), not as the OD API:
    the detections then agree closely, not bit for bit.
    """
    original = model_runner.load_model(exported["tflite"]["none"].path)
    assert "by signature" in original.kind
    stripped = model_runner.load_model(_rewritten(exported["tflite"]["none"].path, str(tmp_path / "x.tflite"),
                                                  **strip))
    assert how in stripped.kind
    pixels = np.asarray(Image.open(exported["images"][0]).convert("RGB"))[None]
    want, got = original(pixels), stripped(pixels)
    n = int(want["num_detections"][0])
    assert n > 0 and int(got["num_detections"][0]) > 0
    if strip.get("metadata", True):
        assert int(got["num_detections"][0]) == n
        for key in ("detection_boxes", "detection_scores", "detection_classes"):
            np.testing.assert_array_equal(got[key][0, :n], want[key][0, :n])
    else:
        assert "(x - 127.5) / 127.5 assumed" in stripped.kind and "libyuv" in stripped.kind
        assert got["detection_classes"][0, 0] == want["detection_classes"][0, 0]
        np.testing.assert_allclose(got["detection_boxes"][0, 0], want["detection_boxes"][0, 0], atol=0.03)
        assert abs(got["detection_scores"][0, 0] - want["detection_scores"][0, 0]) < 0.05


def test_a_tflite_model_that_is_no_detector_is_refused_in_one_line(tmp_path, capsys):

    class Classifier(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
        def serve(self, x):
            return {"logits": tf.matmul(tf.reduce_mean(x, axis=[1, 2]), tf.ones([3, 5]))}

    module = Classifier()
    tf.saved_model.save(module, str(tmp_path / "saved"), signatures={"serving_default": module.serve.get_concrete_function()})
    path = tmp_path / "classifier.tflite"
    path.write_bytes(tflite_export.convert_saved_model(str(tmp_path / "saved")))
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    code = cli.main(["predict", "--model", str(path), str(image), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "not a detector" in err and "[1, 5]" in err
