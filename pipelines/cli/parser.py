"""The `detflow` command line: every sub-command's flags, and the handler (`module:function`) that runs it."""

from __future__ import annotations

import argparse
import math


def at_least(minimum: int):
    """An argparse type: a whole number >= `minimum` (0 and negatives are errors naming the flag)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    parse.__name__ = f"int >= {minimum}"
    return parse


def int_range(low: int, high: int):
    """An argparse type: a whole number in [low, high]."""
    def parse(text: str) -> int:
        value = at_least(low)(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value
    parse.__name__ = f"int in [{low}, {high}]"
    return parse


def metric_name(text: str) -> str:
    """An argparse type: a metric the Evaluator can judge (`coco_metrics.check_metric_name`)."""
    from components.evaluator.coco_metrics import check_metric_name  # pylint: disable=import-outside-toplevel
    try:
        check_metric_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _add_metric_flag(p) -> None:
    p.add_argument("--metric", type=metric_name, default=None, metavar="NAME",
                   help="the metric --min-map and --max-regression judge (default DetectionBoxes_Precision/mAP): "
                        "another COCO box metric, 'DetectionBoxes_Precision/mAP ByCategory/<class>', or a keypoint "
                        "metric the config's eval_config.parameterized_metric asks for, e.g. "
                        "'Keypoints_Precision/mAP@.50IOU ByCategory/person'")


def fraction(text: str) -> float:
    """An argparse type: a finite number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text}")
    return value


TFLITE_MODES = ("none", "float16", "int8")   # detection.serving.tflite_export.QUANTIZE_MODES, without TF


def tflite_modes(text: str) -> list[str]:
    """An argparse type: distinct comma-separated TFLite quantize modes (none, float16, int8)."""
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in TFLITE_MODES]
    if not modes or unknown or len(set(modes)) != len(modes):
        raise argparse.ArgumentTypeError(f"expected distinct modes of {', '.join(TFLITE_MODES)} separated by "
                                         f"commas, got {text!r}")
    return modes


def _add_tflite_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tflite", type=tflite_modes, default=None, metavar="MODES",
                   help="also export .tflite models (comma-separated: none, float16, int8; int8 is calibrated "
                        "on train images), evaluate each and push them with the SavedModel")
    p.add_argument("--max-quantization-drop", type=fraction, default=None, metavar="X",
                   help="bless only when the int8 model's mAP is at most X below the SavedModel's "
                        "(needs --tflite with int8)")
    p.add_argument("--representative-size", type=at_least(1), default=None, metavar="N",
                   help="train images int8 is calibrated on (default 100)")


def _add_compression_flag(p: argparse.ArgumentParser) -> None:
    from schemas.example_format import COMPRESSIONS, DEFAULT_COMPRESSION  # pylint: disable=import-outside-toplevel
    p.add_argument("--compression", choices=COMPRESSIONS, default=DEFAULT_COMPRESSION,
                   help="TFRecords gzip (default, as TFX's ExampleGen) or none (uncompressed: the OD API's "
                        "model_main_tf2.py and the tools of its family read only uncompressed records)")


def _add_champion_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--champion", metavar="MODEL",
                   help="a model to beat (a SavedModel or OD API export folder, a .tflite detector: the one in "
                        "production, a colleague's): imported with its lineage, scored on the same eval split; "
                        "no candidate worse than it by more than --max-regression is blessed")


def _add_batch_norm_flags(p: argparse.ArgumentParser) -> None:
    from components.names import BN_REESTIMATE_MODES  # pylint: disable=import-outside-toplevel  (constants)
    p.add_argument("--bn-reestimate", choices=BN_REESTIMATE_MODES, default="auto",
                   help="re-estimate the batch-norm statistics from training batches before export: auto (default: "
                        "when the run is shorter than the config's batch-norm decay needs to forget the start), "
                        "on, off")
    p.add_argument("--bn-reestimate-batches", type=at_least(1), default=None, metavar="N",
                   help="training batches the statistics are re-estimated from (default 50)")


