"""Defaults for the detflow pipeline: names, paths under the pipeline root, thresholds, Beam args."""

from __future__ import annotations

import os

PIPELINE_NAME = "detflow"

# Layout under a pipeline root (everything one `detflow run --root DIR` owns).
METADATA_FILE = "metadata.sqlite"
INPUTS_DIR = "inputs"          # content-addressed copies of config and label map
LOGS_DIR = "logs"              # full tracebacks of failed runs
PUSH_DIR = "serving_model"     # default push destination
LOCK_FILE = ".detflow.lock"

# Blessing threshold on COCO DetectionBoxes_Precision/mAP (mAP@[.5:.95]): the most a model may drop
# below the baseline. The value a first model must reach has no default: `detflow run --min-map`.
MAX_REGRESSION = 0.02

# Before training: the largest share of boxes the ExampleGen may drop (unknown classes, bad boxes), and
# whether a label-map class may have no training box (`--max-dropped-boxes`, `--allow-empty-classes`).
MAX_DROPPED_BOX_SHARE = 0.05
ALLOW_EMPTY_CLASSES = False

EVAL_PERCENT = 20

# Beam args of the Beam-based nodes (ImageExampleGen, StatisticsGen) by orchestrator:
# `beam` uses the DirectRunner in multi-processing mode on (at most) 2 cores; `local`
# keeps them in-process, which avoids spawning workers that each import TensorFlow
# (tens of seconds) and is faster for small data. `--beam-arg` replaces either.
DEFAULT_DIRECT_NUM_WORKERS = min(2, os.cpu_count() or 1)


def default_beam_args(runner: str = "beam", num_workers: int | None = None) -> list[str]:
    """Default Beam args for `runner` ('local' or 'beam')."""
    if runner == "local":
        return ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    n = num_workers or DEFAULT_DIRECT_NUM_WORKERS
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={n}"]


# Container image the Kubeflow Pipelines v2 spec runs every node in (infra/container/Dockerfile).
PIPELINE_IMAGE = "detflow:latest"

# `detflow compile` defaults: where a compiled pipeline finds things when it runs on
# Kubeflow / Vertex AI. Config, label map and checkpoint are baked into the image
# (infra/container/Dockerfile runs `detflow init /opt/detflow/config`); data and
# the pipeline root are on object storage. Override each with the compile flags.
KFP_PIPELINE_ROOT = "gs://YOUR_BUCKET/detflow/root"
KFP_ANNOTATIONS = "gs://YOUR_BUCKET/detflow/data/span-{SPAN}/annotations.json"
KFP_IMAGES = "gs://YOUR_BUCKET/detflow/data/span-{SPAN}/images"
KFP_CONFIG = "/opt/detflow/config/pipeline.config"
KFP_LABEL_MAP = "/opt/detflow/config/label_map.pbtxt"
KFP_CHECKPOINT = "/app/components/trainer/base_checkpoint/ssd_mobilenet_v2_fpnlite_128"
