"""The ExampleGen's conversion as one streaming loop, for `detflow convert` (no Beam, no TFX).

One pass over the reader: memory stays flat whatever the dataset size. Each
image goes through `convert.record_to_example` (the pipeline's own path) and to
the split `split.assign_split` gives it (TFX's own hash), so an image lands in
the same split here and in the pipeline. `publish` swaps a finished output into
place, deleting what it replaces only once every part has moved.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from components.names import EXAMPLE_GEN_REPORT_FILE as REPORT_FILE
from schemas.example_format import DEFAULT_COMPRESSION, RECORD_FILE_STEM, record_suffix


def record_file(compression: str = DEFAULT_COMPRESSION) -> str:
    """The one shard's file name in each Split-<name>/: TFX ExampleGen's naming, `.gz` when gzipped."""
    return f"{RECORD_FILE_STEM}-00000-of-00001{record_suffix(compression)}"


REJECTED_REPORT_FILE = "report.rejected.json"
OUTPUTS = ("Split-train", "Split-eval", REPORT_FILE)
PREVIOUS = ".previous"  # inside the staging folder: the output being replaced, until the swap is done


class OutputError(Exception):
    """Writing the output failed; `cause` is the operating system's reason."""

    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


def output_cause(error: Exception) -> str:
    """The reason of an OSError or a TensorFlow file error, without the path TensorFlow puts first."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    text = getattr(error, "message", None) or str(error)
    return text.rsplit("; ", 1)[-1]


class _SplitWriters:
    """One TFRecord writer per split under `out_dir` (gzipped or not); every failure raises OutputError."""

    def __init__(self, out_dir: str, names, compression: str = DEFAULT_COMPRESSION):
        import tensorflow as tf

        self._errors = (OSError, tf.errors.OpError)
        self._writers = {}
        with self._as_output_error():
            for name in names:
                os.makedirs(os.path.join(out_dir, f"Split-{name}"), exist_ok=True)
                self._writers[name] = tf.io.TFRecordWriter(
                    os.path.join(out_dir, f"Split-{name}", record_file(compression)),
                    options="GZIP" if compression == "gzip" else None)

    @contextlib.contextmanager
    def _as_output_error(self):
        try:
            yield
        except self._errors as e:
            raise OutputError(output_cause(e)) from None

    def write(self, name: str, record: bytes) -> None:
        """Appends one serialised record to split `name`."""
        with self._as_output_error():
            self._writers[name].write(record)

    def close(self) -> None:
        """Closes every writer (buffered data is written here, so errors show here too)."""
        writers, self._writers = list(self._writers.values()), {}
        with self._as_output_error():
            for w in writers:
                w.close()


def run_conversion(reader, image_dir: str, label_map, out_dir: str, eval_percent: int,
                   progress=None, compression: str = DEFAULT_COMPRESSION):
    """Streams `reader` through record_to_example into OUT/Split-*/; returns the Report.

    Writes into `out_dir` (which must exist) and nothing else; a failed write
    raises OutputError. `progress`, if given, has update(total) and close(total).
    `compression` is one of example_format.COMPRESSIONS. `eval_percent` 0 or 100 writes one split only.
    """
    from components.example_gen import convert, report, split

    splits = split.convert_splits(eval_percent)
    rep = report.Report()
    writers = _SplitWriters(out_dir, [name for name, _ in splits], compression)
    try:
        for item in reader:
            if not hasattr(item, "objects"):
                rep.add_problem(item.kind, item.reason, item.file, item.detail)
                continue
            result = convert.record_to_example(item, image_dir, label_map)
            target = split.assign_split(result.file_name, splits) if result.example is not None else None
            if target is not None:
                writers.write(target, result.example.SerializeToString())
            rep.add_result(result, target)
            if progress:
                progress.update(reader.total)
    finally:
        if progress:
            progress.close(reader.total)
        writers.close()
    return rep


def publish(staging: str, out_dir: str, names=OUTPUTS) -> None:
    """Moves `names` from `staging` into `out_dir`, replacing what is there, deleting it only at the end.

    Each old entry is first moved aside (into staging/.previous); an old entry the new output lacks (a
    split a one-split conversion did not write) is removed with the rest. If a move fails, the entries
    already moved are put back and the OSError propagates.
    `staging` must be a folder inside `out_dir` (renames within one file system).
    """
    aside = os.path.join(staging, PREVIOUS)
    os.mkdir(aside)
    done = []
    try:
        for name in names:
            target = os.path.join(out_dir, name)
            had_old, has_new = os.path.lexists(target), os.path.lexists(os.path.join(staging, name))
            if had_old:
                os.replace(target, os.path.join(aside, name))
            try:
                if has_new:
                    os.replace(os.path.join(staging, name), target)
            except OSError:
                if had_old:
                    os.replace(os.path.join(aside, name), target)
                raise
            done.append((name, had_old, has_new))
    except OSError:
        for name, had_old, has_new in reversed(done):
            if has_new:
                os.replace(os.path.join(out_dir, name), os.path.join(staging, name))
            if had_old:
                os.replace(os.path.join(aside, name), os.path.join(out_dir, name))
        raise
    shutil.rmtree(aside, ignore_errors=True)
