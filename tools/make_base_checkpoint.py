"""Makes the embedded base checkpoint: pre-trains the small detector on generated data.

    .venv/bin/python -m tools.make_base_checkpoint \
        [--workdir /tmp/detflow-pretrain] [--steps 2800] [--images 3000] [--seed 20260401]

Seeded and self-contained: generates `sample_data` images of
PRETRAIN_CLASSES (not the demo's classes), converts them with the same code as
`detflow convert`, trains the SSD MobileNetV2 x0.35 FPN-lite 128 px of
`base_checkpoint.render_config` from scratch (every variable trains),
evaluates COCO mAP on its own held-out split with the evaluator's metrics, and
writes into `ssd_mobilenet_v2_fpnlite_128/`: `checkpoint/ckpt-0` (model weights
only), `pipeline.config`, `label_map.pbtxt`, `PROVENANCE.md` and
`PROVENANCE.json`. Bit-identical weights need the same TF build and thread
scheduling; the data and the recipe are identical for a given seed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import pathlib
import platform
import shutil
import sys
import time

from components.trainer import base_checkpoint as base

DEFAULTS = dict(steps=2800, images=3000, seed=20260401, batch_size=16, learning_rate=0.004,
                warmup_steps=150, eval_percent=10)
AUGMENTATION = ("random_horizontal_flip", "random_adjust_brightness", "random_adjust_contrast",
                "random_adjust_saturation")


def _convert(data, out_dir: str, eval_percent: int) -> None:
    from pipelines import cli  # pylint: disable=import-outside-toplevel
    code = cli.main(["convert", "--format", "coco", "--annotations", str(data.annotations),
                     "--images", str(data.images_dir), "--label-map", str(data.label_map),
                     "--out", out_dir, "--eval-percent", str(eval_percent)])
    if code != 0:
        raise SystemExit(f"conversion failed with exit code {code}")


def _evaluate(export_dir: str, eval_glob: str, label_map_path: str) -> dict:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from components.evaluator import model_eval  # pylint: disable=import-outside-toplevel
    categories = model_eval.read_label_map(label_map_path)
    accumulators, _ = model_eval.evaluate_exports(sorted(tf.io.gfile.glob(eval_glob)),
                                                  {"base": export_dir}, categories)
    result = accumulators["base"].result()
    return {"metrics": dict(result.metrics), "per_category": dict(result.per_category)}


def _write_outputs(result, data, config_text: str, metrics: dict, args, started: float) -> pathlib.Path:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    out = base.CHECKPOINT_DIR
    if out.exists():
        shutil.rmtree(out)
    (out / "checkpoint").mkdir(parents=True)
    source = result.paths.export_checkpoint
    for path in tf.io.gfile.glob(source + ".*"):
        suffix = path[len(source):]
        shutil.copyfile(path, out / "checkpoint" / f"ckpt-0{suffix}")
    (out / "checkpoint" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-0"\nall_model_checkpoint_paths: "ckpt-0"\n')
    shutil.copyfile(data.label_map, out / "label_map.pbtxt")
    (out / "pipeline.config").write_text(config_text)
    size = sum(p.stat().st_size for p in (out / "checkpoint").iterdir())
    provenance = {
        "name": base.NAME,
        "script": "tools/make_base_checkpoint.py",
        "command": " ".join(["python -m tools.make_base_checkpoint"] + sys.argv[1:]),
        "seed": args.seed,
        "data": {"generator": "sample_data.generate", "classes": list(data.classes),
                 "num_images": data.num_images, "num_boxes": data.num_boxes, "image_size": [128, 128],
                 "eval_percent": args.eval_percent, "split": "detflow convert hash split"},
        "architecture": "the OD API's SSD MobileNetV2 FPN-lite network (detection/architectures/ssd): "
                        "MobileNetV2 depth_multiplier 0.35, FPN levels 3-6 (separable, 64 channels), "
                        "weight-shared separable head with one shared tower (depth 64, 2 layers), 128x128",
        "checkpoint_layout": "TF2 Detection Zoo: tf.train.Checkpoint(model=...) keys model/_feature_extractor/..., "
                             "model/_box_predictor/... (detflow >= 0.2; the 0.1 checkpoint was Model Garden's "
                             "RetinaNet)",
        "training": {"steps": result.steps, "batch_size": result.batch_size, "optimizer": "adam",
                     "learning_rate": f"cosine {args.learning_rate}, warmup {args.warmup_steps}",
                     "augmentation": list(AUGMENTATION),
                     "from": "scratch (random init), every variable trained",
                     "final_loss": result.losses.final_loss, "first_loss": result.losses.first_loss,
                     "images_per_sec": result.throughput.images_per_sec, "train_seconds": result.throughput.seconds},
        "eval": metrics,
        "checkpoint_bytes": size,
        "made": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.time() - started, 1),
        "tensorflow": tf.__version__, "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    (out / "PROVENANCE.json").write_text(json.dumps(provenance, indent=1) + "\n")
    m = metrics["metrics"]
    (out / "PROVENANCE.md").write_text(f"""# {base.NAME}: provenance

