"""Benchmark: SavedModel vs TFLite float vs TFLite int8 at batch 1, and what int8 costs in mAP.

For each model of `bench.models` (the demo's trained SSD MobileNetV2 x0.35
FPN-lite 128 px, and the zoo's full-width FPN-lite 320 with random weights):
exports the SavedModel (`serving_default`, uint8 input at the model's size),
then `detflow export --format tflite` for `none` (float32) and `int8`
(calibrated on generated train images), and times, in this one process after
warm-up, the median of --repeats calls at batch 1 of:
  saved_model        serving_default (TF's default threads: both cores);
  tflite_<mode>/1t   the interpreter with 1 thread (what detflow's runner uses);
  tflite_<mode>/2t   the interpreter with 2 threads;
  network_<mode>/1t  the network alone (no score conversion, no detection op)
                     in TFLite, 1 thread: what the detection op adds shows.
Ratios are to the SavedModel of the same config. Each model runs twice: with
its config's per-class NMS (the op's regular NMS) and with
`use_class_agnostic_nms: true` (the op's fast NMS, the OD API exporter's
default). Goals (issue 11): int8 at most 1/3 of the SavedModel; FPN-lite 320
int8 at most 40 ms.

Accuracy: the demo model's COCO metrics on a generated held-out set of its
classes (seeded), for the SavedModel and both TFLite files, with the
Evaluator's code; goal: int8 loses at most 0.02 mAP@.50IOU against float.

    .venv/bin/python -m bench.bench_tflite [--repeats 30] [--models demo,fpnlite320] [--eval-images 300]
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time

import numpy as np

from bench import models as bench_models
from bench.timing import median_and_p90_ms
from schemas import model_layout

MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
MAP = "DetectionBoxes_Precision/mAP"
GOAL_INT8_RATIO = 1 / 3
GOAL_FPNLITE_INT8_MS = 40.0
GOAL_MAP50_DROP = 0.02
DATA_SEED = 4242   # not the base checkpoint's pre-training seed: images it has not seen


def _median_ms(fn, repeats: int) -> float:
    return median_and_p90_ms(fn, repeats)[0]


def _records(workdir: str, classes, num_images: int, size: int) -> tuple[list[str], list[str], str]:
    """Generated images of `classes` converted by `detflow convert`: (train files, eval files, label map)."""
    import sample_data  # pylint: disable=import-outside-toplevel
    from pipelines import cli  # pylint: disable=import-outside-toplevel

    data = sample_data.generate(os.path.join(workdir, "images"), num_images=num_images, classes=classes,
                                image_size=(size, size), seed=DATA_SEED)
    out = os.path.join(workdir, "records")
    code = cli.main(["convert", "--format", "coco", "--annotations", str(data.annotations),
                     "--images", str(data.images_dir), "--label-map", str(data.label_map),
                     "--out", out, "--eval-percent", "50"])
    if code != 0:
        raise SystemExit(f"detflow convert failed with exit code {code}")
    return (sorted(glob.glob(os.path.join(out, "Split-train", "*"))),
            sorted(glob.glob(os.path.join(out, "Split-eval", "*"))), str(data.label_map))


def _exports(model: bench_models.BenchModel, workdir: str, train_files: list[str]) -> dict[str, str]:
    """{'saved_model': dir, 'none': .tflite, 'int8': .tflite} of `model`."""
    from detection.serving import export, tflite_export  # pylint: disable=import-outside-toplevel

    saved = export.export_saved_model(model.bundle, model.label_map, model.config_text, None,
                                      os.path.join(workdir, "export"))
    out = {"saved_model": saved}
    for mode in ("none", "int8"):
        start = time.perf_counter()
        result = tflite_export.export_tflite(saved, os.path.join(workdir, model_layout.tflite_file(mode)), mode,
                                             train_files if mode == "int8" else None)
        print(f"  exported tflite {mode:5s} {result.size_bytes / 1e6:6.2f} MB in {time.perf_counter() - start:5.1f} s"
              + (f" (int8 calibrated on {result.representative_images} images)" if mode == "int8" else ""),
              flush=True)
        out[mode] = result.path
    return out


def _interpreter_call(path: str, threads: int):
    """A no-argument callable running the interpreter once on a fixed input of its dtype."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    interpreter = tf.lite.Interpreter(model_path=path, num_threads=threads)
    runner = interpreter.get_signature_runner()
    name, detail = next(iter(runner.get_input_details().items()))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=detail["shape"]).astype(detail["dtype"]) if detail["dtype"] == np.uint8 else \
        rng.uniform(-1, 1, size=detail["shape"]).astype(detail["dtype"])
    return lambda: runner(**{name: x})


