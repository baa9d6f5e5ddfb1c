"""The image ExampleGen's executor: TFX's base ExampleGen around beam_io.ImagesToExamples.

The base executor splits by hash of image/filename; `Do` writes the splits as
TFRecords under Split-<name>, gzipped (TFX's default) or not (`compression`). `Do` adds the conversion report: the Beam
pipeline writes one merged report under the artifact, `Do` renames it to
<uri>/report.json, records counts as custom properties of the Examples
artifact and, in strict mode, fails with the problems listed.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx import types
from tfx.components.example_gen import utils, write_split
from tfx.components.util import examples_utils
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import beam_io, layout, report
from components.example_gen.readers import open_reader
from components.names import EXAMPLE_GEN_REPORT_FILE as REPORT_FILE
from schemas import example_format

REPORT_PATH_KEY = "_detflow_report_path"


def parse_custom_config(custom_config_json: str) -> dict:
    """The dict packed (as a Struct) in the component's CustomConfig JSON."""
    proto = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(custom_config_json, proto)
    struct = struct_pb2.Struct()
    proto.custom_config.Unpack(struct)
    return json_format.MessageToDict(struct)


def output_splits(output_config_json: str) -> list:
    """[(split name, hash buckets)] of an Output config, in order."""
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(output_config_json, output_config)
    return [(s.name, s.hash_buckets) for s in output_config.split_config.splits]


def image_sources(exec_properties: Dict[str, Any], split_pattern: str) -> list:
    """[(annotation path, image folder)] of a resolved split pattern, the span filled in the images setting."""
    config = parse_custom_config(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    span = exec_properties.get(utils.SPAN_PROPERTY_NAME)
    version = exec_properties.get(utils.VERSION_PROPERTY_NAME)
    return [(path, layout.images_dir_for(path, config["images"], span, version))
            for path in layout.annotation_paths(input_base, split_pattern)]


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImagesToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                     split_pattern: str) -> beam.pvalue.PCollection:
    """TFX's input-source PTransform: the resolved split pattern names the annotations."""
    from schemas.label_map import load_label_map

    config = parse_custom_config(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])
    label_map = load_label_map(config["label_map_path"])
    sources = image_sources(exec_properties, split_pattern)
    for path, images_dir in sources:  # file-level errors here, not in a worker
        open_reader(config["format"], path).check()
        layout.check_images_dir(images_dir, path, config["images"], exec_properties.get(utils.SPAN_PROPERTY_NAME))
    return pipeline | "ImagesToExamples" >> beam_io.ImagesToExamples(
        sources, config["format"], {i.name: i.id for i in label_map.items},
        output_splits(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY]),
        exec_properties.get(REPORT_PATH_KEY))


class Executor(BaseExampleGenExecutor):
    """Images + annotations (COCO, VOC, CSV) -> OD API tf.Examples, with a report."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        """Returns the PTransform that reads annotations and converts images."""
        return _ImagesToExample

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Runs the base ExampleGen, then publishes report.json and the counts."""
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        shard = os.path.join(examples.uri, ".report-beam.json")
        props = dict(exec_properties)
        props[REPORT_PATH_KEY] = shard
        self._log_startup(input_dict, output_dict, props)
        self._write_examples(output_dict, props)

        with tf.io.gfile.GFile(shard) as f:
            rep = report.Report.from_dict(json.load(f))
        tf.io.gfile.remove(shard)
        splits = [name for name, _ in output_splits(exec_properties[
            standard_component_specs.OUTPUT_CONFIG_KEY])]
        doc = rep.to_dict(splits)
        with tf.io.gfile.GFile(os.path.join(examples.uri, REPORT_FILE), "w") as f:
            f.write(rep.to_json(splits))
        record_report(examples, doc)

        config = parse_custom_config(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])
        if config.get("strict") and rep.has_problems:
            raise RuntimeError("ImageExampleGen strict mode: {} problem(s) in the input data:\n{}".format(
                rep.problem_count, "\n".join(rep.summary_lines(max_problems=50))))
        if not sum(doc["images"].values()):
            raise RuntimeError("ImageExampleGen: no image could be converted:\n"
                               + "\n".join(rep.summary_lines(max_problems=50)) + "\n"
                               + _nothing_converted(exec_properties, doc))

    def _write_examples(self, output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        """TFX's BaseExampleGenExecutor.Do, with the records gzipped or not as custom_config's `compression` says.

        TFX's own WriteSplit always gzips; the OD API's model_main_tf2.py reads uncompressed records only.
        """
        input_config, output_config = example_gen_pb2.Input(), example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        artifacts = output_dict[standard_component_specs.EXAMPLES_KEY]
        examples = artifact_utils.get_single_instance(artifacts)
        examples.split_names = artifact_utils.encode_split_names(
            utils.generate_output_split_names(input_config, output_config))
        config = parse_custom_config(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])
        suffix = example_format.record_suffix(config.get("compression", example_format.DEFAULT_COMPRESSION))
        with self._make_beam_pipeline() as pipeline:
            for split_name, split in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
                _ = split | f"WriteSplit[{split_name}]" >> _WriteRecords(
                    artifact_utils.get_split_uri(artifacts, split_name), suffix)
        payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
        if payload_format:
            examples_utils.set_payload_format(examples, payload_format)


@beam.ptransform_fn
def _WriteRecords(examples: beam.pvalue.PCollection, split_dir: str, suffix: str) -> beam.pvalue.PDone:
    """TFX's WriteSplit for TFRecords, named `data_tfrecord-*<suffix>`; Beam compresses by the suffix."""
    return (examples
            | "MaybeSerialize" >> beam.ParDo(write_split.MaybeSerialize())
            | "Shuffle" >> beam.transforms.Reshuffle()
            | "Write" >> beam.io.WriteToTFRecord(os.path.join(split_dir, example_format.RECORD_FILE_STEM),
                                                 file_name_suffix=suffix))


def _nothing_converted(exec_properties: Dict[str, Any], doc: dict) -> str:
    """One closing line (the one `detflow run` prints): the image folders read and the first problem."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    folders = sorted({folder for split in input_config.splits
                      for _, folder in image_sources(exec_properties, split.pattern)})
    line = f"ImageExampleGen: no image could be converted from {', '.join(folders)}"
    if doc["problems"]:
        first = doc["problems"][0]
        line += f" (first problem: {first['file']}: {first['reason']}; all in report.json)"
    return line


def record_report(examples: types.Artifact, doc: dict) -> None:
    """Sets counts per split and skip totals as custom properties of the Examples artifact."""
    for split_name, n in doc["images"].items():
        examples.set_int_custom_property(f"images_{split_name}", n)
    for split_name, n in doc["boxes"].items():
        examples.set_int_custom_property(f"boxes_{split_name}", n)
    examples.set_int_custom_property("skipped_images", sum(doc["skipped_images"].values()))
    examples.set_int_custom_property("dropped_boxes", sum(doc["dropped_boxes"].values()))
    examples.set_int_custom_property("clipped_boxes", doc["clipped_boxes"])
    summary = {k: v for k, v in doc.items() if k != "problems"}
    summary["first_problems"] = doc["problems"][:20]
    examples.set_string_custom_property("conversion_report", json.dumps(summary, sort_keys=True))
