"""The `detflow` command.

Each sub-command names the module that runs it; that module is imported only
when the command runs, so `detflow --help`, `config check` and `label-map check`
never import TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys


def _add(sub, name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(_handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser for every sub-command (no heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="detflow",
        description="Fine-tune pre-trained object detectors on your own images, as a TFX pipeline.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # config check
    config = sub.add_parser("config", help="pipeline.config tools")
    config_sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    p = _add(config_sub, "check", "schemas.commands:config_check",
             "Validate a TF OD API pipeline.config and print a summary.")
    p.add_argument("config", metavar="CONFIG")

    # label-map check
    label_map = sub.add_parser("label-map", help="label map tools")
    lm_sub = label_map.add_subparsers(dest="label_map_command", metavar="SUBCOMMAND")
    p = _add(lm_sub, "check", "schemas.commands:label_map_check",
             "Validate a StringIntLabelMap text proto.")
    p.add_argument("label_map", metavar="LABEL_MAP")
    p.add_argument("--config", metavar="CONFIG", help="also check num_classes of this pipeline.config")

    # convert
    p = _add(sub, "convert", "components.example_gen.commands:convert",
             "Convert images + annotations (COCO, VOC, CSV) to OD API TFRecords.")
    p.add_argument("--format", required=True, choices=["coco", "voc", "csv"])
    p.add_argument("--annotations", required=True, metavar="PATH",
                   help="COCO instances JSON, VOC folder of XML files, or CSV "
                        "(filename,xmin,ymin,xmax,ymax,class; absolute pixels)")
    p.add_argument("--images", required=True, metavar="DIR",
                   help="image folder; annotation file names are relative to it")
    p.add_argument("--label-map", required=True, metavar="FILE")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="writes Split-train/, Split-eval/ (gzipped TFRecords) and report.json")
    p.add_argument("--eval-percent", type=int, default=20, metavar="N",
                   help="percent of images in Split-eval, by hash of the file name "
                        "(the pipeline's split; default 20)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 and keep no new records (the earlier ones in --out stay) if any image or "
                        "box was skipped, clipped or mismatched")

    # train / predict / init
    p = _add(sub, "train", "components.trainer.commands:train",
             "Fine-tune the detector a pipeline.config names, without the pipeline.")
    p.add_argument("--config", required=True, metavar="CONFIG")
    p.add_argument("--train", metavar="GLOB",
                   help="training TFRecords (default: train_input_reader.tf_record_input_reader.input_path)")
    p.add_argument("--eval", metavar="GLOB",
                   help="evaluation TFRecords for the eval loss (default: the first eval_input_reader's input_path)")
    p.add_argument("--model-dir", required=True, metavar="DIR")
    p.add_argument("--num-steps", type=int, metavar="N")
    p.add_argument("--batch-size", type=int, metavar="N")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="steps between checkpoints (default num_steps/5, at most 1000)")
    p.add_argument("--train-backbone", action="store_true",
                   help="train the backbone too (default: frozen, only FPN + heads train)")

    p = _add(sub, "predict", "components.trainer.predict_command:predict",
             "Run an exported detector on images; draw boxes and write JSON.")
    p.add_argument("--model", required=True, metavar="EXPORT_DIR")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--min-score", type=float, default=0.3)

    p = _add(sub, "init", "components.trainer.commands:init",
             "Write a ready-to-run pipeline.config + label map starting from the embedded checkpoint.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--classes", required=True, help="comma-separated class names")

    # coco-eval
    p = _add(sub, "coco-eval", "components.evaluator.commands:coco_eval",
             "COCO detection metrics for a ground-truth and a detections JSON.")
    p.add_argument("--gt", required=True, metavar="GT.json")
    p.add_argument("--dt", required=True, metavar="DT.json")
    p.add_argument("--json", action="store_true")

    # pipeline commands
    p = _add(sub, "run", "pipelines.commands:run", "Run the detflow TFX pipeline.")
    p.add_argument("--config", required=True, metavar="CONFIG")
    p.add_argument("--format", required=True, choices=["coco", "voc", "csv"])
    p.add_argument("--annotations", required=True, metavar="PATH",
                   help="COCO/CSV file or VOC folder; may hold {SPAN} (data/span-{SPAN}/annotations.json): "
                        "the newest span is read")
    p.add_argument("--images", required=True, metavar="DIR",
                   help="image folder; with {SPAN} in --annotations it may hold {SPAN} too (filled with the "
                        "annotations' span), else it is one folder shared by every span")
    p.add_argument("--root", required=True, metavar="DIR")
    p.add_argument("--label-map", metavar="FILE")
    p.add_argument("--push-to", metavar="DIR")
    p.add_argument("--runner", choices=["local", "beam"], default="local")
    p.add_argument("--min-map", type=float, default=None, metavar="X")
    p.add_argument("--max-regression", type=float, default=None, metavar="X")
    p.add_argument("--warm-start", action="store_true",
                   help="start training from the latest blessed model when there is one")
    p.add_argument("--num-steps", type=int, metavar="N", help="override train_config.num_steps")
    p.add_argument("--batch-size", type=int, metavar="N", help="override train_config.batch_size")
    p.add_argument("--base-checkpoint", metavar="DIR",
                   help="fine-tune checkpoint folder (default: the config's fine_tune_checkpoint)")
    p.add_argument("--eval-percent", type=int, default=20, metavar="N")
    p.add_argument("--strict", action="store_true", help="fail on any skipped image or box")
    p.add_argument("--beam-arg", action="append", metavar="ARG",
                   help="a Beam pipeline arg, repeatable (default: DirectRunner, multi-processing, 2 workers)")
    p.add_argument("--no-cache", action="store_true", help="run every node even if its inputs are unchanged")
    p.add_argument("--train-backbone", action="store_true",
                   help="fine-tune the backbone too (default: frozen, only decoder and heads train)")

    p = _add(sub, "demo", "pipelines.commands:demo",
             "Generate the sample data and run the whole pipeline from the embedded checkpoint.")
    p.add_argument("--workdir", default="demo-run", metavar="DIR")
    p.add_argument("--runner", choices=["local", "beam"], default="local")
    p.add_argument("--num-images", type=int, metavar="N", help="sample images to generate (default 1000)")
    p.add_argument("--image-size", type=int, metavar="PX", help="sample image size (default 128)")
    p.add_argument("--num-steps", type=int, metavar="N", help="override the demo config's num_steps")
    p.add_argument("--frozen-backbone", action="store_true",
                   help="train only decoder and heads (the demo trains the backbone too by default)")
    p.add_argument("--min-map", type=float, metavar="X",
                   help="blessing threshold on COCO mAP (default 0.25; the demo reaches about 0.38)")

    p = _add(sub, "runs", "pipelines.commands:runs", "List past pipeline runs from ML Metadata.")
    p.add_argument("--root", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true")

    p = _add(sub, "lineage", "pipelines.commands:lineage", "Audit an artifact's lineage in ML Metadata.")
    p.add_argument("--root", required=True, metavar="DIR")
    p.add_argument("artifact", metavar="ARTIFACT", help="artifact id, URI or pushed-model directory")
    p.add_argument("--direction", choices=["upstream", "downstream"], default="upstream")
    p.add_argument("--json", action="store_true")
    p.add_argument("--dot", action="store_true")

    p = _add(sub, "compile", "pipelines.commands:compile_pipeline",
             "Compile the pipeline for an orchestrator.")
    p.add_argument("--target", required=True, choices=["kubeflow-v2"])
    p.add_argument("--out", required=True, metavar="FILE")
    from pipelines import configs as c  # no heavy imports: plain constants
    p.add_argument("--root", default=c.KFP_PIPELINE_ROOT, metavar="URI", help="pipeline root the spec uses")
    p.add_argument("--config", default=c.KFP_CONFIG, metavar="CONFIG")
    p.add_argument("--label-map", default=c.KFP_LABEL_MAP, metavar="FILE")
    p.add_argument("--format", default="coco", choices=["coco", "voc", "csv"])
    p.add_argument("--annotations", default=c.KFP_ANNOTATIONS, metavar="PATH")
    p.add_argument("--images", default=c.KFP_IMAGES, metavar="DIR")
    p.add_argument("--base-checkpoint", default=c.KFP_CHECKPOINT, metavar="DIR")
    p.add_argument("--push-to", metavar="URI")
    p.add_argument("--image", default=c.PIPELINE_IMAGE, help="container image every node runs in")
    p.add_argument("--warm-start", action="store_true")
    p.add_argument("--beam-arg", action="append", metavar="ARG", help="a Beam pipeline arg, repeatable")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `detflow` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "_handler", None)
    if handler is None:
        parser.print_help()
        return 2
    module_name, func_name = handler.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `detflow lineage ... | head`: the reader is gone, which is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
