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

# Blessing thresholds on COCO DetectionBoxes_Precision/mAP (mAP@[.5:.95]): the value a first model
# must reach (0: any model, unless `--min-map` says otherwise) and the most it may drop below the baseline.
MIN_MAP = 0.0
MAX_REGRESSION = 0.02

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

# Project packages whose code each custom node runs; their hash is the node's code version.
# CLI handlers, one-off scripts and tests in those folders are not run by a node.
CODE_EXCLUDE = ("commands.py", "*_command.py", "make_*.py", "test_*.py", "*_test.py")
CODE_PACKAGES = {
    "example_gen": ("components/example_gen", "schemas"),
    "label_map_validator": ("components/label_map_validator", "schemas"),
    "trainer": ("components/trainer", "schemas"),
    "evaluator": ("components/evaluator", "schemas"),
}

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
