"""End-to-end runs of the whole detflow pipeline on tiny generated data (real TFX, MLMD and Beam)."""

import json
import os

import pytest

from components.evaluator.coco_metrics import METRIC_NAMES
from pipelines import cli
from pipelines.metadata import lineage, lineage_audit, lineage_format, run_summary
from tests.pipelines import e2e_helpers as h

pytestmark = pytest.mark.e2e


def _artifact_types(graph):
    return {a["type"] for a in graph.artifacts.values()}


@pytest.mark.timeout(1500)
def test_scheduled_runs_cache_spans_warm_start_lineage_and_label_map_change(tmp_path, capsys):
    data_root, root = tmp_path / "drops", tmp_path / "root"
    h.make_span(data_root, 0)
    config, label_map = h.make_config(tmp_path / "config")
    data = h.span_source(data_root)

    # 1. First run: every node runs; the model is judged by min_map alone and pushed.
    code, first, text = h.run(root, data, config, label_map, warm_start=True)
    assert code == 0, text
    states = h.states(first)
    assert all(s == "ran" for n, s in states.items() if n not in h.SYSTEM_NODES), states
    assert {"ImageExampleGen", "StatisticsGen", "LabelMapValidator", "DetectionTrainer", "Evaluator",
            "Pusher"} <= set(states)
    assert first.blessed is True and first.pushed
    assert os.path.exists(os.path.join(first.pushed, "saved_model.pb"))
    assert "DetectionBoxes_Precision/mAP" in first.metrics
    assert "ImageExampleGen" in text and "blessed: yes" in text and first.pushed in text

    # 2. Unchanged re-run (a cron tick with no new data): every node is served from the cache.
    code, second, text = h.run(root, data, config, label_map, warm_start=True)
    assert code == 0, text
    assert {n: s for n, s in h.states(second).items() if n not in h.SYSTEM_NODES} == {
        n: "cached" for n in states if n not in h.SYSTEM_NODES}
    assert second.pushed is None and second.already_pushed == first.pushed  # nothing new was pushed
    assert "pushed: nothing new" in text

    # 3. Lineage of the pushed model: blessing, evaluation, model, examples, label map, config, checkpoint.
    store = run_summary.open_store(str(root))
    pushed = lineage.find_artifact(store, first.pushed)
    up = lineage.trace(store, pushed, lineage.UPSTREAM)
    assert {"PushedModel", "ModelBlessing", "Model", "Examples", "detflow.LabelMap", "detflow.PipelineConfig",
            "detflow.ValidatedLabelMap"} <= _artifact_types(up)
    tree = lineage_format.format_tree(up)
    assert "checkpoint_importer" in tree and "sha256=" in tree and "span=0" in tree
    assert "detflow_code_version=" in tree
    # ... and the evaluation, a sibling output of the Evaluator, with its 12 COCO metrics from MLMD.
    [evaluation] = [a for a in up.artifacts.values() if a["type"] == "ModelEvaluation"]
    assert set(METRIC_NAMES) <= set(evaluation["metrics"])
    assert evaluation["metrics"]["DetectionBoxes_Precision/mAP"] == pytest.approx(
        first.metrics["DetectionBoxes_Precision/mAP"])
    assert "also made: [evaluation] ModelEvaluation" in tree
    audit = lineage_audit.audit(up)
    assert audit["run"] == first.run_id and audit["blessing"]["blessed"] is True
    assert list(audit["evaluation"]["metrics"]) == list(METRIC_NAMES)
    assert audit["examples"]["span"] == 0 and sum(audit["examples"]["images"].values()) == h.NUM_IMAGES
    assert "annotations " in audit["examples"]["input_fingerprint"]
    assert audit["data"]["annotations"].endswith("span-0/annotations.json")
    assert audit["data"]["images"].endswith("span-0/images") and audit["data"]["images_files"] == h.NUM_IMAGES
    assert audit["label_map"]["sha256"] and audit["pipeline_config"]["sha256"]
    assert audit["fine_tune_checkpoint"]["imported"] and audit["fine_tune_checkpoint"]["sha256"]
    assert {"ImageExampleGen", "LabelMapValidator", "DetectionTrainer", "Evaluator", "Pusher"} == set(
        audit["code_version"])
    examples = [a for a in up.artifacts.values() if a["type"] == "Examples"][0]
    down = lineage.trace(store, store.get_artifacts_by_id([examples["id"]])[0], lineage.DOWNSTREAM)
    assert "DetectionTrainer" in {e["node"] for e in down.executions.values()}
    assert "PushedModel" in _artifact_types(down)
    capsys.readouterr()
    assert cli.main(["lineage", "--root", str(root), first.pushed, "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["start"] == pushed.id and as_json["direction"] == "upstream"
    assert "DetectionBoxes_Precision/mAP@.50IOU" in as_json["audit"]["evaluation"]["metrics"]
    assert cli.main(["lineage", "--root", str(root), first.pushed]) == 0
    text = capsys.readouterr().out
    assert "evaluation:" in text and "DetectionBoxes_Precision/mAP@.50IOU" in text and "fine tune checkpoint:" in text
    assert cli.main(["lineage", "--root", str(root), str(examples["id"]), "--direction", "downstream",
                     "--dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph lineage {")

    # 4. A new data drop: retrain from the blessed model; the baseline is the first run's model.
    h.make_span(data_root, 1)
    code, third, text = h.run(root, data, config, label_map, warm_start=True)
    assert code == 0, text
    assert h.states(third)["ImageExampleGen"] == "ran" and h.states(third)["DetectionTrainer"] == "ran"
    first_model = store.get_artifacts_by_uri(first.model_uri)[0]
    third_model = store.get_artifacts_by_uri(third.model_uri)[0]
    third_up = lineage.trace(store, third_model, lineage.UPSTREAM)
    trainer_run = [x for a, x, kind, _ in third_up.events if a == third_model.id and kind == "output"][0]
    starts = [a for a, x, kind, key in third_up.events if x == trainer_run and key == "base_model"]
    assert starts == [first_model.id]
    evaluation = [a for a in store.get_artifacts_by_type("ModelBlessing")
                  if run_summary.props(a).get("current_model") == third.model_uri][0]
    assert run_summary.props(evaluation)["baseline_model_id"] == first_model.id
    assert "earlier run" in lineage_format.format_tree(third_up)
    third_audit = lineage_audit.audit(third_up)
    assert third_audit["fine_tune_checkpoint"]["id"] == first_model.id
    assert third_audit["fine_tune_checkpoint"]["earlier_run"] == first.run_id
    assert third_audit["examples"]["span"] == 1

    # 5. `detflow runs` lists the three runs with their states.
    capsys.readouterr()
    assert cli.main(["runs", "--root", str(root), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in listed] == [first.run_id, second.run_id, third.run_id]
    assert listed[0]["blessed"] is True and listed[0]["pushed_version"]
    assert [r["status"] for r in listed] == ["complete"] * 3
    assert listed[0]["metrics"]["DetectionBoxes_Precision/mAP"] == first.metrics["DetectionBoxes_Precision/mAP"]
    assert cli.main(["runs", "--root", str(root)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows[0].split()[-1] == listed[0]["pushed_version"]
    assert rows[1].split()[-2:] == [f"({listed[0]['pushed_version']},", "already)"]  # the cache-hit run

    # 6. A label-map change (display names only) re-runs what depends on the label map. This run is
    # orchestrated by TFX's BeamDagRunner (`--runner beam`) over the same ML Metadata store: the local runs'
    # executions are its cache hits, and what it runs joins their lineage. (The nodes' own Beam steps run
    # in-process here; their multi-processing default is tests/example_gen/test_beam_io.py's.)
    with open(label_map) as fh:
        text_map = fh.read()
    with open(label_map, "w") as fh:
        fh.write(text_map.replace("Hex nut", "Hex nut (M6)"))
    code, fourth, text = h.run(root, data, config, label_map, warm_start=True, runner="beam")
    assert code == 0, text
    assert "(beam runner)" in text and fourth.status == "complete"
    after = h.states(fourth)
    assert all(after[n] == "ran" for n in ("LabelMapValidator", "DetectionTrainer", "Evaluator")), after
    assert after["checkpoint_importer"] == after["pipeline_config_importer"] == "cached", after
    fourth_model = store.get_artifacts_by_uri(fourth.model_uri)[0]
    fourth_up = lineage.trace(store, fourth_model, lineage.UPSTREAM)
    assert lineage_audit.audit(fourth_up)["examples"]["span"] == 1


def test_failed_node_is_named_with_its_error(tmp_path, capsys):
    h.make_span(tmp_path / "drops", 0)
    config, label_map = h.make_config(tmp_path / "config")
    with open(label_map, "w") as fh:  # a label map missing most classes the data has
        fh.write("item {\n  id: 1\n  name: 'hex_nut'\n}\n")
    code, summary, text = h.run(tmp_path / "root", h.span_source(tmp_path / "drops"), config, label_map)
    err = capsys.readouterr().err
    assert code == 1
    failed = [n for n in summary.nodes if n.state == "failed"]
    assert failed and f"{failed[0].node_id} failed:" in err
    assert "Traceback" not in err and os.listdir(tmp_path / "root" / "logs")
    assert cli.main(["runs", "--root", str(tmp_path / "root")]) == 0
    out = capsys.readouterr().out
    assert " failed " in out.splitlines()[1] and f"failed at {failed[0].node_id}: " in out
    assert "num_classes" in out and "full trace: " in out
