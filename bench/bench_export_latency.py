"""Benchmark: per-image latency of the exported detector (batch 1).

Builds the demo-size detector (the embedded checkpoint's config: SSD
MobileNetV2 x0.35 FPN-lite, 128 px model input), exports it with
`export.export_saved_model`, loads the SavedModel with plain
`tf.saved_model.load` and times, after warm-up, the median and p90 of:
  serving_default   uint8 images of 128 px and 320 px (resized inside);
  serving_bytes     the same images as JPEG bytes (decode + resize inside);
  model_only        the Keras model's inference call (normalised 128 px input,
                    NMS included) in a tf.function: the baseline, so the
                    export's overhead shows as a ratio.

    .venv/bin/python -m bench.bench_export_latency [--repeats 30] [--sizes 128,320]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np


def _time(fn, repeats: int, warmup: int = 3) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[min(len(times) - 1, int(0.9 * len(times)))] * 1000


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints one line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--sizes", default="128,320", help="comma-separated square input sizes")
    args = parser.parse_args(argv)

    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from components.trainer import base_checkpoint, export  # pylint: disable=import-outside-toplevel
    from components.trainer.models import factory  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel

    text = base_checkpoint.pipeline_config_text(
        num_classes=3, label_map_path="label_map.pbtxt", train_input_path="train-*.gz",
        eval_input_path="eval-*.gz", num_steps=1, batch_size=1, learning_rate_base=0.01, warmup_steps=0)
    bundle = factory.build_detector(parse_pipeline_config_text(text, "bench.config").proto)
    params = sum(int(np.prod(v.shape)) for v in bundle.model.variables)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = export.export_saved_model(bundle, None, text, None, f"{tmp}/export")
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        loaded = tf.saved_model.load(out)
        load_s = time.perf_counter() - start
        serve, by_bytes = loaded.signatures["serving_default"], loaded.signatures["serving_bytes"]
        print(f"model: {bundle.spec.feature_extractor} x0.35, {bundle.spec.input_height} px input, "
              f"{params / 1e6:.2f} M parameters; export {export_s:.1f} s, load {load_s:.1f} s; "
              f"{args.repeats} timed runs after 3 warm-up, batch 1")
        spec = bundle.spec
        model_fn = tf.function(lambda x: bundle.model.postprocess(bundle.model(x, training=False)))
        x = bundle.preprocess(tf.zeros([1, spec.input_height, spec.input_width, 3], tf.uint8))
        base, base90 = _time(lambda: model_fn(x)["num_detections"].numpy(), args.repeats)
        print(f"  model_only      {spec.input_height:4d} px  median {base:7.2f} ms  p90 {base90:7.2f} ms")
        rng = np.random.default_rng(0)
        for size in (int(s) for s in args.sizes.split(",")):
            image = tf.constant(rng.integers(0, 256, size=(1, size, size, 3), dtype=np.uint8))
            jpeg = tf.stack([tf.io.encode_jpeg(image[0])])
            med, p90 = _time(lambda: serve(input_tensor=image)["num_detections"].numpy(), args.repeats)
            print(f"  serving_default {size:4d} px  median {med:7.2f} ms  p90 {p90:7.2f} ms  "
                  f"({med / base:.2f}x model_only)")
            med, p90 = _time(lambda: by_bytes(encoded_image_string_tensor=jpeg)["num_detections"].numpy(),
                             args.repeats)
            print(f"  serving_bytes   {size:4d} px  median {med:7.2f} ms  p90 {p90:7.2f} ms  "
                  f"({med / base:.2f}x model_only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