def _add_training_job_flags(p: argparse.ArgumentParser) -> None:
    """The DetectionTrainer's training job (components/trainer/training_jobs.JobPlatform) as --job-* flags."""
    g = p.add_argument_group("training as a job off the pipeline's process (README: Training on several machines)")
    g.add_argument("--job-target", choices=["local", "vertex", "tfjob"],
                   help="train as a multi-worker job: local processes, a Vertex AI CustomJob, a Kubeflow TFJob "
                        "(default: in the pipeline's process)")
    g.add_argument("--job-workers", type=at_least(1), default=2, metavar="N", help="workers, chief included")
    g.add_argument("--job-image", default="", metavar="IMAGE", help="the detflow image the workers run")
    g.add_argument("--job-machine-type", default="n1-standard-8", metavar="TYPE", help="Vertex machine type")
    g.add_argument("--job-accelerator", default="", metavar="TYPE",
                   help="per worker: Vertex's accelerator type or the Kubernetes resource (nvidia.com/gpu)")
    g.add_argument("--job-accelerator-count", type=at_least(0), default=0, metavar="N")
    g.add_argument("--job-project", default="", metavar="ID", help="Vertex project (default: the environment's)")
    g.add_argument("--job-region", default="us-central1", metavar="REGION", help="Vertex region")
    g.add_argument("--job-namespace", default="default", metavar="NS", help="the TFJob's Kubernetes namespace")


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
    for add in (_add_check_commands, _add_convert_command, _add_train_command, _add_model_commands,
                _add_tool_commands, _add_run_command, _add_demo_and_history_commands, _add_compile_command,
                _add_training_job_command):
        add(sub)
    return parser


def _add_check_commands(sub) -> None:
    """Config and label-map checks."""
    # config check
    config = sub.add_parser("config", help="pipeline.config tools")
    config_sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    p = _add(config_sub, "check", "pipelines.cli.check:config_check",
             "Validate a TF OD API pipeline.config and print a summary.")
    p.add_argument("config", metavar="CONFIG")

    # label-map check
    label_map = sub.add_parser("label-map", help="label map tools")
    lm_sub = label_map.add_subparsers(dest="label_map_command", metavar="SUBCOMMAND")
    p = _add(lm_sub, "check", "pipelines.cli.check:label_map_check",
             "Validate a StringIntLabelMap text proto.")
    p.add_argument("label_map", metavar="LABEL_MAP")
    p.add_argument("--config", metavar="CONFIG", help="also check num_classes of this pipeline.config")


def _add_convert_command(sub) -> None:
    """`convert`."""
    # convert
    p = _add(sub, "convert", "pipelines.cli.convert:convert",
             "Convert images + annotations (COCO, VOC, CSV) to OD API TFRecords.")
    p.add_argument("--format", required=True, choices=["coco", "voc", "csv"])
    p.add_argument("--annotations", required=True, metavar="PATH",
                   help="COCO instances JSON, VOC folder of XML files, or CSV "
                        "(filename,xmin,ymin,xmax,ymax,class; absolute pixels)")
    p.add_argument("--images", required=True, metavar="DIR",
                   help="image folder; annotation file names are relative to it")
    p.add_argument("--label-map", required=True, metavar="FILE")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="writes Split-train/, Split-eval/ (TFRecords) and report.json")
    _add_compression_flag(p)
    p.add_argument("--eval-percent", type=int_range(0, 100), default=20, metavar="N",
                   help="percent of images in Split-eval, by hash of the file name "
                        "(the pipeline's split; default 20); 0 or 100 for a dataset split beforehand: "
                        "every image in Split-train or in Split-eval")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 and keep no new records (the earlier ones in --out stay) if any image or "
                        "box was skipped, clipped or mismatched")


