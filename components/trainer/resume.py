"""A working folder that a re-run of the same DetectionTrainer execution finds again, so a killed training resumes.

TFX gives every execution fresh output folders, so a Trainer killed mid-run
(kill -9, preemption, OOM) would start over from step 0 when the pipeline is
run again. The executor trains instead in

    <node dir>/.resume/<key>/      (<node dir> = <pipeline_root>/<node id>)

`<key>` is the sha256 of the input artifacts (type, id, URI) and of every
exec property (the code version among them), never of the output URIs; the
material hashed is kept beside the checkpoints as `resume_key.json` and must
match exactly before a folder is trained in. `train_loop.train` resumes from
the checkpoint it finds there. On success the checkpoints and TensorBoard logs
move into the execution's own `model_run` URI (`move_contents`) and the folder
is removed, so a completed run leaves none. An execution that finds the folder
locked by a live execution of the same key trains in its own `model_run` URI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import dataclasses
import os
import re
from typing import Any, Iterator, Optional

from tfx.dsl.io import fileio

from components.common import file_lock

log = logging.getLogger("detflow.trainer")
RESUME_DIR = ".resume"
KEY_FILE, LOCK_FILE = WORK_DIR_PRIVATE = ("resume_key.json", ".lock")   # left behind when moving
_PATH_FIELDS = ("model_dir", "checkpoint", "export_checkpoint")


def resume_material(input_dict: dict[str, list], exec_properties: dict[str, Any]) -> dict:
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
def claimed(work_dir: str, material: dict) -> Iterator[bool]:
    """Yields True while this execution holds work_dir (created, key checked, locked), else False."""
    fileio.makedirs(work_dir)
    key_path = os.path.join(work_dir, KEY_FILE)
    recorded = _recorded_material(key_path)
    if recorded is not None and recorded != material:
        log.warning("%s belongs to another training (its %s differs): not resuming", work_dir, KEY_FILE)
        yield False
        return
    with file_lock.exclusive(work_dir, LOCK_FILE) as holder:
        if holder is not None:
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


def say_if_resuming(work_dir: str) -> Optional[int]:
    """Logs and returns the step of the checkpoint a killed execution left in work_dir, if any."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    latest = tf.train.latest_checkpoint(work_dir)
    match = re.search(r"-(\d+)$", latest or "")
    if not match:
        return None
    step = int(match.group(1))
    log.warning("resuming TFX Trainer from step %d (checkpoint of a killed execution: %s)", step, latest)
    return step


def move_contents(src: str, dst: str) -> None:
    """Moves every entry of folder src (but this module's own files) into folder dst; works on remote file systems."""
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


def rebase_paths(result, old: str, new: str):
    """A TrainResult with the paths that pointed under folder `old` pointing under `new`."""
    old = old.rstrip("/")
    rebased = {}
    for key in _PATH_FIELDS:
        value = getattr(result.paths, key)
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            rebased[key] = new.rstrip("/") + value[len(old):]
    return dataclasses.replace(result, paths=dataclasses.replace(result.paths, **rebased))
