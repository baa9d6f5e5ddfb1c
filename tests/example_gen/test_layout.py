"""Where a span's images are: next to its annotations, one shared folder, or elsewhere with `{SPAN}` filled in."""

import os

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from tfx.utils import proto_utils

from components.example_gen import layout
from components.example_gen.component import ImageExampleGen
from components.example_gen.executor import _ImagesToExample, image_sources
from schemas import example_format as K
from schemas.problems import ProblemsError
from tests.example_gen.helpers import make_dataset, write_label_map


def _props(gen, span=None) -> dict:
    props = {k: proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else v
             for k, v in gen.exec_properties.items()}
    if span is not None:
        props["span"] = span  # what TFX's driver resolves
    return props


def _gen(input_base, label_map, images, annotations="span-{SPAN}/annotations.json"):
    return ImageExampleGen(input_base=str(input_base), annotation_format="coco", annotations=annotations,
                           images_dir=str(images), label_map_path=label_map)


@pytest.mark.parametrize("images, expected", [
    ("images", "/data/span-7/images"),                          # next to the annotations
    ("/shared/images", "/shared/images"),                       # one folder for every span
    ("/else/span-{SPAN}/images", "/else/span-7/images"),        # elsewhere, the span filled in
    ("/else/span-{SPAN:3}/images", "/else/span-007/images"),    # TFX's width modifier
    ("../pics-{SPAN}", "/data/span-7/../pics-7"),               # relative, with the span
])
def test_the_image_folder_of_a_span(images, expected):
    assert layout.images_dir_for("/data/span-7/annotations.json", images, span=7) == expected


def test_span_in_the_images_but_not_in_the_annotations_is_refused_when_built(tmp_path):
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    with pytest.raises(ProblemsError) as err:
        _gen(tmp_path, label_map, "/else/span-{SPAN}/images", annotations="annotations.json")
    message = str(err.value)
    assert "\n" not in message and message.startswith("/else/span-{SPAN}/images: the image folder holds {SPAN}")
    assert "annotations (annotations.json) do not" in message


def test_images_elsewhere_with_span_are_converted(tmp_path):
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    data = make_dataset(str(tmp_path / "pics" / "span-3"), n=3)   # images/ under pics/span-3/
    annotations = tmp_path / "drops" / "span-3" / "annotations.json"
    annotations.parent.mkdir(parents=True)
    os.rename(data["annotations"], annotations)                   # annotations elsewhere
    gen = _gen(tmp_path / "drops", label_map, tmp_path / "pics" / "span-{SPAN}" / "images")
    props = _props(gen, span=3)
    assert image_sources(props, "span-3/annotations.json") == [(str(annotations), data["images"])]
    pipeline = beam.Pipeline()
    names = (pipeline | _ImagesToExample(props, "span-3/annotations.json")
             | beam.Map(lambda e: e.features.feature[K.FILENAME].bytes_list.value[0].decode()))
    assert_that(names, equal_to(data["names"]))
    pipeline.run().wait_until_finish()


def test_shared_image_folder_serves_every_span(tmp_path):
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    data = make_dataset(str(tmp_path / "shared"), n=2)
    annotations = tmp_path / "drops" / "span-1" / "annotations.json"
    annotations.parent.mkdir(parents=True)
    os.rename(data["annotations"], annotations)
    gen = _gen(tmp_path / "drops", label_map, data["images"])
    assert image_sources(_props(gen, span=1), "span-1/annotations.json") == [(str(annotations), data["images"])]


@pytest.mark.parametrize("images, expected_rule", [
    ("images", "images next to the annotations"),
    ("{base}/pics/span-{{SPAN}}/images", "with span 4 filled in"),
])
def test_a_missing_image_folder_fails_before_conversion_naming_it(tmp_path, images, expected_rule):
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    data = make_dataset(str(tmp_path / "drops" / "span-4"), n=2)
    os.rename(data["images"], str(tmp_path / "moved"))
    gen = _gen(tmp_path / "drops", label_map, images.format(base=tmp_path))
    with pytest.raises(layout.LayoutError) as err:
        _ = beam.Pipeline() | _ImagesToExample(_props(gen, span=4), "span-4/annotations.json")
    message = str(err.value)
    missing = data["images"] if images == "images" else str(tmp_path / "pics" / "span-4" / "images")
    assert "\n" not in message and message.startswith(f"{missing}: image folder not found (span 4; expected ")
    assert expected_rule in message


def test_an_image_path_that_is_a_file_is_named(tmp_path):
    label_map = write_label_map(str(tmp_path / "label_map.pbtxt"))
    make_dataset(str(tmp_path / "drops" / "span-1"), n=1)
    not_a_folder = tmp_path / "images.zip"
    not_a_folder.write_bytes(b"PK")
    gen = _gen(tmp_path / "drops", label_map, not_a_folder)
    with pytest.raises(layout.LayoutError, match=r"images\.zip: image folder is not a folder .*one image folder"):
        _ = beam.Pipeline() | _ImagesToExample(_props(gen, span=1), "span-1/annotations.json")
