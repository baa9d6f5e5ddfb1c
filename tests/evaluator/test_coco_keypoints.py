"""Keypoint AP (OKS) against pycocotools' COCOeval(iouType="keypoints") on synthetic sets with the hard cases.

The sets hold: images without people, crowd ground truth, ground truth with no labelled keypoint
(num_keypoints 0: ignored, its OKS taken through its grown box), hidden keypoints (v 1) and unlabelled ones
(v 0), more than 20 detections on an image (only 20 count), tied scores, small / medium / large objects,
false positives and misses. Every one of the 10 stats and the [T, R, K, A, M] precision equal pycocotools'.
"""
import contextlib
import copy
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from components.evaluator import coco_keypoints
from components.evaluator.coco_fast import COCO_KEYPOINT_SIGMAS
from pipelines import cli
from schemas.problems import ProblemsError

K = 17


def _pycocotools(gt: dict, dt: list, sigmas=None) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dt)), "keypoints")
        if sigmas is not None:
            coco_eval.params.kpt_oks_sigmas = np.asarray(sigmas)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval


def synthetic(seed: int, num_images: int = 14, k: int = K) -> tuple[dict, list]:
    """A keypoint ground truth and results with the hard cases (see the module doc)."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in range(num_images)]
    anns, dts = [], []
    for image in images:
        if image["id"] % 5 == 0:                    # images without people (detections only, some)
            n_gt = 0
        else:
            n_gt = int(rng.integers(1, 6))
        for _ in range(n_gt):
            w, h = (float(v) for v in rng.choice([rng.uniform(10, 30, 2), rng.uniform(40, 90, 2),
                                                   rng.uniform(100, 300, 2)]))
            x, y = float(rng.uniform(0, 640 - w)), float(rng.uniform(0, 480 - h))
            px, py = rng.uniform(x, x + w, k), rng.uniform(y, y + h, k)
            vis = rng.choice([0, 1, 2], size=k, p=[0.3, 0.2, 0.5])
            if rng.uniform() < 0.15:
                vis[:] = 0                           # no labelled keypoint
            points = np.stack([np.where(vis > 0, px, 0), np.where(vis > 0, py, 0), vis], 1).ravel()
            anns.append({"id": len(anns) + 1, "image_id": image["id"], "category_id": 1, "bbox": [x, y, w, h],
                         "area": float(w * h * rng.uniform(0.5, 1.0)), "iscrowd": int(rng.uniform() < 0.1),
                         "keypoints": [float(v) for v in points], "num_keypoints": int(np.count_nonzero(vis))})
            for _ in range(int(rng.integers(0, 3))):   # detections near this person, of varying quality
                noise = rng.normal(0, rng.choice([1.0, 5.0, 20.0]), (k, 2))
                det = np.stack([px + noise[:, 0], py + noise[:, 1], np.ones(k)], 1).ravel()
                dts.append({"image_id": image["id"], "category_id": 1, "keypoints": [float(v) for v in det],
                            "score": float(np.round(rng.uniform(0.05, 1.0), 1))})   # rounded: ties
        for _ in range(int(rng.integers(0, 4)) + (22 if image["id"] == 3 else 0)):  # false positives; > 20
            cx, cy = rng.uniform(0, 640), rng.uniform(0, 480)
            det = np.stack([cx + rng.normal(0, 15, k), cy + rng.normal(0, 15, k), np.ones(k)], 1).ravel()
            dts.append({"image_id": image["id"], "category_id": 1, "keypoints": [float(v) for v in det],
                        "score": float(np.round(rng.uniform(0.05, 1.0), 1))})
    categories = [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(k)], "skeleton": []}]
    return {"images": images, "annotations": anns, "categories": categories}, dts


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_keypoint_ap_equals_pycocotools(seed):
    gt, dt = synthetic(seed)
    assert any(a["num_keypoints"] == 0 for a in gt["annotations"]) and any(a["iscrowd"] for a in gt["annotations"])
    reference = _pycocotools(gt, dt)
    ours = coco_keypoints.evaluate(gt, dt)
    np.testing.assert_allclose(ours.stats, reference.stats, rtol=0, atol=1e-12)
    assert ours.metrics["Keypoints_Precision/mAP ByCategory/person"] == pytest.approx(reference.stats[0], abs=1e-12)
    assert ours.metrics["Keypoints_Recall/AR@100 (large) ByCategory/person"] == pytest.approx(reference.stats[9],
                                                                                              abs=1e-12)
    assert 0 < reference.stats[0] < 1                              # a set that tells right from wrong


def test_the_config_sigmas_are_used_when_given():
    gt, dt = synthetic(4, k=4)
    sigmas = [0.05, 0.5, 0.1, 0.9]
    reference = _pycocotools(gt, dt, sigmas)
    np.testing.assert_allclose(coco_keypoints.evaluate(gt, dt, sigmas).stats, reference.stats, rtol=0, atol=1e-12)
    assert coco_keypoints.evaluate(gt, dt, sigmas).stats[0] != pytest.approx(
        coco_keypoints.evaluate(gt, dt, [0.2] * 4).stats[0])


def test_bad_input_is_named():
    gt, dt = synthetic(5)
    gt["annotations"][2]["keypoints"] = gt["annotations"][2]["keypoints"][:-1]
    del gt["annotations"][3]["num_keypoints"]
    dt[1]["keypoints"][4] = float("nan")
    dt[2]["image_id"] = 999
    with pytest.raises(ProblemsError) as raised:
        coco_keypoints.evaluate(gt, dt, gt_file="gt.json", dt_file="dt.json")
    text = str(raised.value)
    assert "gt.json: annotations[2].keypoints: expected a list of 51 numbers (x, y, visibility for 17" in text
    assert "gt.json: annotations[3].num_keypoints: expected a number" in text
    assert "dt.json: [1].keypoints: every value must be a finite number" in text
    assert "dt.json: [2].image_id 999 is not in the ground truth's images" in text
    assert len(COCO_KEYPOINT_SIGMAS) == K


def test_detflow_coco_eval_keypoints(tmp_path, capsys):
    gt, dt = synthetic(6)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    assert cli.main(["coco-eval", "--iou-type", "keypoints", "--gt", str(tmp_path / "gt.json"), "--dt",
                     str(tmp_path / "dt.json"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(printed["stats"], _pycocotools(gt, dt).stats, rtol=0, atol=1e-12)
    assert cli.main(["coco-eval", "--iou-type", "keypoints", "--gt", str(tmp_path / "gt.json"), "--dt",
                     str(tmp_path / "dt.json")]) == 0
    table = capsys.readouterr().out
    assert "Keypoints_Precision/mAP ByCategory/person" in table and "AP at OKS .50" in table
