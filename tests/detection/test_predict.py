"""`detflow predict` through pipelines.cli.main on a real export."""
import json
import os

import numpy as np
import pytest
from PIL import Image

import tf_keras
from google.protobuf import text_format

from detection import visualize
from detection.architectures import registry
from detection.serving import export, model_runner
from pipelines.cli import main
from schemas.protos import pipeline_pb2
from tests.detection.detector_fixtures import label_map_text, ssd_config_text, ssd_proto
from tests.schemas.probe_kit import LABEL_MAPS, _center_net_keypoints_text


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    bundle = registry.build_detector(ssd_proto(num_classes=2, size=64))
    label_map = root / "label_map.pbtxt"
    label_map.write_text(label_map_text(2).replace('name: "c1"', 'name: "c1" display_name: "Cat"'))
    return export.export_saved_model(bundle, str(label_map), ssd_config_text(num_classes=2),
                                     None, str(root / "model"))


def test_predict_draws_writes_json_and_names_bad_images(export_dir, tmp_path, capsys):
    rng = np.random.default_rng(1)
    good = []
    for name, size in (("a.png", (48, 64)), ("b.jpg", (90, 70))):
        path = tmp_path / name
        Image.fromarray(rng.integers(0, 256, size=size + (3,), dtype=np.uint8)).save(path)
        good.append(str(path))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    missing = str(tmp_path / "missing.png")
    out = tmp_path / "out"
    code = main(["predict", "--model", export_dir, *good, str(broken), missing, "--out", str(out),
                 "--min-score", "0.0"])
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.jpg: cannot decode image" in captured.err and "missing.png: no such file" in captured.err
    assert "2 images processed, 2 skipped" in captured.out
    result = json.loads((out / "detections.json").read_text())
    assert result["box_format"] == "ymin,xmin,ymax,xmax"
    assert [item["image"] for item in result["images"]] == good
    assert {item["image"] for item in result["failed"]} == {str(broken), missing}
    for item, (height, width) in zip(result["images"], ((48, 64), (90, 70))):
        assert (item["height"], item["width"]) == (height, width)
        assert os.path.isfile(item["output"]) and Image.open(item["output"]).width >= width
        assert item["detections"]
        for det in item["detections"]:
            assert (det["class_id"], det["class_name"], det["display_name"]) in ((1, "c1", "Cat"), (2, "c2", "c2"))
            assert all(0.0 <= v <= 1.0 for v in det["box"])
            np.testing.assert_allclose(det["box_pixels"], np.array(det["box"]) * [height, width, height, width],
                                       atol=0.01)
            assert "keypoints" not in det
    assert "keypoint_format" not in result and "keypoint_edges" not in result   # a box model: its JSON as before


def test_predict_with_a_missing_model_exits_2(tmp_path, capsys):
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    code = main(["predict", "--model", str(tmp_path / "nope"), str(image), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "not a model: no such file or directory" in capsys.readouterr().err


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that claims width x height pixels in a few bytes (a decompression bomb's header)."""
    import struct  # pylint: disable=import-outside-toplevel
    import zlib  # pylint: disable=import-outside-toplevel

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_skipped_and_named_and_the_rest_written(export_dir, tmp_path, capsys):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(good)
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 50000, 50000)
    out = tmp_path / "out"
    code = main(["predict", "--model", export_dir, str(bomb), str(good), "--out", str(out), "--min-score", "0"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert "bomb.png: cannot decode image: Image size (2500000000 pixels) exceeds limit" in captured.err
    result = json.loads((out / "detections.json").read_text())
    assert [item["image"] for item in result["images"]] == [str(good)]
    assert [item["image"] for item in result["failed"]] == [str(bomb)]


@pytest.fixture(scope="module")
def keypoint_export(tmp_path_factory):
    """The probes' 64-px CenterNet MobileNetV2 FPN with class c1's keypoints a, b, c, exported with two edges."""
    text = _center_net_keypoints_text().replace(
        "eval_config {", "eval_config {\n  keypoint_edge { start: 0 end: 1 } keypoint_edge { start: 1 end: 2 }", 1)
    tf_keras.utils.set_random_seed(0)   # the untrained weights the test's image and its keypoints were chosen for
    bundle = registry.build_detector(text_format.Parse(text, pipeline_pb2.TrainEvalPipelineConfig()))
    root = tmp_path_factory.mktemp("predict_keypoints")
    return export.export_saved_model(bundle, str(LABEL_MAPS / "probe_keypoints.pbtxt"), text, None,
                                     str(root / "model"))


@pytest.mark.long
def test_predict_writes_each_detections_keypoints_in_pixels_and_draws_them_with_the_configs_edges(
        keypoint_export, tmp_path):
    # 56 high, 64 wide: x and y scale differently, and some of this untrained model's keypoints fall inside it.
    pixels = np.random.default_rng(1).integers(0, 256, size=(56, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    out = tmp_path / "out"
    assert main(["predict", "--model", keypoint_export, str(tmp_path / "a.png"), "--out", str(out),
                 "--min-score", "0.0"]) == 0
    result = json.loads((out / "detections.json").read_text())
    assert (result["keypoint_format"], result["keypoint_edges"]) == ("x,y,score", [[0, 1], [1, 2]])
    (image,) = result["images"]
    detector = model_runner.load_model(keypoint_export)
    assert detector.keys[-2:] == model_runner.KEYPOINT_KEYS
    outputs = detector(pixels[None])
    count = int(outputs.pop("num_detections")[0])
    raw = {k: v[0, :count] for k, v in outputs.items()}
    assert len(image["detections"]) == len(raw["detection_boxes"]) > 0
    for det, points, scores in zip(image["detections"], raw["detection_keypoints"], raw["detection_keypoint_scores"]):
        # x, y in pixels of the image, then the score: the model's (y, x) swapped and scaled.
        np.testing.assert_allclose(det["keypoints"], np.column_stack([points[:, 1] * 64, points[:, 0] * 56, scores]),
                                   atol=0.01)
        assert {"class_id", "class_name", "display_name", "score", "box", "box_pixels"} <= set(det)
    inside = ((raw["detection_keypoints"] >= 0) & (raw["detection_keypoints"] <= 1)).all(-1)
    assert (inside & (raw["detection_keypoint_scores"] > 0)).any()    # some keypoints to draw
    drawn = np.asarray(Image.open(image["output"]).convert("RGB"))
    args = (pixels, raw["detection_boxes"], raw["detection_classes"].astype(int), raw["detection_scores"],
            model_runner.labels_for(detector).shown)
    with_keypoints = visualize.draw_predictions(*args, min_score=0.0, keypoints=visualize.Keypoints(
        raw["detection_keypoints"], raw["detection_keypoint_scores"], [(0, 1), (1, 2)]))
    np.testing.assert_array_equal(drawn, np.asarray(with_keypoints))
    assert not np.array_equal(drawn, np.asarray(visualize.draw_predictions(*args, min_score=0.0)))