The embedded base checkpoint detflow fine-tunes from (`detflow init`, the demo).
Made by `{provenance['script']}` on {provenance['made']} with TF {tf.__version__}.

- **Data**: {data.num_images} images of 128x128 from `sample_data.generate(seed={args.seed})`,
  classes {', '.join(data.classes)} (the pre-training classes, none of them demo classes);
  {data.num_boxes} boxes; {args.eval_percent}% held out by `detflow convert`'s hash split.
- **Model**: {provenance['architecture']}.
- **Training**: from scratch, every variable trained, {result.steps} steps of batch {result.batch_size},
  Adam with cosine decay from {args.learning_rate} (warm-up {args.warmup_steps} steps),
  augmentation {', '.join(AUGMENTATION)}; loss {result.losses.first_loss:.3f} → {result.losses.final_loss:.3f};
  {result.throughput.images_per_sec:.1f} images/s on {os.cpu_count()} CPUs ({result.throughput.seconds / 60:.1f} min).
- **Its own eval** (held-out split, COCO): mAP {m.get('DetectionBoxes_Precision/mAP', float('nan')):.3f},
  mAP@.50IOU {m.get('DetectionBoxes_Precision/mAP@.50IOU', float('nan')):.3f}.
- **Files**: `checkpoint/ckpt-0` = `tf.train.Checkpoint(model=model)` weights only ({size / 1e6:.1f} MB),
  `pipeline.config` (the exact config it was trained with), `label_map.pbtxt`.

Reproduce: `{provenance['command']}`.
""")
    return out


def main(argv: list[str] | None = None) -> int:
    """Runs the whole recipe; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="/tmp/detflow-pretrain")
    parser.add_argument("--reuse", action="store_true",
                        help="keep WORKDIR's data and model (finish an interrupted run)")
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(message)s")
    logging.getLogger("detflow").setLevel(logging.INFO)
    started = time.time()
    import sample_data  # pylint: disable=import-outside-toplevel
    work = pathlib.Path(args.workdir)
    records = str(work / "records")
    reuse = args.reuse and (work / "records" / "Split-train").is_dir()
    if work.exists() and not reuse:
        shutil.rmtree(work)
    data = sample_data.generate(work / "data", num_images=args.images, classes=sample_data.PRETRAIN_CLASSES,
                                image_size=(128, 128), seed=args.seed)
    if not reuse:
        _convert(data, records, args.eval_percent)
    train_glob, eval_glob = f"{records}/Split-train/*", f"{records}/Split-eval/*"
    config_text = base.render_config(base.ConfigOptions(
        num_classes=len(data.classes), label_map_path="label_map.pbtxt", train_input_path="Split-train/*",
        eval_input_path="Split-eval/*", num_steps=args.steps, batch_size=args.batch_size,
        learning_rate_base=args.learning_rate, warmup_steps=args.warmup_steps,
        augmentation=AUGMENTATION,
        comment=f"Pre-training config of the embedded {base.NAME} checkpoint (see PROVENANCE.md)."))
    from detection.training import train_loop  # pylint: disable=import-outside-toplevel
    from detection.training.train_settings import TrainJob  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel
    config = parse_pipeline_config_text(config_text, "pipeline.config")
    result = train_loop.train(config, TrainJob(
        train_glob, eval_glob, str(work / "model"), label_map_path=str(data.label_map), freeze_backbone=False,
        checkpoint_every=250, log_every=50, seed=args.seed))
    metrics = _evaluate(result.paths.export_dir, eval_glob, str(data.label_map))
    out = _write_outputs(result, data, config_text, metrics, args, started)
    print(f"wrote {out}: mAP@.50IOU {metrics['metrics'].get('DetectionBoxes_Precision/mAP@.50IOU')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
