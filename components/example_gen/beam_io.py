"""Beam pieces of the image ExampleGen (Beam and the library only; no TFX).

The annotation stream is read in one DoFn per annotation file (readers spill
to local temp files, so a worker's memory stays flat), then `Reshuffle`
spreads the records over workers before the expensive decode/convert step.
Skips are counted with Beam Metrics and folded into one report with a
CombineFn, so all of it runs unchanged on a distributed runner.
"""

from __future__ import annotations

import apache_beam as beam

from components.example_gen import convert, report, split
from components.example_gen.readers import open_reader

METRICS_NAMESPACE = "detflow.example_gen"
REPORT_TAG = "report"


class ReadAnnotations(beam.DoFn):
    """(annotation path, image dir) -> (image dir, ImageRecord | ReaderProblem), streamed."""

    def __init__(self, annotation_format: str):
        self._format = annotation_format

    def process(self, element):
        annotation_path, image_dir = element
        for item in open_reader(self._format, annotation_path):
            yield image_dir, item


class ConvertRecords(beam.DoFn):
    """(image dir, record) -> tf.train.Example; one ConversionResult summary to the report tag.

    The main output is the Example; the split is left to TFX's own Partition,
    but computed here with the same function so the report counts per split.
    """

    def __init__(self, class_ids: dict, splits: list):
        self._class_ids = dict(class_ids)
        self._splits = [tuple(s) for s in splits]

    def setup(self):
        self._counters = {}

    def _count(self, name: str, n: int = 1) -> None:
        if name not in self._counters:
            self._counters[name] = beam.metrics.Metrics.counter(METRICS_NAMESPACE, name)
        self._counters[name].inc(n)

    def process(self, element):
        image_dir, item = element
        if not hasattr(item, "objects"):
            self._count(f"{'skipped_images' if item.kind == 'image' else 'dropped_boxes'}/{item.reason}")
            yield beam.pvalue.TaggedOutput(REPORT_TAG, (None, convert.reader_problem_entry(item)))
            return
        result = convert.record_to_example(item, image_dir, self._class_ids)
        target = None
        for p in result.problems:
            group = {"image": "skipped_images", "box": "dropped_boxes"}.get(p.kind, "reported")
            self._count(f"{group}/{p.reason}")
        if result.example is not None:
            target = split.assign_split(result.file_name, self._splits)
            self._count(f"images/{target}")
            self._count(f"boxes/{target}", len(result.class_names))
            yield result.example
        result.example = None  # the report needs only the counts
        yield beam.pvalue.TaggedOutput(REPORT_TAG, (target, result))


class CombineReports(beam.CombineFn):
    """Folds report-tag elements into one `report.Report` (mergeable across workers)."""

    def create_accumulator(self):
        return report.Report()

    def add_input(self, acc, element):
        target, item = element
        if isinstance(item, convert.ProblemEntry):
            acc.add_problem(item.kind, item.reason, item.file, item.detail)
        else:
            acc.add_result(item, target)
        return acc

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        first = next(accumulators)
        for acc in accumulators:
            first.merge(acc)
        return first

    def extract_output(self, acc):
        return acc


@beam.ptransform_fn
def ImagesToExamples(pipeline, sources: list, annotation_format: str, class_ids: dict,
                     splits: list, report_path: str | None = None):
    """Pipeline -> PCollection of tf.train.Example from [(annotation path, image dir)].

    When `report_path` is given, the merged report is written there as JSON
    (exactly one file, `report_path` itself).
    """
    converted = (
        pipeline
        | "Sources" >> beam.Create(sources)
        | "ReadAnnotations" >> beam.ParDo(ReadAnnotations(annotation_format))
        | "Reshuffle" >> beam.Reshuffle()
        | "Convert" >> beam.ParDo(ConvertRecords(class_ids, splits)).with_outputs(
            REPORT_TAG, main="examples"))
    if report_path:
        split_names = [name for name, _ in splits]
        _ = (converted[REPORT_TAG]
             | "CombineReport" >> beam.CombineGlobally(CombineReports())
             | "ReportJson" >> beam.Map(lambda r: r.to_json(split_names).rstrip("\n"))
             | "WriteReport" >> beam.io.WriteToText(report_path, shard_name_template=""))
    return converted.examples
