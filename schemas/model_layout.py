"""The layout of the folders that hold a model, owned here (as TFX's `path_utils` owns `Format-Serving`).

A detflow export (a SavedModel):
    saved_model.pb, variables/
    assets/label_map.pbtxt, assets/pipeline.config   the class names and the config it was built from
    checkpoint/ckpt-N.*                              the weights, as the OD API's exporter saves them
A Trainer's Model artifact:
    Format-Serving/                                  the export (TFX's serving folder name)
    Format-TFLite/model_<mode>.tflite                one file per quantize mode asked for
A pushed model: the export, its `tflite/` files and metrics.json, in a numbered folder.
An OD API export (exporter_main_v2.py): saved_model/, checkpoint/, pipeline.config.
A TF2 Detection Zoo folder: checkpoint/ckpt-0.*, pipeline.config (and an OD API export's saved_model/).

Names only; nothing here reads a file, so every layer (schemas, the libraries, the components, the
CLI) can use it.
"""

from __future__ import annotations

import os

LABEL_MAP_FILE = "label_map.pbtxt"
PIPELINE_CONFIG_FILE = "pipeline.config"
KEYPOINT_LABEL_MAP_FILE = "keypoint_label_map.pbtxt"   # a CenterNet keypoint task's, beside the export's config
ASSETS_DIR = "assets"
CHECKPOINT_DIR = "checkpoint"
SERVING_DIR = "Format-Serving"            # tfx.utils.path_utils' serving model folder
TFLITE_DIR = "Format-TFLite"              # the .tflite variants, beside Format-Serving in a Model artifact
PUSHED_TFLITE_DIR = "tflite"              # the same files in a pushed model
OD_SAVED_MODEL_DIR = "saved_model"        # an OD API export's SavedModel
TRAIN_RESULT_FILE = "train_result.json"  # what a training run did: in its model dir and the Model artifact

# Where under a folder a checkpoint is looked for: the folder itself, a zoo folder or a detflow
# export (checkpoint/), a Trainer's Model artifact (Format-Serving/...).
CHECKPOINT_FOLDERS = ("", CHECKPOINT_DIR, f"{SERVING_DIR}/{CHECKPOINT_DIR}", SERVING_DIR)
# Where under a folder a SavedModel is looked for: itself, an OD API export, a Model artifact.
SAVED_MODEL_FOLDERS = ("", OD_SAVED_MODEL_DIR, SERVING_DIR)


def export_label_maps(export_dir: str) -> list[str]:
    """Where an export's label map may be, in order: assets/, then beside saved_model.pb."""
    return [os.path.join(export_dir, ASSETS_DIR, LABEL_MAP_FILE), os.path.join(export_dir, LABEL_MAP_FILE)]


def export_config(export_dir: str) -> str:
    """The pipeline.config a detflow export was built from."""
    return os.path.join(export_dir, ASSETS_DIR, PIPELINE_CONFIG_FILE)


def export_checkpoint_dir(export_dir: str) -> str:
    """The folder of an export's checkpoint."""
    return os.path.join(export_dir, CHECKPOINT_DIR)


def configs_beside_checkpoint(prefix: str) -> list[str]:
    """Where the pipeline.config that came with a checkpoint may be: beside it, in its zoo folder, in assets/."""
    directory = os.path.dirname(prefix)
    home = os.path.dirname(directory)
    return [os.path.join(directory, PIPELINE_CONFIG_FILE), os.path.join(home, PIPELINE_CONFIG_FILE),
            os.path.join(home, ASSETS_DIR, PIPELINE_CONFIG_FILE)]


def serving_dir(model_uri: str) -> str:
    """The export inside a Model artifact."""
    return os.path.join(model_uri, SERVING_DIR)


def tflite_dir(model_uri: str) -> str:
    """The folder of a Model artifact's .tflite variants."""
    return os.path.join(model_uri, TFLITE_DIR)


def tflite_file(quantize: str) -> str:
    """The file name of one quantize mode's .tflite variant."""
    return f"model_{quantize}.tflite"


def tflite_mode(file_name: str) -> str | None:
    """The quantize mode a `tflite_file` name holds, or None for any other file."""
    prefix, suffix = "model_", ".tflite"
    if file_name.startswith(prefix) and file_name.endswith(suffix) and len(file_name) > len(prefix + suffix):
        return file_name[len(prefix):-len(suffix)]
    return None
