"""The Evaluator in a real TFX pipeline (LocalDagRunner, SQLite MLMD) with the standard Pusher.

Run 1 (no blessed model yet): the good candidate is judged by min_map alone,
blessed, and pushed. Run 2: LatestBlessedModelStrategy resolves run 1's model
as baseline; a regressed candidate passes min_map but fails the change
threshold and reaches no destination. A separate pipeline checks that a first
model below min_map is never pushed.
"""

from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf
from pipelines import tfx_api as tfx
from tfx.orchestration import metadata

from components.artifact_types import LabelMapFile
from components.pusher.component import Pusher
from components.evaluator.component import Evaluator, EvaluatorParameters
from tests.evaluator import tiny

MAP = "DetectionBoxes_Precision/mAP"
Model, ModelBlessing = tfx.standard_artifacts.Model, tfx.standard_artifacts.ModelBlessing


def build_pipeline(root, examples_uri: str, model_uri: str, min_map: float, max_regression: float,
                   label_map_uri=None):
    examples = tfx.Importer(
        source_uri=examples_uri, artifact_type=tfx.standard_artifacts.Examples,
        properties={"split_names": '["train", "eval"]'}).with_id("examples_importer")
    model = tfx.Importer(source_uri=model_uri, artifact_type=Model).with_id("model_importer")
    baseline = tfx.Resolver(
        strategy_class=tfx.LatestBlessedModelStrategy,
        model=tfx.Channel(type=Model), model_blessing=tfx.Channel(type=ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    label_map = None
    if label_map_uri:
        label_map = tfx.Importer(source_uri=label_map_uri, artifact_type=LabelMapFile).with_id("label_map")
    evaluator = Evaluator(
        examples=examples.outputs["result"], model=model.outputs["result"],
        baseline_model=baseline.outputs["model"], label_map=label_map.outputs["result"] if label_map else None,
        parameters=EvaluatorParameters(min_map=min_map, max_regression=max_regression, num_images_drawn=2,
                                       batch_size=4))

    def destination(name):
        return tfx.PushDestination(
            filesystem=tfx.PushDestination.Filesystem(base_directory=str(root / name)))

    standard = tfx.Pusher(
        model=model.outputs["result"], model_blessing=evaluator.outputs["blessing"],
        push_destination=destination("serving")).with_id("pusher")
    with_metrics = Pusher(
        model=model.outputs["result"], model_blessing=evaluator.outputs["blessing"],
        push_destination=destination("serving_with_metrics")).with_id("metrics_pusher")
    return tfx.Pipeline(
        pipeline_name="evaluator_test", pipeline_root=str(root / "pipeline"),
        components=[examples, model, baseline] + ([label_map] if label_map else [])
        + [evaluator, standard, with_metrics], enable_cache=False,
        metadata_connection_config=tfx.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")))


def run(root, model_uri, min_map, max_regression=0.0, label_map_uri=None):
    tfx.LocalDagRunner().run(
        build_pipeline(root, str(root.parent / "examples"), model_uri, min_map, max_regression, label_map_uri))
    config = tfx.sqlite_metadata_connection_config(str(root / "metadata.sqlite"))
    with metadata.Metadata(config) as m:
        blessing = max(m.store.get_artifacts_by_type("ModelBlessing"), key=lambda a: a.id)
        evaluation = max(m.store.get_artifacts_by_type("ModelEvaluation"), key=lambda a: a.id)
        models = {a.uri: a.id for a in m.store.get_artifacts_by_type("Model")}
    return blessing, evaluation, models


def versions(path) -> list[str]:
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def props(artifact) -> dict:
    return {k: (v.int_value if v.HasField("int_value") else v.double_value if v.HasField("double_value")
                else v.string_value) for k, v in artifact.custom_properties.items()}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluator_pipeline")
    tiny.write_examples(str(root / "examples"))
    tiny.write_model(str(root / "good_model"), shift=0.0)
    tiny.write_model(str(root / "bad_model"), shift=0.3, label_map_in_assets=False)
    return root


def test_blessed_first_run_pushes_then_regressed_candidate_is_rejected(data):
    root = data / "history"
    root.mkdir()
    good, bad = str(data / "good_model"), str(data / "bad_model")

    # Run 1: no baseline -> judged by min_map alone.
    blessing, evaluation, models = run(root, good, min_map=0.5, max_regression=0.1)
    b = props(blessing)
    assert b["blessed"] == 1 and b["current_model_id"] == models[good]
    assert "baseline_model_id" not in b and "no baseline" in b["blessing_message"]
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    e = props(evaluation)
    assert e[MAP] == pytest.approx(1.0) and e["min_map"] == 0.5 and e["max_regression"] == pytest.approx(0.1)
    report = json.loads(open(os.path.join(evaluation.uri, "metrics.json")).read())
    assert report["metrics"][MAP] == pytest.approx(1.0) and report["baseline"] is None
    assert report["per_category"] == {"red": pytest.approx(1.0), "green": pytest.approx(1.0)}
    assert report["judgement"]["blessed"] is True and report["num_images"] == 6
    for name in ("pr_curves.png", "confusion_matrix.png"):
        assert os.path.getsize(os.path.join(evaluation.uri, name)) > 1000
    assert len(os.listdir(os.path.join(evaluation.uri, "examples"))) == 2

    pushed = versions(root / "serving")
    assert len(pushed) == 1
    version_dir = root / "serving" / pushed[0]
    assert (version_dir / "saved_model.pb").exists()
    assert (version_dir / "assets" / "label_map.pbtxt").exists() and (version_dir / "pipeline.config").exists()
    assert tf.saved_model.load(str(version_dir)).signatures["serving_default"] is not None
    with_metrics = root / "serving_with_metrics" / versions(root / "serving_with_metrics")[0]
    assert (with_metrics / "saved_model.pb").exists() and (with_metrics / "pipeline.config").exists()
    assert json.loads((with_metrics / "metrics.json").read_text())["metrics"][MAP] == pytest.approx(1.0)

    # Run 2: the resolver finds run 1's blessed model; the candidate is far worse.
    blessing, evaluation, models = run(root, bad, min_map=0.0, max_regression=0.1)
    b = props(blessing)
    assert b["blessed"] == 0 and b["current_model_id"] == models[bad]
    assert b["baseline_model_id"] == models[good]
    assert "regressed by more than allowed" in b["blessing_message"]
    assert os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    report = json.loads(open(os.path.join(evaluation.uri, "metrics.json")).read())
    assert report["baseline"]["metrics"][MAP] == pytest.approx(1.0)
    assert report["metrics"][MAP] == pytest.approx(0.0)
    assert props(evaluation)["baseline_metric_value"] == pytest.approx(1.0)
    assert versions(root / "serving") == pushed  # nothing new reached the destination
    assert len(versions(root / "serving_with_metrics")) == 1


def test_first_model_below_min_map_is_never_pushed(data):
    root = data / "rejected"
    root.mkdir()
    label_dir = data / "label_map"
    label_dir.mkdir()
    (label_dir / "label_map.pbtxt").write_text(tiny.LABEL_MAP)
    blessing, evaluation, _ = run(root, str(data / "bad_model"), min_map=0.5, label_map_uri=str(label_dir))
    report = json.loads(open(os.path.join(evaluation.uri, "metrics.json")).read())
    assert report["label_map"] == str(label_dir / "label_map.pbtxt")
    b = props(blessing)
    assert b["blessed"] == 0 and "< min_map" in b["blessing_message"]
    assert versions(root / "serving") == [] and versions(root / "serving_with_metrics") == []
