"""Benchmark: what AutoGraph costs in building, tracing and exporting a detector.

The trainer builds the model under `tf.autograph.experimental.do_not_convert`,
traces its steps with `tf.function(autograph=False)` and exports with
AutoGraph off. This measures each of the three with AutoGraph on (TF's
default, the baseline) and off, in one process, on the demo-size detector
(the embedded checkpoint's config: SSD MobileNetV2 x0.35 FPN-lite, 128 px),
and checks that the outputs are the same both ways.

    .venv/bin/python -m bench.bench_autograph
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints one line per measurement."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)

    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from components.trainer import base_checkpoint  # pylint: disable=import-outside-toplevel
    from detection.architectures import registry  # pylint: disable=import-outside-toplevel
    from detection.serving import export  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel

    text = base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=5, label_map_path="label_map.pbtxt", train_input_path="train-*.gz",
        eval_input_path="eval-*.gz", num_steps=1, batch_size=1, learning_rate_base=0.01, warmup_steps=0))
    proto = parse_pipeline_config_text(text, "bench.config").proto
    build_off = registry.build_detector            # the trainer's: AutoGraph off
    build_on = build_off.__wrapped__                    # the same function, AutoGraph left on
    images = tf.random.stateless_uniform([2, 128, 128, 3], seed=[1, 2], minval=-1.0, maxval=1.0)
    results = {}
    for mode, build in (("on", build_on), ("off", build_off)):
        bundle, build_s = _timed(lambda b=build: b(proto))
        if mode == "off":  # same weights as the baseline model, so outputs can be compared
            for mine, theirs in zip(bundle.model.variables, results["on"]["model"].variables):
                mine.assign(theirs)
        step = tf.function(lambda x, m=bundle.model: m(x, training=True),
                           autograph=(mode == "on"))
        outputs, trace_s = _timed(lambda s=step: s(images))
        with tempfile.TemporaryDirectory() as tmp:
            if mode == "on":
                original = export.tf.function
                export.tf.function = lambda f=None, **k: original(f, **{**k, "autograph": True})
            try:
                out_dir, export_s = _timed(lambda b=bundle, t=tmp: export.export_saved_model(
                    b, None, text, None, f"{t}/export"))
            finally:
                if mode == "on":
                    export.tf.function = original
            served = tf.saved_model.load(out_dir).signatures["serving_default"](
                input_tensor=tf.cast((images + 1.0) * 127.5, tf.uint8))
        results[mode] = {"model": bundle.model, "build": build_s, "trace": trace_s, "export": export_s,
                         "train_out": outputs, "served": {k: v.numpy() for k, v in served.items()}}
        print(f"autograph {mode:>3}: build {build_s:6.1f} s   trace forward_train {trace_s:6.1f} s   "
              f"export {export_s:6.1f} s", flush=True)

    on, off = results["on"], results["off"]
    for key in ("build", "trace", "export"):
        print(f"{key:>7}: AutoGraph off takes {off[key] / on[key]:.2f}x the time of on "
              f"({on[key] / off[key]:.1f}x faster)")
    train_diff = max(float(tf.reduce_max(tf.abs(a - b)))
                     for a, b in zip(tf.nest.flatten(on["train_out"]), tf.nest.flatten(off["train_out"])))
    served_diff = max(float(np.abs(on["served"][k] - off["served"][k]).max()) for k in on["served"])
    print(f"max output difference: training forward {train_diff:.3g}, serving_default {served_diff:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
