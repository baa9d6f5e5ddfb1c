"""ML Metadata of detflow pipeline runs, written directly (no TFX run): fast lineage and run-report tests.

`record_run` writes what a LocalDagRunner run of `pipelines/pipeline.py` records:
the `pipeline`, `pipeline_run` and `node` contexts, one execution per node with the
properties the real nodes set, INPUT/OUTPUT events keyed by channel, and the
resolvers' INTERNAL_OUTPUT bookkeeping events. Values come from a real demo run.
"""

from __future__ import annotations

import json
from typing import Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

PIPELINE = "detflow"
METRICS = {
    "DetectionBoxes_Precision/mAP": 0.381834, "DetectionBoxes_Precision/mAP@.50IOU": 0.661933,
    "DetectionBoxes_Precision/mAP@.75IOU": 0.38565, "DetectionBoxes_Precision/mAP (small)": 0.339354,
    "DetectionBoxes_Precision/mAP (medium)": 0.448012, "DetectionBoxes_Precision/mAP (large)": -1.0,
    "DetectionBoxes_Recall/AR@1": 0.410246, "DetectionBoxes_Recall/AR@10": 0.533969,
    "DetectionBoxes_Recall/AR@100": 0.538066, "DetectionBoxes_Recall/AR@100 (small)": 0.503252,
    "DetectionBoxes_Recall/AR@100 (medium)": 0.576825, "DetectionBoxes_Recall/AR@100 (large)": -1.0,
}
CODE = {"ImageExampleGen": "50c96e4ace94b0a6", "LabelMapValidator": "1b191c65c3a43b9b",
        "DetectionTrainer": "4d2f2a9c03b7c9a8", "Evaluator": "182e378fae61eb88", "Pusher": "182e378fae61eb88"}
_EXECUTION_TYPES = {
    "ImageExampleGen": "components.example_gen.component.ImageExampleGen",
    "LabelMapValidator": "components.label_map_validator.component.LabelMapValidator",
    "DetectionTrainer": "components.trainer.component.DetectionTrainer",
    "Evaluator": "components.evaluator.component.Evaluator",
    "Pusher": "components.pusher.component.Pusher",
    "importer": "tfx.dsl.components.common.importer.Importer",
    "resolver": "tfx.dsl.components.common.resolver.Resolver",
}


def open_store(path: str) -> metadata_store.MetadataStore:
    """A SQLite MLMD store at `path` (created)."""
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


class _Recorder:
    def __init__(self, store, run_id: str, root: str):
        self.store, self.run_id, self.root = store, run_id, root
        self.pipeline_ctx = self._context("pipeline", PIPELINE)
        self.run_ctx = self._context("pipeline_run", run_id)

    def _context(self, type_name: str, name: str) -> pb.Context:
        type_id = self.store.put_context_type(pb.ContextType(name=type_name))
        found = self.store.get_context_by_type_and_name(type_name, name)
        if found is not None:
            return found
        [cid] = self.store.put_contexts([pb.Context(type_id=type_id, name=name)])
        return self.store.get_contexts_by_id([cid])[0]

    def artifact(self, type_name: str, uri: str, **custom) -> pb.Artifact:
        """A new LIVE artifact with custom properties (int, float or str values)."""
        type_id = self.store.put_artifact_type(pb.ArtifactType(name=type_name))
        a = pb.Artifact(type_id=type_id, uri=uri, state=pb.Artifact.LIVE)
        for key, value in custom.items():
            _set(a.custom_properties[key], value)
        return a

    def execute(self, node: str, kind: str, inputs: dict, outputs: dict, state=pb.Execution.COMPLETE,
                internal: Optional[dict] = None, **custom) -> int:
        """One execution of `node` with its events; new output artifacts are stored. Returns its id."""
        type_id = self.store.put_execution_type(pb.ExecutionType(name=_EXECUTION_TYPES[kind]))
        e = pb.Execution(type_id=type_id, last_known_state=state)
        for key, value in custom.items():
            _set(e.custom_properties[key], value)
        pairs = []
        for event_type, by_key in ((pb.Event.INPUT, inputs), (pb.Event.OUTPUT, outputs),
                                   (pb.Event.INTERNAL_OUTPUT, internal or {})):
            for key, artifact in by_key.items():
                event = pb.Event(type=event_type)
                event.path.steps.add().key = key
                event.path.steps.add().index = 0
                pairs.append((artifact, event))
        contexts = [self.pipeline_ctx, self.run_ctx, self._context("node", f"{PIPELINE}.{node}")]
        execution_id, artifact_ids, _ = self.store.put_execution(e, pairs, contexts)
        for (artifact, _), aid in zip(pairs, artifact_ids):
            artifact.id = aid
        return execution_id


def _set(value: pb.Value, python_value) -> None:
    if isinstance(python_value, bool) or isinstance(python_value, int):
        value.int_value = int(python_value)
    elif isinstance(python_value, float):
        value.double_value = python_value
    else:
        value.string_value = str(python_value)


