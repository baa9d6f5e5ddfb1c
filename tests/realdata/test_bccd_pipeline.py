"""BCCD through the whole pipeline (../shared/realdata): VOC in, a Keras ImageNet file as the base model,
`detflow evaluate` agreeing with the Evaluator, and a champion model to beat with its lineage.

Run 1: `detflow run` on the VOC folders, fine-tuning from the Teachable Machine Keras file (imported
as the base Model), 100 steps at 160 px (at 60 the class head is still flat, and not blessed). Run 2: the same with `--champion` naming run 1's pushed model:
everything but the Evaluator is cached; it scores the champion on the same split and the lineage
audit names it. Kept small for `make test`.
"""
from __future__ import annotations

import json
import os

import pytest

from bench import realdata
from components.evaluator import model_eval
from pipelines import cli, lineage, run_report
from pipelines.pipeline_inputs import DataSource
from tests.pipelines import e2e_helpers as h
from tests.realdata.paths import require

RECIPE = realdata.Recipe(steps=100, input_size=160, warmup_steps=12)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    require("bccd", "Annotations")
    weights = require("weights", realdata.IMAGENET_WEIGHTS.name)
    root = tmp_path_factory.mktemp("bccd_pipeline")
    label_map = root / "label_map.pbtxt"
    label_map.write_text(realdata.DATASETS["bccd"].label_map_text())
    config = root / "pipeline.config"
    config.write_text(realdata.recipe_config(3, realdata.Recipe(**{**RECIPE.__dict__,
                                                                   "fine_tune_checkpoint": str(weights)}),
                                             "unused", "unused", str(label_map)))
    data = DataSource(format="voc", annotations=str(realdata.REALDATA / "bccd" / "Annotations"),
                      images=str(realdata.REALDATA / "bccd" / "JPEGImages"))
    code, first, text = h.run(root / "root", data, str(config), str(label_map))
    assert code == 0, text
    champion = first.pushed
    code, second, text2 = h.run(root / "root", data, str(config), str(label_map), champion=champion)
    assert code == 0, text2
    return {"root": root / "root", "first": first, "second": second, "text": text, "text2": text2,
            "champion": champion}


def _artifact_uris(root, pushed: str) -> dict:
    store = run_report.open_store(str(root))
    up = lineage.trace(store, lineage.find_artifact(store, pushed), lineage.UPSTREAM)
    return {a["type"]: a["uri"] for a in up.artifacts.values()}


def test_the_keras_file_is_the_base_model_and_the_run_blesses_and_pushes(pipeline):
    first = pipeline["first"]
    assert first.blessed is True and first.pushed, pipeline["text"]
    with open(os.path.join(first.pushed, "metrics.json"), encoding="utf-8") as f:
        document = json.load(f)
    assert document["health"]["healthy"] and document["num_images"] == 76
    store = run_report.open_store(str(pipeline["root"]))
    up = lineage.trace(store, lineage.find_artifact(store, first.pushed), lineage.UPSTREAM)
    [model] = [a for a in up.artifacts.values() if a["type"] == "Model" and "restored_variables" in a["properties"]]
    assert model["properties"]["fine_tune_checkpoint_type"] == "classification"
    assert model["properties"]["base_checkpoint"].endswith(realdata.IMAGENET_WEIGHTS.name)
    assert model["properties"]["batch_norm_reestimated"] == 1 and model["properties"]["healthy"] == 1


def test_detflow_evaluate_gives_the_metrics_the_evaluator_gave(pipeline, capsys):
    first = pipeline["first"]
    uris = _artifact_uris(pipeline["root"], first.pushed)
    with open(os.path.join(first.pushed, "metrics.json"), encoding="utf-8") as f:
        evaluator = json.load(f)
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", os.path.join(first.pushed), "--data",
                     os.path.join(uris["Examples"], "Split-eval", "*"), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    assert ours["metrics"] == evaluator["metrics"] and ours["per_category"] == evaluator["per_category"]
    assert ours["num_images"] == evaluator["num_images"]


def test_a_champion_is_scored_on_the_same_split_judged_against_and_audited(pipeline, capsys):
    second = pipeline["second"]
    states = h.states(second)
    assert states["Evaluator"] == "ran" and states["DetectionTrainer"] == "cached", states
    assert "champion" in second.blessing_message
    champion_score = model_eval.score_model(pipeline["champion"], os.path.join(
        _artifact_uris(pipeline["root"], pipeline["champion"])["Examples"], "Split-eval", "*"))
    # The champion is run 1's model itself: equal scores, so the candidate is blessed and pushed again.
    assert second.blessed is True and second.pushed and second.pushed != pipeline["champion"]
    with open(os.path.join(second.pushed, "metrics.json"), encoding="utf-8") as f:
        document = json.load(f)
    assert document["champion"]["model_uri"] == os.path.abspath(pipeline["champion"])
    assert document["champion"]["metrics"] == champion_score.result.metrics == document["metrics"]
    assert cli.main(["lineage", "--root", str(pipeline["root"]), second.pushed]) == 0
    audit = capsys.readouterr().out
    assert "champion model:" in audit and "imported from outside the pipeline" in audit
