"""Lineage audit on ML Metadata recorded like two detflow runs (the second warm-started from the first)."""

import json

import pytest

from pipelines import cli

from pipelines.metadata import audit_format, lineage, lineage_audit, lineage_format
from tests.pipelines import mlmd_runs


@pytest.fixture()
def two_runs(tmp_path):
    """A first run from the imported checkpoint, a second on span 1 starting from (and judged against) it."""
    db = str(tmp_path / "metadata.sqlite")
    store = mlmd_runs.open_store(db)
    root = str(tmp_path)
    first = mlmd_runs.record_run(store, root, "run-1", span=0)
    second = mlmd_runs.record_run(store, root, "run-2", span=1, start_from=first["model"], baseline=first["model"])
    return store, root, first, second


def test_upstream_of_a_pushed_model_reaches_the_evaluation_and_its_metrics(two_runs):
    store, _, first, _ = two_runs
    up = lineage.trace(store, lineage.find_artifact(store, str(first["pushed_model"].id)))
    evaluation = up.artifacts[first["evaluation"].id]
    assert evaluation["type"] == "ModelEvaluation"
    assert evaluation["metrics"] == mlmd_runs.METRICS | {"DetectionBoxes_PerformanceByCategory/mAP/bolt": 0.5}
    assert "DetectionBoxes_Precision/mAP" not in evaluation["properties"]  # metrics apart, not twice
    assert "baseline_model_resolver" not in {e["node"] for e in up.executions.values()}
    tree = lineage_format.format_tree(up)
    assert "also made: [evaluation] ModelEvaluation" in tree and "mAP@.50IOU=0.6619" in tree
    lines = tree.splitlines()  # the chain reads pushed <- blessing <- model <- examples
    assert "[model_blessing] ModelBlessing" in lines[2] and "<- Evaluator" in lines[3]
    assert "[model] Model" in lines[5] and "<- DetectionTrainer" in lines[6]


def test_audit_of_a_pushed_model_answers_every_item(two_runs):
    store, root, first, _ = two_runs
    found = lineage_audit.audit(lineage.trace(store, first["pushed_model"]))
    assert found["run"] == "run-1"
    assert found["pushed_model"]["version"] == "1795494686"
    assert found["blessing"]["blessed"] is True
    assert list(found["evaluation"]["metrics"]) == list(mlmd_runs.METRICS)  # the 12, in the OD API's order
    assert found["evaluation"]["metrics"]["DetectionBoxes_Precision/mAP@.50IOU"] == pytest.approx(0.661933)
    assert found["evaluation"]["per_category"] == {"bolt": 0.5}
    assert found["model"]["id"] == first["model"].id
    examples = found["examples"]
    assert examples["span"] == 0 and examples["images"] == {"train": 811, "eval": 189}
    assert examples["input_fingerprint"].startswith("split:single_split")
    assert found["data"]["annotations"] == f"{root}/data/span-0/annotations.json"
    assert found["data"]["images"] == f"{root}/data/span-0/images" and found["data"]["images_files"] == 1000
    assert found["label_map"]["sha256"] == "a" * 64 and found["pipeline_config"]["sha256"] == "b" * 64
    checkpoint = found["fine_tune_checkpoint"]
    assert checkpoint["imported"] and checkpoint["uri"] == "/embedded/checkpoint" and checkpoint["sha256"] == "c" * 64
    assert checkpoint["earlier_run"] is None
    assert found["code_version"] == mlmd_runs.CODE


def test_audit_names_the_earlier_run_a_warm_start_came_from(two_runs):
    store, _, first, second = two_runs
    graph = lineage.trace(store, second["pushed_model"])
    found = lineage_audit.audit(graph)
    assert found["run"] == "run-2" and found["examples"]["span"] == 1
    checkpoint = found["fine_tune_checkpoint"]
    assert not checkpoint["imported"] and checkpoint["id"] == first["model"].id
    assert checkpoint["earlier_run"] == "run-1" and checkpoint["node"] == "DetectionTrainer"
    assert found["baseline_model"]["id"] == first["model"].id and found["baseline_model"]["run"] == "run-1"
    assert set(found["code_version"]) == set(mlmd_runs.CODE)  # this run's nodes, not the earlier run's
    text = audit_format.format_audit(found)
    assert "trained by DetectionTrainer in earlier run run-1" in text
    assert "earlier run run-1" in lineage_format.format_tree(graph)


def test_lineage_cli_text_json_and_dot_show_the_evaluation(two_runs, capsys):
    _, root, first, _ = two_runs
    pushed_dir = f"{root}/serving_model/1795494686"
    assert cli.main(["lineage", "--root", root, pushed_dir]) == 0
    text = capsys.readouterr().out
    for item in ("pushed model:", "blessing:", "evaluation:", "DetectionBoxes_Precision/mAP@.50IOU      0.6619",
                 "DetectionBoxes_Recall/AR@100 (large)", "examples:", "span 0", "images eval 189, train 811",
                 "input fingerprint:", "data:", "label map:", "pipeline config:", "fine tune checkpoint:",
                 "code version:", "ImageExampleGen 50c96e4ace94b0a6"):
        assert item in text, item
    assert cli.main(["lineage", "--root", root, pushed_dir, "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    evaluation = [a for a in as_json["artifacts"] if a["type"] == "ModelEvaluation"]
    assert evaluation and evaluation[0]["metrics"]["DetectionBoxes_Precision/mAP"] == pytest.approx(0.381834)
    assert as_json["audit"]["evaluation"]["metrics"]["DetectionBoxes_Precision/mAP@.50IOU"] == pytest.approx(0.661933)
    assert cli.main(["lineage", "--root", root, pushed_dir, "--dot"]) == 0
    dot = capsys.readouterr().out
    evaluation_id = first["evaluation"].id
    assert f'a{evaluation_id} [shape=ellipse, label="ModelEvaluation #{evaluation_id}\\nmAP=0.3818' in dot
    assert f'[label="evaluation"]' in dot


def test_downstream_of_examples_names_the_model_and_the_push(two_runs):
    store, _, first, _ = two_runs
    down = lineage.trace(store, first["examples"], lineage.DOWNSTREAM)
    assert {"DetectionTrainer", "Pusher"} <= {e["node"] for e in down.executions.values()}
    assert "baseline_model_resolver" not in {e["node"] for e in down.executions.values()}
    assert lineage_audit.audit(down) == {}
    assert "PushedModel" in lineage_format.render(down)