def record_run(store, root: str, run_id: str, span: int = 0, start_from: Optional[pb.Artifact] = None,
               baseline: Optional[pb.Artifact] = None, stop_at_validator: Optional[str] = None) -> dict:
    """Records one detflow run; returns its artifacts by name (pushed_model, evaluation, model, ...).

    `start_from`: the fine-tune checkpoint is that model of an earlier run (warm start)
    instead of the imported one. `stop_at_validator`: "failed" records a failed
    LabelMapValidator, "running" one still RUNNING (a driver error or a kill leaves
    that), "killed" none; no later node runs.
    """
    r = _Recorder(store, run_id, root)
    out: dict = {}
    images_dir = f"{root}/data/span-{span}/images"
    fingerprint = (f"split:single_split,num_files:1,total_bytes:450878,xor_checksum:1,sum_checksum:1\n"
                   f"annotations {root}/data/span-{span}/annotations.json:files=1,bytes=450878,xor=1,sum=0\n"
                   f"images {images_dir}:files=1000,bytes=26574757,xor=2,sum=3\n"
                   f"label_map {root}/inputs/aaa/label_map.pbtxt:files=1,bytes=291,xor=4,sum=0")
    out["examples"] = r.artifact("Examples", f"{root}/ImageExampleGen/examples/{run_id}", span=span,
                                 input_fingerprint=fingerprint, split_names='["train", "eval"]',
                                 images_train=811, images_eval=189, boxes_train=1879, boxes_eval=443,
                                 skipped_images=0, dropped_boxes=0, clipped_boxes=0)
    custom_config = json.dumps({"custom_config": {"@type": "type.googleapis.com/google.protobuf.Struct",
                                                  "value": {"format": "coco", "images": "images",
                                                            "label_map_path": f"{root}/inputs/aaa/label_map.pbtxt",
                                                            "strict": False}}})
    r.execute("ImageExampleGen", "ImageExampleGen", {}, {"examples": out["examples"]},
              input_base=f"{root}/data", span=span, input_fingerprint=fingerprint, custom_config=custom_config,
              input_config=json.dumps({"splits": [{"name": "single_split",
                                                   "pattern": f"span-{span}/annotations.json"}]}),
              detflow_code_version=CODE["ImageExampleGen"])
    for node, name, type_name, uri, sha in (
            ("checkpoint_importer", "checkpoint", "Model", "/embedded/checkpoint", "c" * 64),
            ("label_map_importer", "label_map", "detflow.LabelMap", f"{root}/inputs/{'a' * 64}", "a" * 64),
            ("pipeline_config_importer", "pipeline_config", "detflow.PipelineConfig", f"{root}/inputs/{'b' * 64}",
             "b" * 64)):
        out[name] = r.artifact(type_name, uri, sha256=sha)
        r.execute(node, "importer", {}, {"result": out[name]}, artifact_uri=uri)
    if stop_at_validator in ("failed", "running"):
        state = pb.Execution.FAILED if stop_at_validator == "failed" else pb.Execution.RUNNING
        r.execute("LabelMapValidator", "LabelMapValidator",
                  {"examples": out["examples"], "label_map": out["label_map"]}, {}, state=state,
                  detflow_code_version=CODE["LabelMapValidator"])
    if stop_at_validator:
        return out
    out["validated_label_map"] = r.artifact("detflow.ValidatedLabelMap", f"{root}/LabelMapValidator/{run_id}",
                                            content_hash="d" * 64, num_classes=5, valid=1)
    r.execute("LabelMapValidator", "LabelMapValidator",
              {"examples": out["examples"], "label_map": out["label_map"], "pipeline_config": out["pipeline_config"]},
              {"validated_label_map": out["validated_label_map"]}, detflow_code_version=CODE["LabelMapValidator"])
    start = start_from or out["checkpoint"]
    out["model"] = r.artifact("Model", f"{root}/DetectionTrainer/model/{run_id}", steps=1000,
                              base_checkpoint=start.uri + "/ckpt-0", fine_tune_checkpoint_type="detection")
    out["model_run"] = r.artifact("ModelRun", f"{root}/DetectionTrainer/model_run/{run_id}")
    r.execute("DetectionTrainer", "DetectionTrainer",
              {"examples": out["examples"], "pipeline_config": out["pipeline_config"],
               "label_map": out["validated_label_map"], "base_model": start},
              {"model": out["model"], "model_run": out["model_run"]},
              num_steps=1000, detflow_code_version=CODE["DetectionTrainer"])
    r.execute("baseline_model_resolver", "resolver", {}, {}, internal={"candidate": out["model"]})
    message = "candidate DetectionBoxes_Precision/mAP 0.3818 >= min_map 0.0000"
    verdict = {"blessed": 1, "metric": "DetectionBoxes_Precision/mAP", "metric_value": METRICS[
        "DetectionBoxes_Precision/mAP"], "min_map": 0.0, "max_regression": 0.02, "blessing_message": message}
    out["blessing"] = r.artifact("ModelBlessing", f"{root}/Evaluator/blessing/{run_id}", **verdict,
                                 current_model_id=out["model"].id, current_model=out["model"].uri)
    out["evaluation"] = r.artifact("ModelEvaluation", f"{root}/Evaluator/evaluation/{run_id}", **verdict,
                                   **METRICS, **{"DetectionBoxes_PerformanceByCategory/mAP/bolt": 0.5},
                                   num_images=189, eval_split="eval")
    inputs = {"examples": out["examples"], "model": out["model"], "label_map": out["validated_label_map"]}
    if baseline is not None:
        inputs["baseline_model"] = baseline
    r.execute("Evaluator", "Evaluator", inputs, {"blessing": out["blessing"], "evaluation": out["evaluation"]},
              min_map=0.0, max_regression=0.02, detflow_code_version=CODE["Evaluator"])
    version = 1795494686 + span
    out["pushed_model"] = r.artifact("PushedModel", f"{root}/Pusher/pushed_model/{run_id}", pushed=1,
                                     pushed_destination=f"{root}/serving_model/{version}",
                                     pushed_version=str(version))
    r.execute("Pusher", "Pusher", {"model": out["model"], "model_blessing": out["blessing"]},
              {"pushed_model": out["pushed_model"]}, detflow_code_version=CODE["Pusher"])
    return out
