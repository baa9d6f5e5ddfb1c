"""COCO keypoints into the OD API's tf.Example keypoint fields (components/example_gen/keypoints.py).

Every kept box of a dataset with keypoints carries K values of x, y (normalised), visibility and the names,
and its labelled count, as the OD API's create_coco_tf_record.py writes them; what cannot be used is written
as not labelled and reported; the OD API's own decoder (the oracle) reads the records back.
"""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from pipelines import cli
from schemas import example_format as K
from tests.example_gen.helpers import H, W, image_bytes, read_examples, write, write_label_map

NAMES = ["nose", "left_eye", "right_eye"]
ANNOTATIONS = [   # (category, keypoints, num_keypoints): image i+1 has annotation i
    (1, [10, 6, 2, 12, 5, 1, 0, 0, 0], 2),            # good: two labelled, one not
    (1, [10, 6, 2, 55, 5, 2, 14, 5, 2], 3),           # right_eye... left_eye at x 55 is outside the 40 px image
    (1, [10, 6, 2, 12, 5], 2),                        # 5 values: bad_keypoints
    (1, [10, 6, 3, 12, 5, 1, 0, 0, 0], 2),            # visibility 3: bad_keypoints
    (1, [10, 6, 2, 12, 5, 1, 0, 0, 0], 3),            # num_keypoints says 3, 2 are labelled
    (2, None, None),                                  # a category without keypoints: all unlabelled, no note
    (2, [10, 6, 2, 12, 5, 1, 0, 0, 0], 2),            # keypoints on that category: bad_keypoints
]


def _dataset(root, categories=None) -> dict:
    names = [f"img{i}.png" for i in range(len(ANNOTATIONS))]
    for name in names:
        write(os.path.join(root, "images", name), image_bytes("PNG"))
    annotations = []
    for i, (cat, points, num) in enumerate(ANNOTATIONS):
        ann = {"id": i + 1, "image_id": i + 1, "category_id": cat, "bbox": [2, 3, 20, 15], "area": 300.0,
               "iscrowd": 0}
        if points is not None:
            ann.update(keypoints=points, num_keypoints=num)
        annotations.append(ann)
    doc = {"images": [{"id": i + 1, "file_name": n, "width": W, "height": H} for i, n in enumerate(names)],
           "annotations": annotations,
           "categories": categories or [{"id": 1, "name": "person", "keypoints": NAMES, "skeleton": [[1, 2]]},
                                        {"id": 2, "name": "car"}]}
    return {"annotations": write(os.path.join(root, "annotations.json"), json.dumps(doc)),
            "images": os.path.join(root, "images"),
            "label_map": write_label_map(os.path.join(root, "label_map.pbtxt"), ("person", "car"))}


def _convert(data, out, *extra) -> int:
    return cli.main(["convert", "--format", "coco", "--annotations", data["annotations"], "--images",
                     data["images"], "--label-map", data["label_map"], "--out", str(out), "--eval-percent", "0",
                     *extra])


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("keypoints")
    data = _dataset(root)
    assert _convert(data, root / "out") == 0
    examples = {e.features.feature[K.FILENAME].bytes_list.value[0].decode(): e
                for e in read_examples(root / "out", "train")}
    return root, examples, json.loads((root / "out" / "report.json").read_text())


def _points(example):
    f = example.features.feature
    return (list(f[K.KEYPOINT_X].float_list.value), list(f[K.KEYPOINT_Y].float_list.value),
            list(f[K.KEYPOINT_VISIBILITY].int64_list.value), list(f[K.KEYPOINT_NUM].int64_list.value),
            [t.decode() for t in f[K.KEYPOINT_TEXT].bytes_list.value])


def test_keypoints_are_written_as_the_od_api_writes_them(converted):
    _, examples, _ = converted
    x, y, v, num, text = _points(examples["img0.png"])
    np.testing.assert_allclose(x, [10 / W, 12 / W, 0.0], rtol=1e-6)
    np.testing.assert_allclose(y, [6 / H, 5 / H, 0.0], rtol=1e-6)
    assert v == [2, 1, 0] and num == [2] and text == NAMES
    assert _points(examples["img5.png"])[2:4] == ([0, 0, 0], [0])          # no keypoints: unlabelled, no note