def _add_train_command(sub) -> None:
    """`train`."""
    # train / predict / init
    p = _add(sub, "train", "pipelines.cli.train:train",
             "Fine-tune the detector a pipeline.config names, without the pipeline.")
    p.add_argument("--config", required=True, metavar="CONFIG")
    p.add_argument("--train", metavar="GLOB",
                   help="training TFRecords (default: train_input_reader.tf_record_input_reader.input_path)")
    p.add_argument("--eval", metavar="GLOB",
                   help="evaluation TFRecords for the eval loss (default: the first eval_input_reader's input_path)")
    p.add_argument("--model-dir", required=True, metavar="DIR")
    p.add_argument("--export-dir", metavar="DIR", help="where the SavedModel goes (default MODEL_DIR/export)")
    p.add_argument("--label-map", metavar="FILE", help="the label map (default: train_input_reader.label_map_path)")
    p.add_argument("--base-checkpoint", metavar="PATH",
                   help="the checkpoint to fine-tune from (default: train_config.fine_tune_checkpoint; its type "
                        "stays fine_tune_checkpoint_type)")
    p.add_argument("--num-steps", type=at_least(1), metavar="N")
    p.add_argument("--batch-size", type=at_least(1), metavar="N")
    p.add_argument("--checkpoint-every", type=at_least(1), metavar="N",
                   help="steps between checkpoints (default num_steps/5, at most 1000)")
    p.add_argument("--train-backbone", action="store_true",
                   help="train the backbone too (default: frozen, only FPN + heads train)")
    p.add_argument("--seed", type=at_least(0), default=0, metavar="N",
                   help="seed of the initialisers, the input shuffle and augmentation (default 0)")
    p.add_argument("--log-every", type=at_least(1), default=10, metavar="N",
                   help="steps between progress lines and TensorBoard scalars (default 10)")
    p.add_argument("--strategy", choices=("auto", "multi_worker", "mirrored", "one_device", "default", "tpu"),
                   default="auto", help="tf.distribute strategy (default auto: TPUStrategy with --tpu, "
                                        "MultiWorkerMirroredStrategy when TF_CONFIG names several workers, "
                                        "Mirrored over several GPUs, else one device)")
    p.add_argument("--tpu", default="", metavar="NAME",
                   help="train on this TPU (its name, a grpc:// address, or 'local' on a TPU VM)")
    p.add_argument("--precision", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"), default="auto",
                   help="dtype policy (default auto: mixed_bfloat16 on a TPU when the config sets use_bfloat16, "
                        "else float32)")
    p.add_argument("--mixed-precision", dest="precision", action="store_const", const="mixed_float16",
                   help="= --precision mixed_float16: float16 compute with loss scaling (NVIDIA GPUs)")
    _add_batch_norm_flags(p)


