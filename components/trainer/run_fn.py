"""The TFX Trainer entry point: `run_fn(fn_args)` → `train_loop.train`.

Reads the URIs DetectionTrainer's executor puts in `fn_args.custom_config`
(`fn_args.base_model` would be `<uri>/Format-Serving`, which an imported
checkpoint folder does not have), trains with TensorBoard logs and
checkpoints in the executor's resumable working folder (or
`fn_args.model_run_dir` when there is none), moves them into
`fn_args.model_run_dir`, exports to `fn_args.serving_model_dir` (and, with
`custom_config['tflite']`, one .tflite per quantize mode to `Format-TFLite/`,
int8 calibrated on the train split), and writes
the TrainResult (restore report, steps, losses, images/s, boxes dropped) as
`train_result.json` beside `Format-Serving` in the Model artifact.
"""

from __future__ import annotations

import json
import logging
import os

from components.names import (BASE_MODEL_KEY, LABEL_MAP_FILE, LABEL_MAP_KEY, PIPELINE_CONFIG_FILE, PIPELINE_CONFIG_KEY,
                              TFLITE_DIR, TRAIN_RESULT_FILE)

INPUT_URIS_KEY = "detflow_input_uris"
WORK_DIR_KEY = "detflow_work_dir"
WORK_DIR_PRIVATE = ("resume_key.json", ".lock")   # the executor's, left behind when moving
_PATH_FIELDS = ("model_dir", "checkpoint", "export_checkpoint")


def run_fn(fn_args) -> None:
    """Trains and exports; see the module doc. Raises ProblemsError for a config/checkpoint misfit."""
    from components.artifact_types import resolve_file  # pylint: disable=import-outside-toplevel
    # pylint: disable-next=import-outside-toplevel
    from components.trainer import strategy as strategy_lib, train_loop, train_settings
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel

    logging.getLogger("detflow").setLevel(logging.INFO)
    custom = dict(fn_args.custom_config or {})
    uris = custom.get(INPUT_URIS_KEY, {})
    config_path = resolve_file(uris[PIPELINE_CONFIG_KEY], PIPELINE_CONFIG_FILE)
    config = load_pipeline_config(config_path)
    train_settings.resolve_relative_paths(config.proto, config_path)
    label_map = (resolve_file(uris[LABEL_MAP_KEY], LABEL_MAP_FILE) if uris.get(LABEL_MAP_KEY)
                 else config.proto.train_input_reader.label_map_path)
    model_dir = custom.get(WORK_DIR_KEY) or fn_args.model_run_dir
    result = train_loop.train(
        config, fn_args.train_files, fn_args.eval_files, model_dir=model_dir,
        num_steps=custom.get("num_steps") or fn_args.train_steps or None,
        batch_size=custom.get("batch_size"), base_checkpoint=uris.get(BASE_MODEL_KEY),
        strategy=strategy_lib.build_strategy(custom.get("strategy", "auto")),
        label_map_path=label_map, export_dir=fn_args.serving_model_dir,
        tensorboard_dir=os.path.join(model_dir, "train"),
        freeze_backbone=bool(custom.get("freeze_backbone", True)),
        checkpoint_every=custom.get("checkpoint_every")).to_dict()
    if model_dir != fn_args.model_run_dir:
        move_contents(model_dir, fn_args.model_run_dir)
        result = rebase_paths(result, model_dir, fn_args.model_run_dir)
    model_uri = os.path.dirname(fn_args.serving_model_dir.rstrip("/"))
    if custom.get("tflite"):
        from components.trainer import tflite_export  # pylint: disable=import-outside-toplevel
        result["tflite"] = tflite_export.export_variants(
            fn_args.serving_model_dir, os.path.join(model_uri, TFLITE_DIR), custom["tflite"],
            fn_args.train_files, int(custom.get("tflite_representative_size",
                                                tflite_export.DEFAULT_REPRESENTATIVE_SIZE)))
    for folder in (model_uri, fn_args.model_run_dir):
        _write_json(os.path.join(folder, TRAIN_RESULT_FILE), result)


def move_contents(src: str, dst: str) -> None:
    """Moves every entry of folder src (but the executor's own files) into folder dst; works on remote file systems."""
    from tfx.dsl.io import fileio  # pylint: disable=import-outside-toplevel
    from tfx.utils import io_utils  # pylint: disable=import-outside-toplevel
    fileio.makedirs(dst)
    for name in fileio.listdir(src):
        name = name.rstrip("/")
        if name in WORK_DIR_PRIVATE:
            continue
        source, target = os.path.join(src, name), os.path.join(dst, name)
        if "://" not in source and "://" not in target:
            os.replace(source, target)
        elif fileio.isdir(source):
            io_utils.copy_dir(source, target)
            fileio.rmtree(source)
        else:
            fileio.copy(source, target, overwrite=True)
            fileio.remove(source)


def rebase_paths(result: dict, old: str, new: str) -> dict:
    """result with the paths that pointed under folder `old` pointing under `new`."""
    old = old.rstrip("/")
    rebased = dict(result)
    for key in _PATH_FIELDS:
        value = rebased.get(key)
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            rebased[key] = new.rstrip("/") + value[len(old):]
    return rebased


def _write_json(path: str, value: dict) -> None:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(value, f, indent=1)