def test_what_cannot_be_used_is_written_unlabelled_and_reported(converted):
    _, examples, report = converted
    assert len(examples) == len(ANNOTATIONS)                                  # every box and image kept
    assert report["keypoint_names"] == NAMES                                 # what the LabelMapValidator checks
    assert report["reported"] == {"bad_keypoints": 3, "keypoint_outside_image": 1, "num_keypoints_mismatch": 1}
    x, _, v, num, _ = _points(examples["img1.png"])
    assert v == [2, 0, 2] and num == [2] and x[1] == 0.0                     # left_eye outside: not labelled
    for bad in ("img2.png", "img3.png", "img6.png"):
        assert _points(examples[bad])[2:4] == ([0, 0, 0], [0]), bad
    assert _points(examples["img4.png"])[3] == [2]                           # the labelled count is written
    details = {p["reason"]: p["detail"] for p in report["problems"]}
    assert details["keypoint_outside_image"].startswith("left_eye at 55,5 outside the 40x30 image")
    assert "annotations[1]" in details["keypoint_outside_image"]
    assert details["num_keypoints_mismatch"].startswith("num_keypoints 3, but 2 keypoints are labelled")
    bad = sorted(p["detail"] for p in report["problems"] if p["reason"] == "bad_keypoints")
    assert bad[0].startswith("keypoint 0 has visibility 3, expected 0, 1 or 2")
    assert bad[1].startswith("keypoints has 5 values, expected 3 x 3")
    assert bad[2].startswith("keypoints on a category that declares no keypoint names")


def test_a_dataset_without_keypoints_writes_no_keypoint_fields(tmp_path):
    data = _dataset(tmp_path, categories=[{"id": 1, "name": "person"}, {"id": 2, "name": "car"}])
    assert _convert(data, tmp_path / "out") == 0
    for example in read_examples(tmp_path / "out", "train"):
        assert not any(k.startswith("image/object/keypoint/") for k in example.features.feature)


def test_categories_with_different_keypoint_names_stop_the_file(tmp_path, capsys):
    data = _dataset(tmp_path, categories=[{"id": 1, "name": "person", "keypoints": NAMES},
                                          {"id": 2, "name": "car", "keypoints": ["wheel", "door"]}])
    assert _convert(data, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "categories declare different keypoint names (category 1 (person): 3 (nose, left_eye" in err
    assert "detflow writes one keypoint set per dataset" in err and "Traceback" not in err


DECODE = """
import json, sys
import tensorflow as tf
# tf-slim's decoders on TF 2.15 need the shim tools/oracle/od_train.py explains.
from tensorflow.python.ops import cond, control_flow_case, control_flow_ops
control_flow_ops.case = control_flow_case.case
control_flow_ops.cond = cond.cond
from object_detection.data_decoders import tf_example_decoder
from object_detection.core import standard_fields as fields
decoder = tf_example_decoder.TfExampleDecoder(num_keypoints=3)
out = {}
for record in tf.data.TFRecordDataset(sys.argv[1:]):
    d = decoder.decode(record)
    name = d[fields.InputDataFields.filename].numpy().decode()
    out[name] = {"keypoints": d[fields.InputDataFields.groundtruth_keypoints].numpy().tolist(),
                 "visible": d[fields.InputDataFields.groundtruth_keypoint_visibilities].numpy().tolist()}
print(json.dumps(out))
"""


def test_the_od_api_decoder_reads_the_keypoints(tmp_path, capsys):
    from tests.zoo.test_od_api_interop import ORACLE_PYTHON, oracle_env  # pylint: disable=import-outside-toplevel
    assert ORACLE_PYTHON.exists(), "no oracle venv: run `make oracle` (make test does)"
    data = _dataset(tmp_path)
    assert _convert(data, tmp_path / "out", "--compression", "none") == 0
    capsys.readouterr()
    files = sorted(str(p) for p in (tmp_path / "out" / "Split-train").iterdir())
    done = subprocess.run([str(ORACLE_PYTHON), "-c", DECODE, *files], capture_output=True, text=True,
                          env=oracle_env(), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    decoded = json.loads(done.stdout.strip().splitlines()[-1])
    ours = {e.features.feature[K.FILENAME].bytes_list.value[0].decode(): _points(e)
            for e in read_examples_plain(tmp_path / "out")}
    assert set(decoded) == set(ours)
    for name, (x, y, v, _, _) in ours.items():
        [points] = decoded[name]["keypoints"]           # [objects, K, (y, x)]: one object each
        labelled = [i for i, vis in enumerate(v) if vis > 0]
        np.testing.assert_allclose([points[i] for i in labelled], [[y[i], x[i]] for i in labelled], rtol=1e-6)
        assert decoded[name]["visible"] == [[vis > 0 for vis in v]], name


def read_examples_plain(out) -> list:
    """The tf.train.Examples of OUT/Split-train/ written uncompressed."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    files = sorted(str(p) for p in (out / "Split-train").iterdir())
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files)]