def _add_model_commands(sub) -> None:
    """`predict`, `evaluate`, `export`: commands that run a model."""
    p = _add(sub, "predict", "pipelines.cli.predict:predict",
             "Run a detector on images (detflow or OD API SavedModel export, any TFLite detector); draw boxes "
             "and write JSON.")
    p.add_argument("--model", required=True, metavar="EXPORT_DIR|MODEL.tflite",
                   help="a SavedModel folder, an OD API export folder (exporter_main_v2.py) or a .tflite detector")
    p.add_argument("--label-map", metavar="FILE",
                   help="class names (default: the export's label map, or the labels in the TFLite metadata)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--min-score", type=fraction, default=0.3, metavar="X",
                   help="draw and keep detections scoring at least X (0 to 1; default 0.3)")

    p = _add(sub, "evaluate", "pipelines.cli.evaluate:evaluate",
             "COCO metrics of any detector (detflow or OD API export, TFLite file) on OD API TFRecords, as "
             "the Evaluator computes them.")
    p.add_argument("--model", required=True, metavar="EXPORT_DIR|MODEL.tflite",
                   help="a SavedModel folder, an OD API export folder or a .tflite detector")
    p.add_argument("--data", required=True, metavar="GLOB",
                   help="OD API TFRecords to score on, e.g. 'records/Split-eval/*' (comma-separated globs)")
    p.add_argument("--label-map", metavar="FILE",
                   help="the label map the records were made with (default: the model's own label map or "
                        "TFLite labels; their ids must be the records' class ids)")
    p.add_argument("--out", metavar="DIR", help="write metrics.json, PR curves, confusion matrix and examples")
    p.add_argument("--num-images-drawn", type=at_least(0), default=8, metavar="N",
                   help="eval images drawn with their detections under --out (default 8)")
    p.add_argument("--batch-size", type=at_least(1), default=8, metavar="N")
    p.add_argument("--json", action="store_true", help="print the metrics document as JSON")

    p = _add(sub, "export", "pipelines.cli.export:export",
             "Export a trained model as a SavedModel or a TFLite file (float, float16 or int8).")
    p.add_argument("--model", required=True, metavar="EXPORT_DIR",
                   help="a detflow export: a model dir's export/, a pushed model, a Trainer's Format-Serving")
    p.add_argument("--format", required=True, choices=["saved_model", "tflite"])
    p.add_argument("--quantize", choices=["none", "float16", "int8"], default="none",
                   help="TFLite only: none (float32), float16 weights, or int8 (needs --representative-data)")
    p.add_argument("--representative-data", metavar="RECORDS",
                   help="TFRecords to calibrate int8 on (use the train split)")
    p.add_argument("--representative-size", type=at_least(1), default=100, metavar="N",
                   help="images of --representative-data to calibrate on (default 100)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="the .tflite file, or the SavedModel folder")


def _add_tool_commands(sub) -> None:
    """`checkpoint convert`, `init`, `coco-eval`."""
    checkpoint = sub.add_parser("checkpoint", help="checkpoint tools")
    checkpoint_sub = checkpoint.add_subparsers(dest="checkpoint_command", metavar="SUBCOMMAND")
    p = _add(checkpoint_sub, "convert", "pipelines.cli.checkpoint:convert",
             "Write a Keras weights file (.h5, .keras: Keras-applications weights or a model with the backbone "
             "inside) as the OD API's classification checkpoint of the backbone a pipeline.config builds.")
    p.add_argument("--config", required=True, metavar="CONFIG", help="the pipeline.config whose backbone to fill")
    p.add_argument("--weights", required=True, metavar="FILE", help="the Keras .h5 / .hdf5 / .keras file")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for ckpt-1 and restore_report.json")

    p = _add(sub, "init", "pipelines.cli.init_config:init",
             "Write a ready-to-run pipeline.config + label map starting from the embedded checkpoint.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--classes", required=True, help="comma-separated class names")

    # coco-eval
    p = _add(sub, "coco-eval", "pipelines.cli.coco_eval:coco_eval",
             "COCO detection (or keypoint) metrics for a ground-truth and a detections JSON.")
    p.add_argument("--gt", required=True, metavar="GT.json")
    p.add_argument("--dt", required=True, metavar="DT.json")
    p.add_argument("--iou-type", choices=["bbox", "keypoints"], default="bbox",
                   help="bbox (default) or keypoints: OKS with COCO's person sigmas unless --sigmas")
    p.add_argument("--sigmas", metavar="S,S,...", help="keypoints: the OKS sigma of each keypoint, comma-separated")
    p.add_argument("--json", action="store_true")


def _add_run_command(sub) -> None:
    """`run`."""
    # pipeline commands
    p = _add(sub, "run", "pipelines.cli.run:run", "Run the detflow TFX pipeline.")
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
    p.add_argument("--min-map", type=fraction, required=True, metavar="X",
                   help="COCO mAP (0 to 1) a model must reach to be blessed and pushed; required, so that no "
                        "model of any quality is pushed unasked (0 pushes any model)")
    p.add_argument("--max-regression", type=fraction, default=None, metavar="X",
                   help="how much mAP a model may lose against the last blessed one (default 0.02)")
    _add_metric_flag(p)
    p.add_argument("--max-dropped-boxes", type=fraction, default=None, metavar="X",
                   help="fail before training when the ExampleGen drops more than this share of the boxes "
                        "(unknown classes, bad boxes; default 0.05)")
    p.add_argument("--allow-empty-classes", action="store_true",
                   help="train even when a label-map class has no box in the training split")
    p.add_argument("--warm-start", action="store_true",
                   help="start training from the latest blessed model when there is one")
    _add_champion_flag(p)
    p.add_argument("--num-steps", type=at_least(1), metavar="N", help="override train_config.num_steps")
    p.add_argument("--batch-size", type=at_least(1), metavar="N", help="override train_config.batch_size")
    p.add_argument("--base-checkpoint", metavar="DIR",
                   help="fine-tune checkpoint folder (default: the config's fine_tune_checkpoint)")
    p.add_argument("--eval-percent", type=int_range(1, 99), default=20, metavar="N",
                   help="percent of images in the eval split (default 20)")
    p.add_argument("--strict", action="store_true", help="fail on any skipped image or box")
    _add_compression_flag(p)
    p.add_argument("--beam-arg", action="append", metavar="ARG",
                   help="a Beam pipeline arg, repeatable (default: DirectRunner, multi-processing, 2 workers)")
    p.add_argument("--no-cache", action="store_true", help="run every node even if its inputs are unchanged")
    p.add_argument("--train-backbone", action="store_true",
                   help="fine-tune the backbone too (default: frozen, only decoder and heads train)")
    _add_tflite_flags(p)
    _add_batch_norm_flags(p)
    _add_training_job_flags(p)


def _add_demo_and_history_commands(sub) -> None:
    """`demo`, `runs`, `lineage`."""
    p = _add(sub, "demo", "pipelines.cli.demo:demo",
             "Generate the sample data and run the whole pipeline from the embedded checkpoint.")
    p.add_argument("--workdir", default="demo-run", metavar="DIR")
    p.add_argument("--runner", choices=["local", "beam"], default="local")
    p.add_argument("--num-images", type=at_least(10), metavar="N", help="sample images to generate (default 1000)")
    p.add_argument("--image-size", type=at_least(16), metavar="PX", help="sample image size (default 128)")
    p.add_argument("--num-steps", type=at_least(1), metavar="N", help="override the demo config's num_steps")
    p.add_argument("--frozen-backbone", action="store_true",
                   help="train only decoder and heads (the demo trains the backbone too by default)")
    p.add_argument("--min-map", type=fraction, metavar="X",
                   help="blessing threshold on COCO mAP (default 0.25; the demo reaches about 0.36)")
    _add_tflite_flags(p)
    _add_batch_norm_flags(p)

    p = _add(sub, "runs", "pipelines.cli.history:runs", "List past pipeline runs from ML Metadata.")
    p.add_argument("--root", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true")

    p = _add(sub, "lineage", "pipelines.cli.history:lineage", "Audit an artifact's lineage in ML Metadata.")
    p.add_argument("--root", required=True, metavar="DIR")
    p.add_argument("artifact", metavar="ARTIFACT", help="artifact id, URI or pushed-model directory")
    p.add_argument("--direction", choices=["upstream", "downstream"], default="upstream")
    p.add_argument("--json", action="store_true")
    p.add_argument("--dot", action="store_true")


def _add_training_job_command(sub) -> None:
    """`training-job`."""
    p = _add(sub, "training-job", "pipelines.cli.compile:training_job",
             "Write a multi-worker training job running `detflow train ARGS` on every worker: a Vertex AI "
             "CustomJob or a Kubeflow TFJob.")
    p.add_argument("--target", required=True, choices=["vertex", "tfjob"])
    p.add_argument("--out", required=True, metavar="FILE", help="the job spec, JSON")
    p.add_argument("--name", default="detflow-train", help="the job's name")
    from pipelines import configs as c  # no heavy imports: plain constants
    p.add_argument("--image", default=c.PIPELINE_IMAGE, help="the detflow container image every worker runs")
    p.add_argument("--workers", type=at_least(1), default=2, metavar="N", help="workers in all, chief included")
    p.add_argument("--machine-type", default="n1-standard-8", help="Vertex machine type (vertex only)")
    p.add_argument("--accelerator", default="", metavar="TYPE",
                   help="per worker: Vertex's accelerator type (NVIDIA_TESLA_T4, ...) or the Kubernetes resource "
                        "(nvidia.com/gpu)")
    p.add_argument("--accelerator-count", type=at_least(0), default=0, metavar="N")
    p.add_argument("train_args", nargs=argparse.REMAINDER, metavar="-- ARGS",
                   help="after --: the `detflow train` arguments (--config, --train, --model-dir, ...)")


def _add_compile_command(sub) -> None:
    """`compile`."""
    p = _add(sub, "compile", "pipelines.cli.compile:compile_pipeline",
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
    p.add_argument("--schedule", metavar="CRON",
                   help="also write OUT.schedule.json: a Vertex AI Schedule running the pipeline on this cron "
                        "expression (UTC), one run at a time")
    p.add_argument("--project", default="YOUR_PROJECT", help="the schedule's Vertex AI project")
    p.add_argument("--region", default="us-central1", help="the schedule's Vertex AI region")
    p.add_argument("--warm-start", action="store_true")
    _add_champion_flag(p)
    p.add_argument("--min-map", type=fraction, required=True, metavar="X",
                   help="COCO mAP (0 to 1) a model must reach to be blessed and pushed (required)")
    p.add_argument("--max-regression", type=fraction, default=None, metavar="X",
                   help="how much mAP a model may lose against the last blessed one (default 0.02)")
    _add_metric_flag(p)
    p.add_argument("--beam-arg", action="append", metavar="ARG", help="a Beam pipeline arg, repeatable")
    _add_tflite_flags(p)
    _add_batch_norm_flags(p)
    _add_training_job_flags(p)
