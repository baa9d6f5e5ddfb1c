"""ImageExampleGen: TFX's FileBasedExampleGen for images + COCO / VOC / CSV annotations.

Format, image folder, label map and strict mode travel in `custom_config`
(a Struct packed in CustomConfig); the train/eval split is TFX's own
hash-bucket `output_config` on `partition_feature_name='image/filename'`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from google.protobuf import any_pb2, struct_pb2
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2

from components.example_gen import driver, executor, layout, split
from components.example_gen.readers import FORMATS
from schemas import example_format

DEFAULT_ANNOTATIONS = {"coco": "annotations.json", "voc": "Annotations", "csv": "annotations.csv"}


def image_output_config(eval_percent: int) -> example_gen_pb2.Output:
    """train/eval hash buckets on image/filename: the split `detflow convert` uses too."""
    return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in split.split_buckets(eval_percent)],
        partition_feature_name=example_format.SPLIT_KEY))


def image_custom_config(annotation_format: str, images_dir: str, label_map_path: str,
                        strict: bool, compression: str = example_format.DEFAULT_COMPRESSION
                        ) -> example_gen_pb2.CustomConfig:
    """The executor's settings packed as a Struct in CustomConfig."""
    struct = struct_pb2.Struct()
    struct.update({"format": annotation_format, "images": images_dir,
                   "label_map_path": label_map_path, "strict": bool(strict), "compression": compression})
    packed = any_pb2.Any()
    packed.Pack(struct)
    return example_gen_pb2.CustomConfig(custom_config=packed)


@dataclasses.dataclass(frozen=True)
class RecordsOutput:
    """How the records are written: eval_percent of the images (by hash of image/filename) in `eval`;
    strict: fail the component when anything was skipped, dropped or clipped; compression: "gzip"
    (TFX's default) or "none" (uncompressed records, which the OD API's model_main_tf2.py reads too)."""

    eval_percent: int = 20
    strict: bool = False
    compression: str = example_format.DEFAULT_COMPRESSION


class ImageExampleGen(FileBasedExampleGen):
    """Images + annotations -> TFRecords of OD API tf.Examples (gzipped by default), split train/eval.

    Args:
      input_base: the data folder.
      annotation_format: "coco", "voc" or "csv".
      annotations: the annotations relative to input_base, a pattern that may
        hold `{SPAN}` (e.g. "span-{SPAN}/annotations.json"; for VOC the XML
        folder). Defaults to annotations.json / Annotations / annotations.csv.
      images_dir: the image folder, relative to the folder holding the
        annotations, or absolute (one folder for every span); `{SPAN}` in it is
        filled with the annotations' span (see `layout`). `{SPAN}` here and not
        in `annotations` raises `layout.LayoutError`.
      label_map_path: StringIntLabelMap text proto; class/label ids come from it.
      output: the split, strictness and compression (`RecordsOutput`).
      range_config: TFX RangeConfig to pin a span (default: the newest).
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.Driver

    def __init__(self, input_base: str, annotation_format: str, label_map_path: str,
                 annotations: Optional[str] = None, images_dir: str = "images",
                 output: RecordsOutput = RecordsOutput(),
                 range_config: Optional[range_config_pb2.RangeConfig] = None):
        if annotation_format not in FORMATS:
            raise ValueError(f"annotation_format must be one of {FORMATS}, got {annotation_format!r}")
        example_format.record_suffix(output.compression)   # ValueError naming the allowed values
        pattern = annotations or DEFAULT_ANNOTATIONS[annotation_format]
        layout.check_images_setting(pattern, images_dir)
        super().__init__(
            input_base=input_base,
            input_config=example_gen_pb2.Input(
                splits=[example_gen_pb2.Input.Split(name="single_split", pattern=pattern)]),
            output_config=image_output_config(output.eval_percent),
            custom_config=image_custom_config(annotation_format, images_dir, label_map_path, output.strict,
                                              output.compression),
            range_config=range_config)
