"""Whether a config's `fine_tune_checkpoint` names a checkpoint on disk, without TensorFlow.

`config check` uses `checkpoint_exists` to warn before training fails; the
trainer's `restore.find_checkpoint` searches the same `CHECKPOINT_FOLDERS`
(with tf.io.gfile, so it also reads gs:// and other URLs, which are not checked here).
"""

from __future__ import annotations

import glob
import os

from schemas import config_paths
from schemas.model_layout import CHECKPOINT_FOLDERS

# Keras weight / model files a `classification` start may name (detection/checkpoints/keras_weights.py).
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


def is_keras_file(path: str) -> bool:
    """True when `path` names a Keras weights or model file (by its suffix)."""
    return str(path).lower().endswith(KERAS_SUFFIXES)


def _holds_checkpoint(folder: str) -> bool:
    state = os.path.join(folder, "checkpoint")
    return os.path.isfile(state) or bool(glob.glob(os.path.join(glob.escape(folder), "*.index")))


def is_checkpoint(path: str) -> bool:
    """True if the local `path` is a checkpoint prefix, a Keras file or a folder holding a checkpoint."""
    if os.path.isfile(path + ".index") or (is_keras_file(path) and os.path.isfile(path)):
        return True
    return os.path.isdir(path) and any(_holds_checkpoint(os.path.join(path, sub) if sub else path)
                                       for sub in CHECKPOINT_FOLDERS)


def checkpoint_exists(path: str, config_path: str) -> bool:
    """True if `path` is a checkpoint prefix (PREFIX.index exists), a Keras file or a folder holding a checkpoint.

    A folder holds one when it, or one of its `CHECKPOINT_FOLDERS`, has a
    `checkpoint` state file or a *.index file. A relative path is looked for
    from the current folder and from the folder of `config_path`. URLs count
    as existing: they cannot be checked without TensorFlow.
    """
    if "://" in path:   # gs://, s3://, hdfs://...: only tf.io.gfile reads them
        return True
    return any(is_checkpoint(candidate) for candidate in config_paths.candidates(path, config_path))


def resolve(path: str, config_path: str) -> str:
    """The checkpoint a config's `fine_tune_checkpoint` names, by `config_paths`' rule (as given, then beside it)."""
    return config_paths.resolve(path, config_path, is_checkpoint)
