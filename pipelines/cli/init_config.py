"""`detflow init DIR --classes a,b,c`: a ready-to-run pipeline.config + label map from the embedded checkpoint."""

from __future__ import annotations

import pathlib

from pipelines.cli.errors import print_problems
from schemas.problems import Problem

# Demo-sized fine-tuning defaults `detflow init` writes (measured: see base_checkpoint/PROVENANCE.md).
INIT_NUM_STEPS = 600
INIT_BATCH_SIZE = 16
INIT_LEARNING_RATE = 0.004
INIT_WARMUP_STEPS = 50


def init(args) -> int:
    """Handler of `detflow init DIR --classes a,b,c`: a ready-to-run config from the embedded checkpoint."""
    from components.trainer import base_checkpoint as base  # pylint: disable=import-outside-toplevel
    from schemas.label_map import write_label_map  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import parse_pipeline_config_text  # pylint: disable=import-outside-toplevel

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if not classes:
        print_problems([Problem("--classes", "give at least one class name, e.g. --classes cat,dog")])
        return 2
    if len(set(classes)) != len(classes):
        print_problems([Problem("--classes", f"class names repeat: {args.classes}")])
        return 2
    if not pathlib.Path(base.checkpoint_prefix() + ".index").exists():
        print_problems([Problem(str(base.CHECKPOINT_DIR), "the embedded checkpoint is missing; make it with "
                                 "python -m tools.make_base_checkpoint")])
        return 1
    out = pathlib.Path(args.dir).resolve()
    config_path, label_map_path = out / "pipeline.config", out / "label_map.pbtxt"
    existing = [str(p) for p in (config_path, label_map_path) if p.exists()]
    if existing:
        print_problems([Problem(p, "already exists; not overwritten") for p in existing])
        return 1
    out.mkdir(parents=True, exist_ok=True)
    write_label_map(classes, label_map_path)
    text = base.render_config(base.ConfigOptions(
        num_classes=len(classes), label_map_path=str(label_map_path),
        train_input_path=str(out / "records" / "Split-train" / "*"),
        eval_input_path=str(out / "records" / "Split-eval" / "*"),
        num_steps=INIT_NUM_STEPS, batch_size=INIT_BATCH_SIZE, learning_rate_base=INIT_LEARNING_RATE,
        warmup_steps=INIT_WARMUP_STEPS, fine_tune_checkpoint=base.checkpoint_prefix(),
        fine_tune_checkpoint_type="detection",
        comment=(f"Written by `detflow init` for classes {', '.join(classes)}: fine-tunes the embedded "
                 f"{base.NAME}\ncheckpoint (its provenance: {base.CHECKPOINT_DIR / 'PROVENANCE.md'}).\n"
                 "Type 'detection' restores backbone, FPN and box head; the class head is re-initialised "
                 "when num_classes differs.")))
    parse_pipeline_config_text(text, str(config_path))  # the template must stay valid
    config_path.write_text(text, encoding="utf-8")
    print(f"wrote {config_path}\nwrote {label_map_path}\nnext:\n"
          f"  detflow convert --format coco --annotations ANNOTATIONS.json --images IMAGES_DIR "
          f"--label-map {label_map_path} --out {out / 'records'}\n"
          f"  detflow train --config {config_path} --train '{out / 'records/Split-train/*'}' "
          f"--eval '{out / 'records/Split-eval/*'}' --model-dir {out / 'model'}")
    return 0