def _network_only_tflite(model: bench_models.BenchModel, train_files: list[str], workdir: str) -> dict[str, str]:
    """{'none': .tflite, 'int8': .tflite} of the network alone (raw box encodings and class logits)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from detection.serving import tflite_export  # pylint: disable=import-outside-toplevel

    bundle, spec = model.bundle, model.bundle.spec
    module = tf.Module()
    module.model_variables = list(bundle.model.variables)
    module.serve = tf.function(lambda x: {k: v for k, v in bundle.model(x, training=False).items()
                                          if k in ("box_encodings", "class_predictions_with_background")},
                               input_signature=[tf.TensorSpec([1, spec.input.height, spec.input.width, 3],
                                                              tf.float32, name="x")], autograph=False)
    saved = os.path.join(workdir, "network_only")
    tf.saved_model.save(module, saved, signatures={"serving_default": module.serve.get_concrete_function()})
    representative = tflite_export.representative_images(train_files, bundle, 20)
    out = {}
    for mode in ("none", "int8"):
        path = os.path.join(workdir, f"network_{mode}.tflite")
        with open(path, "wb") as f:
            f.write(tflite_export.convert_saved_model(saved, mode, representative if mode == "int8" else ()))
        out[mode] = path
    return out


def _latency(model: bench_models.BenchModel, exports: dict[str, str], network: dict[str, str],
             repeats: int) -> dict[str, float]:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    spec = model.bundle.spec
    loaded = tf.saved_model.load(exports["saved_model"])
    serve = loaded.signatures["serving_default"]
    image = tf.constant(np.random.default_rng(0).integers(0, 256, size=(1, spec.input.height, spec.input.width, 3)),
                        tf.uint8)
    times = {"saved_model": _median_ms(lambda: serve(input_tensor=image)["num_detections"].numpy(), repeats)}
    for mode in ("none", "int8"):
        for threads in (1, 2):
            times[f"tflite_{mode}/{threads}t"] = _median_ms(_interpreter_call(exports[mode], threads), repeats)
    for mode, path in network.items():
        times[f"network_{mode}/1t"] = _median_ms(_interpreter_call(path, 1), repeats)
    base = times["saved_model"]
    for name, ms in times.items():
        print(f"  {name:16s} median {ms:8.2f} ms  ({ms / base:.2f}x saved_model)", flush=True)
    best_int8 = min(times["tflite_int8/1t"], times["tflite_int8/2t"])
    print(f"  goal int8 <= {GOAL_INT8_RATIO:.2f}x saved_model: {best_int8 / base:.2f}x "
          f"({'met' if best_int8 / base <= GOAL_INT8_RATIO else 'NOT met'})")
    if model.name == "fpnlite320":
        print(f"  goal int8 <= {GOAL_FPNLITE_INT8_MS:.0f} ms: {best_int8:.1f} ms "
              f"({'met' if best_int8 <= GOAL_FPNLITE_INT8_MS else 'NOT met'})")
    return times


def _accuracy(exports: dict[str, str], eval_files: list[str], label_map: str) -> dict[str, dict]:
    from components.evaluator import model_eval  # pylint: disable=import-outside-toplevel

    named = {"saved_model": exports["saved_model"], "tflite_none": exports["none"], "tflite_int8": exports["int8"]}
    accumulators, _ = model_eval.evaluate_exports(eval_files, named, model_eval.read_label_map(label_map))
    metrics = {name: acc.result().metrics for name, acc in accumulators.items()}
    for name, m in metrics.items():
        print(f"  {name:12s} mAP {m[MAP]:.4f}  mAP@.50IOU {m[MAP50]:.4f}")
    drop = metrics["tflite_none"][MAP50] - metrics["tflite_int8"][MAP50]
    print(f"  int8 vs float: mAP@.50IOU drop {drop:+.4f}, mAP drop "
          f"{metrics['tflite_none'][MAP] - metrics['tflite_int8'][MAP]:+.4f}; goal drop <= {GOAL_MAP50_DROP}: "
          f"{'met' if drop <= GOAL_MAP50_DROP else 'NOT met'}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints one line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--models", default=",".join(bench_models.MODEL_NAMES))
    parser.add_argument("--eval-images", type=int, default=300,
                        help="generated images for the demo model's accuracy (half train/calibration, half eval)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import sample_data  # pylint: disable=import-outside-toplevel

    print(f"batch 1, {args.repeats} timed runs after 3 warm-up, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            records = None
            for class_agnostic in (False, True):
                model = bench_models.build(name, class_agnostic)
                print(model.describe(), flush=True)
                workdir = os.path.join(tmp, name, model.nms)
                if records is None:
                    images = args.eval_images if model.trained else 20
                    records = _records(os.path.join(tmp, name), sample_data.PRETRAIN_CLASSES, images,
                                       model.bundle.spec.input.height)
                train_files, eval_files, label_map = records
                exports = _exports(model, workdir, train_files)
                network = _network_only_tflite(model, train_files, workdir) if not class_agnostic else {}
                _latency(model, exports, network, args.repeats)
                if model.trained:
                    _accuracy(exports, eval_files, label_map)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
