"""Published TFLite detectors no one on the team made, through `detflow predict`, as tflite-support expects.

tflite-support's own test (object_detector_test.cc) expects, for the COCO SSD MobileNet v1 on
cats_and_dogs.jpg, three cats and a dog, boxes within 3 px and scores within 0.05 (see
../shared/realdata/README.md). Neither file has a SignatureDef. The quantized one carries TFLite metadata
(output names, its labels file packed in); ssd_mobilenet_v1.tflite, the same network, carries neither: its
outputs are known by the TFLite_Detection_PostProcess op, its class names come from --label-map labelmap.txt.
"""
from __future__ import annotations

import json

import pytest

from pipelines import cli
from tests.realdata import paths

# (class, score, (origin_x, origin_y, width, height)) in pixels of the 1200x600 image.
EXPECTED = [("cat", 0.64, (54, 396, 393, 196)), ("cat", 0.61, (602, 157, 394, 447)),
            ("cat", 0.56, (260, 394, 180, 209)), ("dog", 0.50, (389, 197, 278, 409))]
PIXELS, SCORE = 3, 0.05


def _predict(model: str, tmp_path, *flags: str) -> dict:
    image = paths.require("tflite", "cats_and_dogs.jpg")
    out = tmp_path / "out"
    assert cli.main(["predict", "--model", str(paths.require("tflite", model)), str(image), "--out", str(out),
                     "--min-score", "0.3", *flags]) == 0
    return json.loads((out / "detections.json").read_text())


def _matches(detections: list[dict]) -> list[str]:
    """What of EXPECTED is missing: one line per expected object without a detection within the tolerances."""
    missing = []
    for name, score, (x, y, w, h) in EXPECTED:
        want = (y, x, y + h, x + w)
        if not any(d["class_name"] == name and abs(d["score"] - score) <= SCORE
                   and max(abs(a - b) for a, b in zip(d["box_pixels"], want)) <= PIXELS for d in detections):
            missing.append(f"{name} {score} {want}")
    return missing


@pytest.mark.parametrize("model, flags, labels", [
    ("coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite", (), "metadata"),
    ("ssd_mobilenet_v1.tflite", ("--label-map", "labelmap.txt"), "labelmap.txt"),
])
def test_a_published_tflite_detector_finds_the_three_cats_and_the_dog(model, flags, labels, tmp_path):
    flags = tuple(str(paths.require("tflite", f)) if f.endswith(".txt") else f for f in flags)
    found = _predict(model, tmp_path, *flags)
    detections = found["images"][0]["detections"]
    assert _matches(detections) == [], json.dumps(detections, indent=1)
    assert labels in found["labels"], found["labels"]
