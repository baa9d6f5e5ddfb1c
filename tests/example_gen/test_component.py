"""The real TFX ImageExampleGen in a LocalDagRunner pipeline: outputs, report, spans, cache."""

import glob
import json
import os
import time

import pytest
from tfx.orchestration import metadata, pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.example_gen.component import ImageExampleGen, RecordsOutput
from components.example_gen.split import assign_split, split_buckets
from schemas import example_format as K
from tests.example_gen.helpers import image_bytes, make_dataset, read_examples, write, write_label_map


def _run(tmp_path, input_base, label_map, strict=False, compression="gzip"):
    gen = ImageExampleGen(input_base=input_base, annotation_format="coco",
                          annotations="span-{SPAN}/annotations.json", images_dir="images",
                          label_map_path=label_map,
                          output=RecordsOutput(eval_percent=30, strict=strict, compression=compression))
    db = str(tmp_path / "mlmd.sqlite")
    LocalDagRunner().run(tfx_pipeline.Pipeline(
        pipeline_name="eg", pipeline_root=str(tmp_path / "root"), components=[gen],
        enable_cache=True, metadata_connection_config=metadata.sqlite_metadata_connection_config(db),
        beam_pipeline_args=["--direct_num_workers=1"]))
    with metadata.Metadata(metadata.sqlite_metadata_connection_config(db)) as m:
        return m.store.get_artifacts_by_type("Examples")


def _examples(uri, split):
    assert glob.glob(os.path.join(uri, f"Split-{split}", "data_tfrecord-*.gz"))
    return read_examples(uri, split)


@pytest.mark.e2e
def test_pipeline_outputs_report_spans_and_image_aware_cache(tmp_path):
    base = tmp_path / "data"
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    make_dataset(str(base / "span-1"), n=8)
    write(str(base / "span-1" / "images" / "broken.jpg"), b"garbage")
    doc = json.loads((base / "span-1" / "annotations.json").read_text())
    doc["images"].append({"id": 50, "file_name": "broken.jpg", "width": 40, "height": 30})
    write(str(base / "span-1" / "annotations.json"), json.dumps(doc))

    (first,) = _run(tmp_path, str(base), label_map)
    assert first.custom_properties["span"].int_value == 1
    train, evals = _examples(first.uri, "train"), _examples(first.uri, "eval")
    assert len(train) + len(evals) == 8
    for split_name, examples in (("train", train), ("eval", evals)):  # the split detflow convert uses
        for e in examples:
            name = e.features.feature[K.FILENAME].bytes_list.value[0].decode()
            assert assign_split(name, split_buckets(30)) == split_name
    keys = set(train[0].features.feature)
    assert {K.IMAGE_ENCODED, K.IMAGE_FORMAT, K.FILENAME, K.SOURCE_ID, K.KEY_SHA256, K.HEIGHT,
            K.WIDTH, *K.BOX_KEYS, K.CLASS_TEXT, K.CLASS_LABEL, K.AREA, K.IS_CROWD, K.DIFFICULT} <= keys
    report = json.loads(open(os.path.join(first.uri, "report.json")).read())
    assert report["images"] == {"train": len(train), "eval": len(evals)}
    assert report["skipped_images"] == {"not_an_image": 1}
    assert report["problems"][0]["file"] == "broken.jpg"
    props = first.custom_properties
    assert props["images_train"].int_value == len(train) and props["skipped_images"].int_value == 1
    assert json.loads(props["conversion_report"].string_value)["images"]["eval"] == len(evals)
    assert sorted(os.listdir(first.uri)) == ["Split-eval", "Split-train", "report.json"]

    assert len(_run(tmp_path, str(base), label_map)) == 1  # nothing changed: cached

    time.sleep(0.01)
    write(str(base / "span-1" / "images" / "img003.jpg"), image_bytes(color=(1, 2, 3)))
    arts = _run(tmp_path, str(base), label_map)
    assert len(arts) == 2, "editing only an image must invalidate the cache"
    write_label_map(label_map, ("cat", "dog", "bird"))
    assert len(_run(tmp_path, str(base), label_map)) == 3, "so must editing the label map"

    make_dataset(str(base / "span-2"), n=3, prefix="new")
    newest = _run(tmp_path, str(base), label_map)[-1]
    assert newest.custom_properties["span"].int_value == 2
    names = {e.features.feature[K.FILENAME].bytes_list.value[0]
             for s in ("train", "eval") for e in _examples(newest.uri, s)}
    assert names == {b"new000.jpg", b"new001.jpg", b"new002.jpg"}


@pytest.mark.e2e
def test_strict_mode_fails_the_component_with_the_problems(tmp_path):
    base = tmp_path / "data"
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    make_dataset(str(base / "span-1"), n=3)
    doc = json.loads((base / "span-1" / "annotations.json").read_text())
    doc["images"].append({"id": 50, "file_name": "../outside.jpg", "width": 40, "height": 30})
    write(str(base / "span-1" / "annotations.json"), json.dumps(doc))
    with pytest.raises(RuntimeError, match=r"\.\./outside\.jpg: unsafe_path"):
        _run(tmp_path, str(base), label_map, strict=True)


def test_file_errors_fail_before_any_worker_starts(tmp_path):
    import apache_beam as beam
    from tfx.utils import proto_utils

    from components.example_gen.executor import _ImagesToExample
    from schemas.problems import ProblemsError

    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    write(str(tmp_path / "span-1" / "annotations.json"), '[{"not": "instances"}]')
    gen = ImageExampleGen(input_base=str(tmp_path), annotation_format="coco", label_map_path=label_map)
    props = {k: proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else v
             for k, v in gen.exec_properties.items()}
    with pytest.raises(ProblemsError, match=r"annotations\.json:1:1: expected a COCO instances object"):
        _ = beam.Pipeline() | _ImagesToExample(props, "span-1/annotations.json")


def test_compression_none_writes_uncompressed_records_the_statistics_read(tmp_path):
    """The same examples as gzip, in files TFX's readers (and the OD API's) read by their name's suffix."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    base = tmp_path / "data"
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    make_dataset(str(base / "span-1"), n=6)
    (examples,) = _run(tmp_path, str(base), label_map, compression="none")
    names = set()
    for split in ("train", "eval"):
        files = glob.glob(os.path.join(examples.uri, f"Split-{split}", "*"))
        assert files and all(os.path.basename(f).startswith("data_tfrecord-") and not f.endswith(".gz")
                             for f in files)
        for record in tf.data.TFRecordDataset(files):          # plain TFRecords: no compression_type
            names.add(tf.train.Example.FromString(record.numpy()).features.feature[K.FILENAME].bytes_list.value[0])
    assert len(names) == 6
    with pytest.raises(ValueError, match="compression 'zip' is not one of gzip, none"):
        ImageExampleGen(input_base=str(base), annotation_format="coco", label_map_path=label_map,
                        output=RecordsOutput(compression="zip"))
