"""Executor of DetectionTrainer: TFX's GenericExecutor plus the detflow inputs, records and resume.

TFX gives every execution fresh output folders, so a Trainer killed mid-run
(kill -9, preemption, OOM) would start over from step 0 when the pipeline is
run again. This executor trains instead in a working folder that a re-run of
the *same* training finds again:

    <node dir>/.resume/<key>/      (<node dir> = <pipeline_root>/<node id>)

`<key>` is the sha256 of the input artifacts (type, id, URI) and of every
exec property (custom_config carries the code version), never of the output
URIs; the material hashed is kept beside the checkpoints as `resume_key.json`
and must match exactly before a folder is trained in. `train_loop.train`
resumes from the checkpoint it finds there. On success run_fn moves the
checkpoints and TensorBoard logs into the execution's own `model_run` URI and
the executor removes the working folder, so a completed run leaves none. An
execution that finds the folder locked by a live execution of the same key
trains in its own `model_run` URI (no resume).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from typing import Any, Iterator, Optional

from tfx import types
from tfx.components.trainer import executor as tfx_trainer_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.common import file_lock
from components.names import BASE_MODEL_KEY, LABEL_MAP_KEY, MODEL_KEY, PIPELINE_CONFIG_KEY, TRAIN_RESULT_FILE
from components.trainer import run_fn as run_fn_lib

log = logging.getLogger("detflow.trainer")
RESUME_DIR = ".resume"
KEY_FILE, LOCK_FILE = run_fn_lib.WORK_DIR_PRIVATE


class Executor(tfx_trainer_executor.GenericExecutor):
    """Adds the config / label map / base model URIs to custom_config, runs run_fn, records stats."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        uris = {key: artifact_utils.get_single_uri(input_dict[key])
                for key in (PIPELINE_CONFIG_KEY, LABEL_MAP_KEY, BASE_MODEL_KEY) if input_dict.get(key)}
        custom = json.loads(exec_properties.get("custom_config") or "{}")
        custom[run_fn_lib.INPUT_URIS_KEY] = uris
        material = resume_material(input_dict, exec_properties)
        work_dir = resume_dir(artifact_utils.get_single_uri(output_dict["model_run"]), material)
        with _claimed(work_dir, material) as claimed:
            if claimed:
                custom[run_fn_lib.WORK_DIR_KEY] = work_dir
                _say_if_resuming(work_dir)
            super().Do(input_dict, output_dict, {**exec_properties, "custom_config": json.dumps(custom)})
            if claimed:   # still locked: no other execution can pick the folder up meanwhile
                fileio.rmtree(work_dir)
        model = output_dict[MODEL_KEY][0]
        path = os.path.join(model.uri, TRAIN_RESULT_FILE)
        if fileio.exists(path):
            with fileio.open(path) as f:
                record_on_artifact(model, json.load(f))


def resume_material(input_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]) -> dict:
    """What identifies one training: input artifacts (type, id, URI) by channel and every exec property."""
    inputs = {key: [[a.type_name, a.id, a.uri] for a in artifacts]
              for key, artifacts in sorted(input_dict.items()) if artifacts}
    props = {key: value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
             for key, value in sorted(exec_properties.items())}
    return {"inputs": inputs, "exec_properties": props}


def resume_key(material: dict) -> str:
    """sha256 (hex) of the canonical JSON of `resume_material(...)`."""
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def resume_dir(model_run_uri: str, material: dict) -> str:
    """`<node dir>/.resume/<key>`, where model_run_uri is `<node dir>/model_run/<execution id>`."""
    node_dir = os.path.dirname(os.path.dirname(model_run_uri.rstrip("/")))
    return os.path.join(node_dir, RESUME_DIR, resume_key(material))


@contextlib.contextmanager
def _claimed(work_dir: str, material: dict) -> Iterator[bool]:
    """Yields True while this execution holds work_dir (created, key checked, locked), else False."""
    fileio.makedirs(work_dir)
    key_path = os.path.join(work_dir, KEY_FILE)
    recorded = _recorded_material(key_path)
    if recorded is not None and recorded != material:
        log.warning("%s belongs to another training (its %s differs): not resuming", work_dir, KEY_FILE)
        yield False
        return
    with _locked(work_dir) as locked:
        if not locked:
            log.warning("%s is in use by a running execution of the same training: not resuming", work_dir)
            yield False
            return
        with fileio.open(key_path, "w") as f:
            json.dump(material, f, indent=1, sort_keys=True)
        yield True


def _recorded_material(key_path: str) -> Optional[dict]:
    """The material a folder was made for; None when not written yet (or cut short: it precedes any checkpoint)."""
    if not fileio.exists(key_path):
        return None
    try:
        with fileio.open(key_path) as f:
            return json.load(f)
    except ValueError:
        return None


@contextlib.contextmanager
def _locked(work_dir: str) -> Iterator[bool]:
    """An exclusive, non-blocking flock on work_dir/.lock (local folders; remote ones are not locked)."""
    with file_lock.exclusive(work_dir, LOCK_FILE) as holder:
        yield holder is None


def _say_if_resuming(work_dir: str) -> Optional[int]:
    """Logs and returns the step of the checkpoint a killed execution left in work_dir, if any."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    latest = tf.train.latest_checkpoint(work_dir)
    match = re.search(r"-(\d+)$", latest or "")
    if not match:
        return None
    step = int(match.group(1))
    log.warning("resuming TFX Trainer from step %d (checkpoint of a killed execution: %s)", step, latest)
    return step


def record_on_artifact(model: types.Artifact, result: dict) -> None:
    """Training stats and the restore report as custom properties of the Model artifact."""
    for key in ("steps", "start_step", "batch_size", "boxes_dropped", "boxes_unknown_class",
                "max_number_of_boxes", "num_trainable_variables", "num_replicas"):
        if result.get(key) is not None:
            model.set_int_custom_property(key, int(result[key]))
    model.set_int_custom_property("resumed", int(bool(result.get("resumed", result.get("start_step", 0)))))
    for key in ("final_loss", "images_per_sec", "eval_loss", "seconds"):
        if result.get(key) is not None:
            model.set_float_custom_property(key, float(result[key]))
    if result.get("tflite"):
        model.set_string_custom_property("tflite_variants", json.dumps(result["tflite"], sort_keys=True))
    if result.get("strategy"):
        model.set_string_custom_property("strategy", str(result["strategy"]))
    model.set_int_custom_property("moving_average_exported", int(bool(result.get("moving_average_exported"))))
    report = result.get("restore_report")
    if report:
        model.set_string_custom_property("base_checkpoint", report.get("checkpoint", ""))
        model.set_string_custom_property("fine_tune_checkpoint_type", report.get("checkpoint_type", ""))
        model.set_int_custom_property("restored_variables", int(report.get("num_restored", 0)))
        model.set_int_custom_property("reinitialized_variables", len(report.get("reinitialized", [])))
        model.set_string_custom_property("restored_by_module", json.dumps(report.get("restored", {}),
                                                                          sort_keys=True))
        model.set_string_custom_property("reinitialized_by_module",
                                         json.dumps(report.get("reinitialized_by_module", {}), sort_keys=True))
        model.set_int_custom_property("unused_checkpoint_variables", len(report.get("unused", [])))
        model.set_string_custom_property("unused_by_module", json.dumps(report.get("unused_by_module", {}),
                                                                        sort_keys=True))
        if report.get("network_check"):
            model.set_string_custom_property("network_check", report["network_check"])
        if report.get("class_head_note"):
            model.set_string_custom_property("class_head_note", report["class_head_note"])
