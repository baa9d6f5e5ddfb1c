"""Benchmark: training images/s of one `detflow train` process vs two localhost workers (MultiWorkerMirroredStrategy).

The embedded SSD MobileNetV2 x0.35 FPN-lite at 128 px, global batch 16 (8 per worker with two), fine-tuned
from the embedded checkpoint on generated demo-class data. The one-process and two-worker runs alternate
(one, two, one, two, ...) so a noisy shared machine affects both alike; images/s is train_result.json's
(the first step, tracing, is not timed). On a 2-core machine two workers share the cores and add their
collectives: the ratio says what the strategy costs, not what more machines give. Writes JSON with --json.

    .venv/bin/python -m bench.bench_multi_worker [--steps 40] [--repeats 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DETFLOW = os.path.join(os.path.dirname(sys.executable), "detflow")


def _run(config: str, train: str, model_dir: str, steps: int, workers: int) -> float:
    """images/s of one training run with `workers` processes (the chief's train_result.json)."""
    from detection.training import strategy as strategy_lib
    cluster = strategy_lib.localhost_cluster(workers)
    procs = []
    for index in range(workers):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
        env.pop("TF_CONFIG", None)
        if workers > 1:
            env["TF_CONFIG"] = strategy_lib.tf_config(cluster, index)
        procs.append(subprocess.Popen([DETFLOW, "train", "--config", config, "--train", train, "--model-dir",
                                       model_dir, "--num-steps", str(steps), "--bn-reestimate", "off"],
                                      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate()[0] for p in procs]
    if any(p.returncode not in (0, 1) for p in procs):       # 1: the health check's verdict, not a failure here
        raise RuntimeError("\n".join(o[-2000:] for o in outputs))
    with open(os.path.join(model_dir, "train_result.json"), encoding="utf-8") as f:
        return float(json.load(f)["images_per_sec"])


def main(argv: list[str] | None = None) -> dict:
    """Runs the benchmark; returns the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    from bench.bench_train import demo_config

    with tempfile.TemporaryDirectory() as work:
        parsed, train_glob = demo_config(work, args.steps, 16)
        config = os.path.join(work, "bench.config")
        with open(config, "w", encoding="utf-8") as f:
            f.write(parsed.text)
        rates: dict[str, list[float]] = {"one_process": [], "two_workers": []}
        for repeat in range(args.repeats):
            for name, workers in (("one_process", 1), ("two_workers", 2)):
                rate = _run(config, train_glob, os.path.join(work, f"{name}_{repeat}"), args.steps, workers)
                rates[name].append(rate)
                print(f"{name} run {repeat + 1}: {rate:.1f} images/s", flush=True)
    one, two = statistics.median(rates["one_process"]), statistics.median(rates["two_workers"])
    result = {"steps": args.steps, "global_batch": 16, "images_per_sec": rates, "median_one_process": one,
              "median_two_workers": two, "ratio_two_workers_over_one": two / one}
    print(f"one process {one:.1f} images/s, two localhost workers {two:.1f} images/s: ratio {two / one:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
