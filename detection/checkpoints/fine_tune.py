"""Where a training run starts from: the fine-tune checkpoint on a fresh run, or its own last checkpoint.

`fine_tune` restores the config's fine_tune_checkpoint per its type (restore.py)
and keeps the report in model_dir (RESTORE_REPORT) for later resumes, with a
note when the class head comes from other classes (`class_head_note`);
`keep_config` keeps a fresh run's pipeline.config in model_dir; `resume`
restores an interrupted run's checkpoint, refusing another network's.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import tensorflow as tf

from detection.checkpoints import keras_weights, network_settings
from detection.checkpoints import restore as restore_lib
from schemas.checkpoint_paths import is_keras_file
from schemas.model_layout import PIPELINE_CONFIG_FILE
from schemas.problems import Problem, ProblemsError

RESTORE_REPORT = "restore_report.json"


def class_head_note(report: dict, label_map_path: str | None) -> str | None:
    """A warning when the class head was restored from a checkpoint trained on other class names.

    `detection` restores the class head whenever its shape fits, i.e. the same
    number of classes; if the checkpoint's own label map names other classes, each
    of ours starts from the scores of the class that had its id. None otherwise, or
    when either label map is unknown.
    """
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel
    if not label_map_path or not any(m in report.get("restored", {})
                                     for m in ("head_class", "detection_head_class")):
        return None
    from detection.serving import export as export_lib  # pylint: disable=import-outside-toplevel
    # A checkpoint sits in <home>/checkpoint/: the base checkpoint's folder or an export.
    theirs_path = export_lib.find_label_map(os.path.dirname(os.path.dirname(report.get("checkpoint", ""))))
    if not theirs_path:
        return None
    try:
        theirs, ours = load_label_map(theirs_path), load_label_map(label_map_path)
    except (ProblemsError, OSError, ValueError):
        return None
    pairs = [(i, theirs.by_id[i].name, ours.by_id[i].name) for i in sorted(ours.by_id)
             if i in theirs.by_id and theirs.by_id[i].name != ours.by_id[i].name]
    if not pairs:
        return None
    shown = ", ".join(f"{i}: {a} -> {b}" for i, a, b in pairs[:8]) + (", ..." if len(pairs) > 8 else "")
    return (f"the class head was restored from a checkpoint trained on other classes ({shown}; from "
            f"{theirs_path}): each class starts from the scores of the class that had its id, and "
            "fine-tuning re-learns them")


def fine_tune(model, model_dir: str, checkpoint: str | None, checkpoint_type: str,
               say: Callable[[str], None], label_map_path: str | None = None, proto=None) -> dict | None:
    """Fine-tune restore on a fresh run; its report is kept in model_dir for later resumes."""
    if not checkpoint:
        return None
    if is_keras_file(checkpoint):
        restored = keras_weights.restore_backbone(model, checkpoint, checkpoint_type or "detection")
    else:
        restored = restore_lib.restore(model, checkpoint, checkpoint_type or "detection", pipeline_proto=proto)
    say(restored.summary())
    report = restored.to_dict()
    note = class_head_note(report, label_map_path)
    if note:
        report["class_head_note"] = note
        say(f"note: {note}")
    with tf.io.gfile.GFile(os.path.join(model_dir, RESTORE_REPORT), "w") as f:
        json.dump(report, f, indent=1)
    return report


def keep_config(model_dir: str, config_text: str) -> None:
    """Writes the config a fresh run trains with as model_dir/pipeline.config, for resumes and later restores.

    A pipeline.config already there is left as it is: in the OD API's usual layout it is the user's own
    config, trained with `--model_dir` set to its folder.
    """
    path = os.path.join(model_dir, PIPELINE_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(config_text)


def resume(ckpt: tf.train.Checkpoint, prefix: str, model_dir: str, proto=None) -> None:
    """Restores an interrupted run's checkpoint; refuses one whose network is not this config's.

    The variables must match, and where the run kept its config (`keep_config`) its network settings
    must equal `proto`'s: other anchors or another box coder fit the same variables but compute
    another function.
    """
    kept = os.path.join(model_dir, PIPELINE_CONFIG_FILE)
    if proto is not None and tf.io.gfile.exists(kept):
        theirs = network_settings.read_config(kept)
        diffs = (network_settings.differences(theirs, proto) if theirs is not None
                 else [f"{kept} does not parse"])
        if diffs:
            raise ProblemsError([Problem(model_dir, f"holds a run of another network than this pipeline.config "
                                         f"builds ({kept} differs in its network settings); resume it with its own "
                                         "config, or train into a new --model-dir:\n  " + "\n  ".join(diffs))])
    status = ckpt.restore(prefix)
    try:
        status.assert_existing_objects_matched()
    except AssertionError:
        raise ProblemsError([Problem(model_dir, f"holds a checkpoint ({os.path.basename(prefix)}) of another "
                                     "network than this pipeline.config builds (another architecture, or an "
                                     "earlier detflow version); resume it with its own config, or train into a "
                                     "new --model-dir")]) from None
    status.expect_partial()


def previous_restore_report(model_dir: str) -> dict | None:
    """The restore report a fresh run kept in model_dir (None when it restored nothing)."""
    path = os.path.join(model_dir, RESTORE_REPORT)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)
