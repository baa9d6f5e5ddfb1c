"""`detflow convert`: images + annotations to OD API TFRecords, without the pipeline (`local_convert`).

Output: Split-train/, Split-eval/ and report.json in --out are written first
to a temporary folder inside it and swapped in only once complete (`publish`):
nothing already in --out is deleted before then, so a run that fails, is
interrupted or keeps no records leaves the earlier output as it was. A run
that keeps no records writes its report as report.rejected.json instead.

Exit codes: 0 when examples were written; 1 when nothing was written, or in
--strict mode when anything was skipped, dropped, clipped or mismatched (the
records are then not kept); 2 for usage and file errors, among them any OS
error writing --out (one line naming it and the cause).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

from components.example_gen.local_convert import (OUTPUTS, PREVIOUS, REJECTED_REPORT_FILE, REPORT_FILE,
                                                  OutputError, output_cause, publish, run_conversion)
from pipelines.cli.errors import print_problems
from schemas.problems import Problem


class Progress:
    """A one-line images/s counter on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream=None, every: float = 0.2):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = self.last = time.monotonic()
        self.every = every
        self.count = 0

    def update(self, total=None) -> None:
        """Counts one image and redraws the line at most every `every` seconds."""
        self.count += 1
        now = time.monotonic()
        if self.enabled and now - self.last >= self.every:
            self.last = now
            self._draw(total, now)

    def _draw(self, total, now) -> None:
        rate = self.count / max(now - self.start, 1e-9)
        if total:
            done = min(self.count / total, 1.0)
            bar = "#" * int(done * 30)
            text = f"\r[{bar:<30}] {self.count}/{total} images  {rate:.0f} images/s"
        else:
            text = f"\r{self.count} images  {rate:.0f} images/s"
        self.stream.write(text)
        self.stream.flush()

    def close(self, total=None) -> None:
        """Draws the final line and ends it."""
        if self.enabled:
            self._draw(total, time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def _check_args(args) -> list:
    problems = []
    if not os.path.exists(args.annotations):
        problems.append(Problem(args.annotations, "annotations not found"))
    if not os.path.isdir(args.images):
        problems.append(Problem(args.images, "image folder not found"))
    if os.path.isfile(args.out):
        problems.append(Problem(args.out, "--out must be a folder, this is a file"))
    return problems


def _remove_staging(staging: str) -> None:
    """Deletes the staging folder, unless a failed `publish` left earlier output in it."""
    aside = os.path.join(staging, PREVIOUS)
    if os.path.isdir(aside) and os.listdir(aside):
        print(f"error: the earlier output could not be put back; it is in {aside}", file=sys.stderr)
        return
    shutil.rmtree(staging, ignore_errors=True)


def _output_error(out: str, what: str, error) -> int:
    cause = error.cause if isinstance(error, OutputError) else output_cause(error)
    print_problems([Problem(out, f"cannot {what}: {cause}")])
    return 2


def convert(args) -> int:
    """Handler of `detflow convert` (arguments declared in pipelines/cli/parser.py)."""
    from components.example_gen.readers import open_reader

    problems = _check_args(args)
    if problems:
        print_problems(problems)
        return 2
    try:
        from schemas.label_map import load_label_map

        label_map = load_label_map(args.label_map)
    except OSError as e:
        print_problems([Problem(args.label_map, f"cannot read label map: {e.strerror or e}")])
        return 2

    import tensorflow  # noqa: F401  (loaded before the clock and the progress bar start)

    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        return _output_error(args.out, "create the output folder", e)
    try:
        staging = tempfile.mkdtemp(prefix=".detflow-convert-", dir=args.out)
    except OSError as e:
        return _output_error(args.out, "write in the output folder", e)
    try:
        return _convert_into(args, label_map, open_reader(args.format, args.annotations), staging)
    except OutputError as e:
        return _output_error(args.out, "write the output", e)
    except OSError as e:  # reading an input (the writes raise OutputError)
        print_problems([Problem(e.filename or args.annotations, f"cannot read: {e.strerror or e}")])
        return 2
    finally:
        _remove_staging(staging)


def _convert_into(args, label_map, reader, staging: str) -> int:
    """Converts into `staging`, then publishes it in args.out (or only the rejected report)."""
    started = time.monotonic()
    rep = run_conversion(reader, args.images, label_map, staging, args.eval_percent, Progress(),
                         compression=args.compression)
    seconds = time.monotonic() - started

    written = sum(rep.images.values())
    keep = written > 0 and not (args.strict and rep.has_problems)
    name = REPORT_FILE if keep else REJECTED_REPORT_FILE
    try:
        with open(os.path.join(staging, name), "w", encoding="utf-8") as f:
            f.write(rep.to_json())
        publish(staging, args.out, OUTPUTS if keep else (REJECTED_REPORT_FILE,))
        stale = os.path.join(args.out, REJECTED_REPORT_FILE)
        if keep and os.path.lexists(stale):  # an earlier failed run's: not about this output
            os.remove(stale)
    except OSError as e:
        raise OutputError(output_cause(e)) from None
    report_path = os.path.join(args.out, name)

    for line in rep.summary_lines():
        print(line)
    print(f"{written} images in {seconds:.1f} s ({written / max(seconds, 1e-9):.0f} images/s); "
          f"report: {report_path}")
    kept = _earlier_output(args.out)
    if written == 0:
        print(f"error: no image could be converted; no records written{kept}", file=sys.stderr)
        return 1
    if not keep:
        print(f"error: --strict: {rep.problem_count} problem(s); no records written{kept} "
              f"(see {report_path})", file=sys.stderr)
        return 1
    return 0


def _earlier_output(out: str) -> str:
    """", the earlier records in OUT are kept" when --out holds records from an earlier run."""
    if any(os.path.exists(os.path.join(out, f"Split-{s}")) for s in ("train", "eval")):
        return f", the earlier records in {out} are kept"
    return ""
