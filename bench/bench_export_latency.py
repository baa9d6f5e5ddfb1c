"""Benchmark: per-image latency of the exported detector (batch 1).

For each model of `bench.models` (the demo's SSD MobileNetV2 x0.35 FPN-lite at
128 px, and the zoo's full-width FPN-lite 320), exports it with
`export.export_saved_model`, loads the SavedModel with plain
`tf.saved_model.load` and times, after warm-up, the median and p90 of:
  network_only      backbone + FPN + box head on the normalised model-size
                    input, no post-processing, in a tf.function: the baseline;
  model_call        the same plus decoding, score conversion and NMS;
  serving_default   uint8 images of each --sizes (resized inside);
  serving_bytes     the same images as JPEG bytes (decode + resize inside).
Ratios are to network_only; the goal (issue 11) is serving_default at the
model's own size within 1.5x of it.

    .venv/bin/python -m bench.bench_export_latency [--repeats 30] [--sizes 128,320] [--models demo,fpnlite320]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from bench.timing import median_and_p90_ms

GOAL_SERVING_RATIO = 1.5


def _bench_model(name: str, sizes: list[int], repeats: int) -> None:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from bench import models as bench_models  # pylint: disable=import-outside-toplevel
    from detection.serving import export  # pylint: disable=import-outside-toplevel

    model = bench_models.build(name)
    bundle, spec = model.bundle, model.bundle.spec
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = export.export_saved_model(bundle, model.label_map, model.config_text, None, f"{tmp}/export")
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        loaded = tf.saved_model.load(out)
        load_s = time.perf_counter() - start
        serve, by_bytes = loaded.signatures["serving_default"], loaded.signatures["serving_bytes"]
        print(f"{model.describe()}; export {export_s:.1f} s, load {load_s:.1f} s", flush=True)
        network = tf.function(lambda x: bundle.model(x, training=False))
        model_call = tf.function(lambda x: bundle.model.postprocess(bundle.model(x, training=False)))
        x = bundle.preprocess(tf.zeros([1, spec.input.height, spec.input.width, 3], tf.uint8))
        base, base90 = median_and_p90_ms(lambda: network(x)["box_encodings"].numpy(), repeats)
        print(f"  network_only    {spec.input.height:4d} px  median {base:7.2f} ms  p90 {base90:7.2f} ms")
        med, p90 = median_and_p90_ms(lambda: model_call(x)["num_detections"].numpy(), repeats)
        print(f"  model_call      {spec.input.height:4d} px  median {med:7.2f} ms  p90 {p90:7.2f} ms  "
              f"({med / base:.2f}x network_only)")
        rng = np.random.default_rng(0)
        for size in [spec.input.height] + [s for s in sizes if s != spec.input.height]:
            image = tf.constant(rng.integers(0, 256, size=(1, size, size, 3), dtype=np.uint8))
            jpeg = tf.stack([tf.io.encode_jpeg(image[0])])
            med, p90 = median_and_p90_ms(lambda: serve(input_tensor=image)["num_detections"].numpy(), repeats)
            print(f"  serving_default {size:4d} px  median {med:7.2f} ms  p90 {p90:7.2f} ms  "
                  f"({med / base:.2f}x network_only)")
            if size == spec.input.height:
                print(f"  goal serving_default <= {GOAL_SERVING_RATIO}x network_only at {size} px: "
                      f"{'met' if med / base <= GOAL_SERVING_RATIO else 'NOT met'}")
            med, p90 = median_and_p90_ms(lambda: by_bytes(encoded_image_string_tensor=jpeg)["num_detections"].numpy(), repeats)
            print(f"  serving_bytes   {size:4d} px  median {med:7.2f} ms  p90 {p90:7.2f} ms  "
                  f"({med / base:.2f}x network_only)")


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints one line per measurement."""
    from bench import models as bench_models  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--sizes", default="128,320", help="comma-separated square input sizes")
    parser.add_argument("--models", default=",".join(bench_models.MODEL_NAMES))
    args = parser.parse_args(argv)
    print(f"batch 1, {args.repeats} timed runs after 3 warm-up", flush=True)
    for name in args.models.split(","):
        _bench_model(name, [int(s) for s in args.sizes.split(",")], args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
