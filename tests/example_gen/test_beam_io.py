"""beam_io.ImagesToExamples on its own: examples, Beam Metrics counters, the merged report.

Run by the DirectRunner in multi-processing mode (`detflow run --runner beam`'s default): every
transform is pickled and runs in worker processes that import detflow afresh, as on Dataflow, Flink
or Spark workers; the counters and the report are merged from the workers.
"""

import json
import os

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from components.example_gen import beam_io, split
from pipelines import configs
from schemas import example_format as K
from tests.example_gen.helpers import image_bytes, make_dataset, write


def test_images_to_examples_counts_skips_in_metrics_and_report(tmp_path):
    data = make_dataset(str(tmp_path), n=3)
    write(os.path.join(data["images"], "bad.jpg"), b"nope")
    write(str(tmp_path / "outside" / "secret.jpg"), image_bytes())
    os.symlink("../outside/secret.jpg", os.path.join(data["images"], "leak.jpg"))
    doc = json.loads(open(data["annotations"]).read())
    doc["images"].append({"id": 9, "file_name": "bad.jpg", "width": 40, "height": 30})
    doc["images"].append({"id": 10, "file_name": "leak.jpg", "width": 40, "height": 30})
    doc["annotations"].append({"id": 99, "image_id": 1, "category_id": 7, "bbox": [1, 1, 5, 5]})
    write(data["annotations"], json.dumps(doc))
    report_path = str(tmp_path / "out" / "report.json")

    pipeline = beam.Pipeline(options=PipelineOptions(configs.default_beam_args("beam", num_workers=2)))
    names = (pipeline
             | beam_io.ImagesToExamples([(data["annotations"], data["images"])], "coco",
                                        {"cat": 1, "dog": 2}, split.split_buckets(20), report_path)
             | beam.Map(lambda e: e.features.feature[K.FILENAME].bytes_list.value[0].decode()))
    assert_that(names, equal_to(data["names"]))
    result = pipeline.run()
    result.wait_until_finish()

    counters = {c.key.metric.name: c.committed for c in result.metrics().query(
        MetricsFilter().with_namespace(beam_io.METRICS_NAMESPACE))["counters"]}
    assert counters["skipped_images/not_an_image"] == 1
    assert counters["skipped_images/outside_image_root"] == 1  # the executor's path checks links too
    assert counters["dropped_boxes/unknown_class"] == 1
    assert counters.get("images/train", 0) + counters.get("images/eval", 0) == 3
    report = json.loads(open(report_path).read())
    assert sum(report["images"].values()) == 3
    assert report["skipped_images"] == {"not_an_image": 1, "outside_image_root": 1}
    assert report["dropped_boxes"] == {"unknown_class": 1}
    assert {p["file"] for p in report["problems"]} == {"bad.jpg", "img000.jpg", "leak.jpg"}
