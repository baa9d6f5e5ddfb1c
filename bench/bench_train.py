"""Benchmark: training images/s with the backbone frozen vs fully fine-tuned, same config.

The embedded SSD MobileNetV2 x0.35 FPN-lite at 128 px, batch 16, fine-tuned
from the embedded checkpoint (type detection) on generated demo-class data.
Both runs happen in this process on the same TFRecords, alternately (frozen,
full, frozen, full, ...) so a noisy shared machine affects both alike; the
first step of each run (tracing) is not timed. Prints images/s of each and the
ratio frozen / full, and writes them as JSON with --json.

    .venv/bin/python -m bench.bench_train [--steps 60] [--repeats 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile


def _data(work: str) -> tuple[str, str]:
    import sample_data
    from pipelines import cli
    data = sample_data.generate(os.path.join(work, "data"), num_images=120, seed=7)
    out = os.path.join(work, "records")
    code = cli.main(["convert", "--format", "coco", "--annotations", str(data.annotations), "--images",
                     str(data.images_dir), "--label-map", str(data.label_map), "--out", out])
    if code:
        raise RuntimeError(f"convert failed ({code})")
    return os.path.join(out, "Split-train", "*"), str(data.label_map)


def demo_config(work: str, steps: int, batch_size: int, input_size: int | None = None):
    """(the embedded checkpoint's config fine-tuned to 5 demo classes, the train glob) on data generated in
    `work`."""
    from components.trainer import base_checkpoint  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel
    train_glob, label_map = _data(work)
    size = {"input_size": input_size} if input_size else {}
    text = base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=5, label_map_path=label_map, train_input_path=train_glob, eval_input_path=train_glob,
        num_steps=steps, batch_size=batch_size, learning_rate_base=0.004, warmup_steps=5,
        fine_tune_checkpoint=base_checkpoint.checkpoint_prefix(), **size))
    return parse_pipeline_config_text(text, "bench.config"), train_glob


def main(argv: list[str] | None = None) -> dict:
    """Runs the benchmark; returns the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("detflow").setLevel(logging.WARNING)
    from detection.training import train_loop
    from detection.training.train_settings import TrainJob

    with tempfile.TemporaryDirectory() as work:
        config, train_glob = demo_config(work, args.steps, args.batch_size)
        rates: dict[str, list[float]] = {"frozen": [], "full": []}
        for repeat in range(args.repeats):
            for name, frozen in (("frozen", True), ("full", False)):
                result = train_loop.train(config, TrainJob(
                    train_glob, None, os.path.join(work, f"{name}{repeat}"), freeze_backbone=frozen,
                    export=False, log_every=10 ** 9))
                rates[name].append(result.throughput.images_per_sec)
                print(f"{name:6s} run {repeat}: {result.throughput.images_per_sec:7.1f} images/s "
                      f"({result.variables.num_trainable_variables} trainable variables)", flush=True)
    out = {name: statistics.median(v) for name, v in rates.items()}
    out["ratio_frozen_over_full"] = out["frozen"] / out["full"]
    out.update(steps=args.steps, batch_size=args.batch_size, repeats=args.repeats, cpus=os.cpu_count())
    print(f"frozen backbone {out['frozen']:.1f} images/s, full fine-tune {out['full']:.1f} images/s: "
          f"frozen is {out['ratio_frozen_over_full']:.2f}x faster")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
