"""Real data: detflow against the OD API's own model_main_tf2.py on BCCD and the playing cards.

Runs when ../shared/realdata (or $DETFLOW_REALDATA) is there and the oracle environment (`make oracle`)
is built; says why and skips otherwise. Both tools get the same pipeline.config (the zoo's SSD MobileNetV2
FPN-lite at depth 0.35 / min_depth 8, `bench.realdata.Recipe`), the same uncompressed records (written by
`detflow convert --compression none`, which the OD API reads) and the same start: the ImageNet MobileNetV2
0.35 Keras file written as the OD API's classification checkpoint (`detflow checkpoint convert`). Both
exports are scored by the same code (`detflow evaluate`'s `model_eval.score_model`).

Runs, per dataset:
- A (batch-norm decay 0.9, where both learn), seeds 0..2: the OD API (its backbone trains), detflow with
  `--train-backbone` (the same network training), detflow with its frozen-backbone default;
- B (the zoo's decay 0.997), seed 0: the OD API and detflow `--train-backbone` (re-estimation on by default);
- C (decay 0.9), seed 0: detflow `--train-backbone` from random initialisation.
Throughput is the steady state: the OD API logs its time per step over each 100-step chunk, detflow every
10 steps; windows after step 100 are averaged. Whole-command time is the training command's wall time
(the OD API's export is timed apart). `--quick` runs one seed of A on BCCD only; `--plans=A` some plans.

Results: bench/out/realdata/<dataset>/rows.json, bench/out/realdata/realdata.json and a table on stdout.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import realdata

REPO = realdata.REPO
ORACLE_PYTHON = REPO / ".oracle" / "venv" / "bin" / "python"
OD_TRAIN = REPO / "tools" / "oracle" / "od_train.py"
DETFLOW = [sys.executable, "-m", "pipelines.cli"]
OUT = REPO / "bench" / "out" / "realdata"
MAP, MAP50 = "DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU"
STEADY_AFTER = 100


def _run(command: list[str], log: Path, env: dict | None = None) -> tuple[int, float, str]:
    started = time.perf_counter()
    # TFX's tensorflow_transform sets TF_USE_LEGACY_KERAS on import; the oracle's TF 2.15 has no tf_keras.
    base = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    with open(log, "w", encoding="utf-8") as f:
        code = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, cwd=str(REPO), check=False,
                              env=dict(base, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))).returncode
    return code, time.perf_counter() - started, log.read_text(errors="replace")


def _score(export: str, records: dict) -> dict:
    from components.evaluator import model_eval  # pylint: disable=import-outside-toplevel

    score = model_eval.score_model(export, records["eval"], records["label_map"])
    return {"mAP": score.result.metrics[MAP], "mAP@.50IOU": score.result.metrics[MAP50],
            "per_class": score.result.per_category}


def od_api_run(config: Path, work: Path, records: dict, recipe: realdata.Recipe) -> dict:
    """model_main_tf2.py, then exporter_main_v2.py, then the same scorer."""
    model_dir, export = work / "model", work / "export"
    code, seconds, log = _run([str(ORACLE_PYTHON), str(OD_TRAIN), "train", f"--pipeline_config_path={config}",
                               f"--model_dir={model_dir}", f"--num_train_steps={recipe.steps}",
                               f"--checkpoint_every_n={recipe.steps}", "--alsologtostderr"], work / "train.log",
                              env={"PYTHONPATH": ""})
    if code:
        return {"error": f"model_main_tf2.py exited {code}: see {work / 'train.log'}"}
    windows = [(int(step), float(t)) for step, t in re.findall(r"Step (\d+) per-step time ([\d.]+)s", log)]
    steady = [t for step, t in windows if step > STEADY_AFTER]
    export_code, export_seconds, _ = _run([str(ORACLE_PYTHON), str(OD_TRAIN), "export", "--input_type=image_tensor",
                                           f"--pipeline_config_path={config}", f"--trained_checkpoint_dir={model_dir}",
                                           f"--output_directory={export}"], work / "export.log", env={"PYTHONPATH": ""})
    if export_code:
        return {"error": f"exporter_main_v2.py exited {export_code}: see {work / 'export.log'}"}
    return {"images_per_sec": recipe.batch_size / statistics.mean(steady) if steady else None,
            "seconds": seconds, "export_seconds": export_seconds, **_score(str(export), records)}


def detflow_run(config: Path, work: Path, records: dict, seed: int, train_backbone: bool) -> dict:
    """`detflow train` (it exports), then the same scorer."""
    flags = ["--train-backbone"] if train_backbone else []
    code, seconds, log = _run(DETFLOW + ["train", "--config", str(config), "--model-dir", str(work / "model"),
                                         "--seed", str(seed), *flags], work / "train.log")
    rates = [float(rate) for step, rate in re.findall(r"step (\d+)/\d+ .* ([\d.]+) images/s", log)
             if int(step) > STEADY_AFTER]
    health = re.search(r"(model health: .*|collapsed model: .*)", log)
    batch_norm = re.search(r"batch-norm statistics (re-estimated|kept)[^;]*", log)
    result = {"exit": code, "images_per_sec": statistics.mean(rates) if rates else None, "seconds": seconds,
              "health": health.group(1)[:200] if health else None,
              "batch_norm": batch_norm.group(0) if batch_norm else None}
    if not (work / "model" / "export" / "saved_model.pb").exists():
        return {**result, "error": f"detflow train exited {code}: see {work / 'train.log'}"}
    return {**result, **_score(str(work / "model" / "export"), records)}


def _config(root: Path, name: str, dataset: realdata.Dataset, records: dict, recipe: realdata.Recipe) -> Path:
    path = root / f"{name}.config"
    path.write_text(realdata.recipe_config(len(dataset.classes), recipe, records["train"], records["eval"],
                                           records["label_map"]))
    return path


def run_dataset(dataset: realdata.Dataset, root: Path, seeds: list[int], plans_asked: str,
                tools_asked: tuple[str, ...] | None = None) -> list[dict]:
    """The runs of the plans asked (letters of "ABC") on one dataset (see the module doc); one row each.

    `tools_asked` (od_api, detflow_trained, detflow_frozen) narrows each plan's tools; None runs them all.
    """
    records = realdata.convert(dataset, root / "records", compression="none")
    start_config = _config(root, "start", dataset, records, realdata.Recipe())
    code, _, _ = _run(DETFLOW + ["checkpoint", "convert", "--config", str(start_config), "--weights",
                                 str(realdata.IMAGENET_WEIGHTS), "--out", str(root / "imagenet")],
                      root / "convert.log")
    if code:
        raise RuntimeError(f"detflow checkpoint convert exited {code}: see {root / 'convert.log'}")
    start = str(root / "imagenet" / "ckpt-1")
    plans = [("A", 0.9, start, seeds, ("od_api", "detflow_trained", "detflow_frozen")),
             ("B", 0.997, start, [0], ("od_api", "detflow_trained")),
             ("C", 0.9, "", [0], ("detflow_trained",))]
    plans = [(name, decay, checkpoint, plan_seeds, tuple(t for t in tools if not tools_asked or t in tools_asked))
             for name, decay, checkpoint, plan_seeds, tools in plans if name in plans_asked]
    rows = []
    for plan, decay, checkpoint, plan_seeds, tools in plans:
        recipe = realdata.Recipe(batch_norm_decay=decay, fine_tune_checkpoint=checkpoint)
        config = _config(root, f"{plan}", dataset, records, recipe)
        for seed in plan_seeds:
            for tool in tools:
                work = root / f"{plan}_{tool}_{seed}"
                work.mkdir(parents=True, exist_ok=True)
                print(f"[{dataset.name}] {plan} decay {decay} {'imagenet' if checkpoint else 'random'} {tool} "
                      f"seed {seed} ...", flush=True)
                if tool == "od_api":
                    found = od_api_run(config, work, records, recipe)
                else:
                    found = detflow_run(config, work, records, seed, tool == "detflow_trained")
                row = {"dataset": dataset.name, "plan": plan, "decay": decay,
                       "start": "imagenet" if checkpoint else "random", "tool": tool, "seed": seed, **found}
                print("   " + json.dumps({k: v for k, v in row.items() if k != "per_class"}), flush=True)
                rows.append(row)
    return rows


def summarise(rows: list[dict]) -> list[str]:
    """The table: per dataset, plan and tool the mean (and range) over seeds."""
    lines = [f"{'dataset':8} {'plan':4} {'tool':16} {'seeds':5} {'mAP':>17} {'mAP@.50IOU':>17} {'images/s':>9} "
             f"{'command s':>9}"]
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["plan"], row["tool"]), []).append(row)
    for (dataset, plan, tool), found in groups.items():
        ok = [r for r in found if "error" not in r]

        def stat(key):
            values = [r[key] for r in ok if r.get(key) is not None]
            if not values:
                return "-"
            return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})" if len(values) > 1 \
                else f"{values[0]:.3f}"
        speed = [r["images_per_sec"] for r in ok if r.get("images_per_sec")]
        seconds = [r["seconds"] for r in ok]
        lines.append(f"{dataset:8} {plan:4} {tool:16} {len(ok):5} {stat('mAP'):>17} {stat('mAP@.50IOU'):>17} "
                     f"{statistics.mean(speed) if speed else 0:9.1f} {statistics.mean(seconds) if seconds else 0:9.0f}"
                     + (f"  ({len(found) - len(ok)} failed)" if len(ok) < len(found) else ""))
    for dataset in sorted({r["dataset"] for r in rows}):
        od = [r["images_per_sec"] for r in rows if r["dataset"] == dataset and r["tool"] == "od_api"
              and r["plan"] == "A" and r.get("images_per_sec")]
        ours = [r["images_per_sec"] for r in rows if r["dataset"] == dataset and r["tool"] == "detflow_trained"
                and r["plan"] == "A" and r.get("images_per_sec")]
        if od and ours:
            lines.append(f"{dataset}: detflow --train-backbone / OD API steady-state images/s = "
                         f"{statistics.mean(ours) / statistics.mean(od):.2f}x")
    return lines


def main(argv: list[str]) -> int:
    """Runs the benchmark (see the module doc); `--quick` for one seed of A on BCCD, `--plans=AB` for some plans.

    `--seeds=3,4,5` runs those seeds of plan A and `--tools=od_api,detflow_trained` only those tools; their
    rows replace the same plan/tool/seed in bench/out/realdata/<dataset>/rows.json and join the others, so
    more seeds can be added to an earlier run. The table (and realdata.json) covers every dataset that has
    rows, so datasets can be run one at a time.
    """
    if not realdata.available():
        print(f"skipped: {realdata.REALDATA} (the real data beside the repository) is absent")
        return 0
    if not ORACLE_PYTHON.exists():
        print(f"skipped: no OD API environment at {ORACLE_PYTHON.parent.parent}: run `make oracle`")
        return 0
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or (["bccd"] if quick else list(realdata.DATASETS))
    seeds = [0] if quick else [0, 1, 2]
    seeds = next(([int(s) for s in a.split("=", 1)[1].split(",")] for a in argv if a.startswith("--seeds=")), seeds)
    tools = next((tuple(a.split("=", 1)[1].split(",")) for a in argv if a.startswith("--tools=")), None)
    plans = next((a.split("=", 1)[1] for a in argv if a.startswith("--plans=")), "A" if quick else "ABC")
    for name in names:
        rows = run_dataset(realdata.DATASETS[name], OUT / name, seeds, plans, tools)
        earlier = OUT / name / "rows.json"
        if earlier.exists():
            done = {(r["plan"], r["tool"], r["seed"]) for r in rows}
            rows = [r for r in json.loads(earlier.read_text()) if (r["plan"], r["tool"], r["seed"]) not in done] + rows
        earlier.write_text(json.dumps(rows, indent=1))
    rows = [row for name in realdata.DATASETS if (OUT / name / "rows.json").exists()
            for row in json.loads((OUT / name / "rows.json").read_text())]
    (OUT / "realdata.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(summarise(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
