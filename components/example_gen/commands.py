"""`detflow convert`: the ExampleGen's conversion as a stand-alone streaming loop.

One process, one pass over the reader: memory stays flat whatever the dataset
size. Each image goes through `convert.record_to_example` (the pipeline's own
path) and to the split `split.assign_split` gives it (TFX's own hash), so an
image lands in the same split here and in the pipeline.

Exit codes: 0 when examples were written; 1 when nothing was written, or in
--strict mode when anything was skipped, dropped, clipped or mismatched (the
records are then not kept; report.json is); 2 for usage and file errors.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from schemas.problems import Problem, ProblemsError

RECORD_FILE = "data_tfrecord-00000-of-00001.gz"  # TFX ExampleGen's naming, one shard


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


def _print_problems(problems) -> None:
    for p in problems:
        print(f"error: {p}", file=sys.stderr)


def _check_args(args) -> list:
    problems = []
    if not os.path.exists(args.annotations):
        problems.append(Problem(args.annotations, "annotations not found"))
    if not os.path.isdir(args.images):
        problems.append(Problem(args.images, "image folder not found"))
    if not 1 <= args.eval_percent <= 99:
        problems.append(Problem("--eval-percent", f"must be between 1 and 99, got {args.eval_percent}"))
    if os.path.isfile(args.out):
        problems.append(Problem(args.out, "--out must be a folder, this is a file"))
    return problems


def run_conversion(reader, image_dir: str, label_map, out_dir: str, eval_percent: int,
                   progress: Progress | None = None):
    """Streams `reader` through record_to_example into OUT/Split-*/; returns the Report.

    Writes into `out_dir` (which must exist) and nothing else.
    """
    import tensorflow as tf

    from components.example_gen import convert, report, split

    splits = split.split_buckets(eval_percent)
    rep = report.Report()
    writers = {}
    try:
        for name, _ in splits:
            os.makedirs(os.path.join(out_dir, f"Split-{name}"), exist_ok=True)
            writers[name] = tf.io.TFRecordWriter(
                os.path.join(out_dir, f"Split-{name}", RECORD_FILE), options="GZIP")
        for item in reader:
            if not hasattr(item, "objects"):
                rep.add_problem(item.kind, item.reason, item.file, item.detail)
                continue
            result = convert.record_to_example(item, image_dir, label_map)
            target = split.assign_split(result.file_name, splits) if result.example is not None else None
            if target is not None:
                writers[target].write(result.example.SerializeToString())
            rep.add_result(result, target)
            if progress:
                progress.update(reader.total)
    finally:
        for w in writers.values():
            w.close()
        if progress:
            progress.close(reader.total)
    return rep


def convert(args) -> int:
    """Handler of `detflow convert` (arguments declared in pipelines/cli.py)."""
    from components.example_gen.readers import open_reader

    problems = _check_args(args)
    if problems:
        _print_problems(problems)
        return 2
    try:
        from schemas.label_map import load_label_map

        label_map = load_label_map(args.label_map)
    except ProblemsError as e:
        _print_problems(e.problems)
        return 2
    except OSError as e:
        _print_problems([Problem(args.label_map, f"cannot read label map: {e.strerror or e}")])
        return 2

    import tensorflow  # noqa: F401  (loaded before the clock and the progress bar start)

    os.makedirs(args.out, exist_ok=True)
    staging = os.path.join(args.out, ".detflow-convert-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    started = time.monotonic()
    try:
        rep = run_conversion(open_reader(args.format, args.annotations), args.images, label_map,
                             staging, args.eval_percent, Progress())
    except ProblemsError as e:
        shutil.rmtree(staging, ignore_errors=True)
        _print_problems(e.problems)
        return 2
    seconds = time.monotonic() - started

    written = sum(rep.images.values())
    keep = written > 0 and not (args.strict and rep.has_problems)
    for name in ("train", "eval"):
        final = os.path.join(args.out, f"Split-{name}")
        shutil.rmtree(final, ignore_errors=True)
        if keep:
            os.replace(os.path.join(staging, f"Split-{name}"), final)
    shutil.rmtree(staging, ignore_errors=True)
    report_path = os.path.join(args.out, "report.json")
    with open(report_path, "w", encoding="utf-8") as f:
        f.write(rep.to_json())

    for line in rep.summary_lines():
        print(line)
    print(f"{written} images in {seconds:.1f} s ({written / max(seconds, 1e-9):.0f} images/s); "
          f"report: {report_path}")
    if written == 0:
        print("error: no image could be converted; nothing written", file=sys.stderr)
        return 1
    if args.strict and rep.has_problems:
        print(f"error: --strict: {rep.problem_count} problem(s); no records written "
              f"(see {report_path})", file=sys.stderr)
        return 1
    return 0
