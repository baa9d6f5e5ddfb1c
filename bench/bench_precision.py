"""Benchmark: training images/s in float32 vs mixed_float16 vs mixed_bfloat16, same config, same process.

The embedded SSD MobileNetV2 x0.35 FPN-lite (default 128 px; --input-size for larger), batch 16,
fine-tuned from the embedded checkpoint with the backbone trained too (so the whole network's
arithmetic counts) on generated demo-class data. The runs alternate (float32, mixed_float16,
mixed_bfloat16, float32, ...) so a noisy shared machine affects all alike; the first step of each
run (tracing) is not timed. Prints images/s of each and the ratios to float32, with the device it ran
on (mixed_float16 is meant for NVIDIA GPUs of compute capability 7.0+; on a CPU it is slower).

    .venv/bin/python -m bench.bench_precision [--steps 40] [--repeats 2] [--input-size 320] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile

from bench.bench_train import demo_config

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def _device() -> str:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{details.get('device_name', 'GPU')} (compute capability {details.get('compute_capability')})"


def main(argv: list[str] | None = None) -> dict:
    """Runs the benchmark; returns the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("detflow").setLevel(logging.WARNING)
    from detection.training import train_loop  # pylint: disable=import-outside-toplevel
    from detection.training.train_settings import TrainJob  # pylint: disable=import-outside-toplevel

    with tempfile.TemporaryDirectory() as work:
        config, train_glob = demo_config(work, args.steps, args.batch_size, args.input_size)
        rates: dict[str, list[float]] = {p: [] for p in POLICIES}
        for repeat in range(args.repeats):
            for policy in POLICIES:
                result = train_loop.train(config, TrainJob(
                    train_glob, None, os.path.join(work, f"{policy}{repeat}"), freeze_backbone=False,
                    export=False, log_every=10 ** 9), precision=policy)
                rates[policy].append(result.throughput.images_per_sec)
                print(f"{policy:15s} run {repeat}: {result.throughput.images_per_sec:7.1f} images/s, final loss "
                      f"{result.losses.final_loss:.3f}", flush=True)
    out: dict = {p: statistics.median(v) for p, v in rates.items()}
    out.update({f"ratio_{p}_over_float32": out[p] / out["float32"] for p in POLICIES[1:]})
    out.update(steps=args.steps, batch_size=args.batch_size, input_size=args.input_size, repeats=args.repeats,
               device=_device())
    print(f"on {out['device']}: " + ", ".join(f"{p} {out[p]:.1f} images/s" for p in POLICIES) + "; "
          + ", ".join(f"{p} {out[f'ratio_{p}_over_float32']:.2f}x float32" for p in POLICIES[1:]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
