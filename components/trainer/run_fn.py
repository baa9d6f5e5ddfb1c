"""The TFX Trainer entry point: `run_fn(fn_args)` → `train_loop.train`.

Reads the URIs DetectionTrainer's executor puts in `fn_args.custom_config`
(`fn_args.base_model` would be `<uri>/Format-Serving`, which an imported
checkpoint folder does not have), trains with TensorBoard logs and
checkpoints under `fn_args.model_run_dir`, exports to
`fn_args.serving_model_dir`, and writes the TrainResult (restore report,
steps, losses, images/s, boxes dropped) as `train_result.json` beside
`Format-Serving` in the Model artifact.
"""

from __future__ import annotations

import json
import logging
import os

TRAIN_RESULT_FILE = "train_result.json"
INPUT_URIS_KEY = "detflow_input_uris"


def run_fn(fn_args) -> None:
    """Trains and exports; see the module doc. Raises ProblemsError for a config/checkpoint misfit."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from components.artifact_types import (  # pylint: disable=import-outside-toplevel
        LABEL_MAP_FILENAME, PIPELINE_CONFIG_FILENAME, resolve_file)
    from components.trainer import train_loop  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel

    logging.getLogger("detflow").setLevel(logging.INFO)
    custom = dict(fn_args.custom_config or {})
    uris = custom.get(INPUT_URIS_KEY, {})
    config_path = resolve_file(uris["pipeline_config"], PIPELINE_CONFIG_FILENAME)
    config = load_pipeline_config(config_path)
    train_loop.resolve_relative_paths(config.proto, config_path)
    label_map = (resolve_file(uris["label_map"], LABEL_MAP_FILENAME) if uris.get("label_map")
                 else config.proto.train_input_reader.label_map_path)
    result = train_loop.train(
        config, fn_args.train_files, fn_args.eval_files, model_dir=fn_args.model_run_dir,
        num_steps=custom.get("num_steps") or fn_args.train_steps or None,
        batch_size=custom.get("batch_size"), base_checkpoint=uris.get("base_model"),
        label_map_path=label_map, export_dir=fn_args.serving_model_dir,
        tensorboard_dir=os.path.join(fn_args.model_run_dir, "train"),
        freeze_backbone=bool(custom.get("freeze_backbone", True)),
        checkpoint_every=custom.get("checkpoint_every"))
    model_uri = os.path.dirname(fn_args.serving_model_dir.rstrip("/"))
    with tf.io.gfile.GFile(os.path.join(model_uri, TRAIN_RESULT_FILE), "w") as f:
        json.dump(result.to_dict(), f, indent=1)
