"""The Evaluator records every metric it judged in ML Metadata, so lineage needs no file."""

import json
import os

import pytest

from components.evaluator.coco_metrics import METRIC_NAMES, PER_CATEGORY_PREFIX
from pipelines.metadata.run_summary import read_metrics
from tests.evaluator import tiny
from tests.evaluator.test_component import run


def test_the_12_metrics_and_per_class_ap_are_custom_properties_of_the_evaluation(tmp_path):
    tiny.write_examples(str(tmp_path / "examples"))
    tiny.write_model(str(tmp_path / "good_model"), shift=0.0)
    root = tmp_path / "history"
    root.mkdir()
    _, evaluation, _ = run(root, str(tmp_path / "good_model"), min_map=0.0)
    report = json.loads(open(os.path.join(evaluation.uri, "metrics.json")).read())
    recorded = read_metrics(evaluation, from_file=False)
    expected = {**report["metrics"], **{PER_CATEGORY_PREFIX + k: v for k, v in report["per_category"].items()}}
    assert set(METRIC_NAMES) <= set(recorded)
    assert recorded == pytest.approx(expected)
    assert recorded[PER_CATEGORY_PREFIX + "red"] == pytest.approx(1.0)
