"""The audit answer read off an upstream lineage: where a pushed model came from.

pushed model <- blessing and evaluation (COCO metrics) <- model <- examples (span,
input fingerprint, image counts) <- data location; plus the label map and the
pipeline.config (content hashes), the fine-tune checkpoint (URI, and the earlier
run that trained it when it is a model of an earlier run), the baseline and the
code version of every node. Everything comes from the `Lineage` (ML Metadata:
artifact properties, executions and their events); no file is read.
"""

from __future__ import annotations

import json
from typing import Optional

from components.names import (BASELINE_MODEL_KEY, BASE_CHECKPOINT_PROPERTY, BASE_MODEL_KEY, BLESSED_PROPERTY,
                              BLESSING_KEY, BLESSING_MESSAGE_PROPERTY, CHAMPION_METRIC_VALUE_PROPERTY,
                              CHAMPION_MODEL_KEY, CODE_VERSION_KEY, EVALUATION_KEY, EXAMPLES_KEY,
                              FINE_TUNE_CHECKPOINT_TYPE_PROPERTY, LABEL_MAP_KEY, MAX_QUANTIZATION_DROP_PROPERTY,
                              MAX_REGRESSION_PROPERTY, METRIC_PROPERTY, METRIC_VALUE_PROPERTY, MIN_MAP_PROPERTY,
                              MODEL_BLESSING_KEY, MODEL_KEY, PIPELINE_CONFIG_KEY, QUANTIZATION_DROP_PROPERTY,
                              TFLITE_VARIANTS_PROPERTY)
from components.evaluator.coco_metrics import METRIC_NAMES, PER_CATEGORY_PREFIX
from pipelines.metadata.run_summary import tflite_metrics

_IMPORTER_SUFFIX = "_importer"
# TFX's own ExampleGen fingerprint line, then the ones detflow's driver adds (components/example_gen/driver.py).
_FINGERPRINT_PARTS = ("annotations ", "images ", "label_map ")


def audit(lineage) -> dict:
    """The chain upstream of `lineage.start` (a `pipelines.lineage.Lineage`) as a dict of sections.

    Only the sections the graph holds are there; a downstream lineage gives {}.
    """
    if lineage.direction != "upstream":
        return {}
    start = lineage.artifacts[lineage.start]
    found: dict = {"run": _run(lineage, _producer(lineage, lineage.start))}
    model = blessing = evaluator = None
    if start["type"] == "PushedModel":
        found["pushed_model"] = _pushed(start)
        pusher = _producer(lineage, start["id"])
        model = _linked(lineage, pusher, "input", MODEL_KEY)
        blessing = _linked(lineage, pusher, "input", MODEL_BLESSING_KEY)
    elif start["type"] in ("ModelBlessing", "ModelEvaluation"):
        evaluator = _producer(lineage, start["id"])
    elif start["type"] == "Model":
        model = start["id"]
    if blessing is not None:
        evaluator = _producer(lineage, blessing)
    if evaluator is not None:
        found.update(_evaluation_sections(lineage, evaluator))
        model = model or _linked(lineage, evaluator, "input", MODEL_KEY)
    if model is not None:
        found.update(_training_sections(lineage, model, found["run"]))
    examples = found.get("examples", {}).get("id") or (start["id"] if start["type"] == "Examples" else None)
    if examples is not None:
        found.update(_data_sections(lineage, examples))
    found["code_version"] = code_versions(lineage, _chain_executions(lineage, found))
    return found


def _chain_executions(lineage, found: dict) -> list:
    """The executions that made the chain's artifacts (not those of earlier runs' models)."""
    made = [found.get(name, {}).get("id") for name in ("pushed_model", "blessing", "model", "examples")]
    made.append(found.get("label_map", {}).get("validated_id"))
    return sorted({x for x in (_producer(lineage, a) for a in made if a is not None) if x is not None})


def _producer(lineage, artifact_id: Optional[int]) -> Optional[int]:
    """The execution (not a cache hit) that made an artifact, or None."""
    made = [x for a, x, kind, _ in lineage.events if a == artifact_id and kind == "output"]
    return min(made) if made else None


def _linked(lineage, execution_id: Optional[int], kind: str, key: str) -> Optional[int]:
    """The artifact an execution read (`kind` 'input') or made ('output') under event key `key`, or None."""
    found = [a for a, x, k, event_key in lineage.events if x == execution_id and k == kind and event_key == key]
    return found[0] if found else None


def _run(lineage, execution_id: Optional[int]) -> str:
    return lineage.executions[execution_id]["run"] if execution_id in lineage.executions else ""


def _node(lineage, execution_id: Optional[int]) -> str:
    return lineage.executions[execution_id]["node"] if execution_id in lineage.executions else ""


def _pushed(a: dict) -> dict:
    p = a["properties"]
    return {"id": a["id"], "destination": p.get("pushed_destination"), "version": p.get("pushed_version"),
            "pushed": p.get("pushed") == 1,
            "tflite_files": [f for f in str(p.get("tflite_files", "")).split(",") if f]}


def _evaluation_sections(lineage, evaluator: int) -> dict:
    """blessing, evaluation (with its metrics) and baseline model of one Evaluator execution."""
    sections = {}
    blessing = _linked(lineage, evaluator, "output", BLESSING_KEY)
    if blessing is not None:
        p = lineage.artifacts[blessing]["properties"]
        sections["blessing"] = {"id": blessing, "blessed": p.get(BLESSED_PROPERTY) == 1,
                                "message": p.get(BLESSING_MESSAGE_PROPERTY, ""), "metric": p.get(METRIC_PROPERTY),
                                "metric_value": p.get(METRIC_VALUE_PROPERTY), "min_map": p.get(MIN_MAP_PROPERTY),
                                "max_regression": p.get(MAX_REGRESSION_PROPERTY),
                                "max_quantization_drop": p.get(MAX_QUANTIZATION_DROP_PROPERTY),
                                "quantization_drop": p.get(QUANTIZATION_DROP_PROPERTY),
                                "champion_metric_value": p.get(CHAMPION_METRIC_VALUE_PROPERTY)}
    evaluation = _linked(lineage, evaluator, "output", EVALUATION_KEY)
    if evaluation is not None:
        a = lineage.artifacts[evaluation]
        metrics = a.get("metrics", {})
        sections["evaluation"] = {
            "id": evaluation, "uri": a["uri"], "eval_split": a["properties"].get("eval_split"),
            "num_images": a["properties"].get("num_images"),
            "metrics": {name: metrics[name] for name in METRIC_NAMES if name in metrics},
            "keypoint_metrics": {k: v for k, v in sorted(metrics.items()) if k.startswith("Keypoints_")},
            "per_category": {k[len(PER_CATEGORY_PREFIX):]: v for k, v in sorted(metrics.items())
                             if k.startswith(PER_CATEGORY_PREFIX)},
            "tflite": tflite_metrics(a["properties"])}
    baseline = _linked(lineage, evaluator, "input", BASELINE_MODEL_KEY)
    if baseline is not None:
        sections["baseline_model"] = _model_ref(lineage, baseline)
    champion = _linked(lineage, evaluator, "input", CHAMPION_MODEL_KEY)
    if champion is not None:
        a = lineage.artifacts[champion]
        sections["champion_model"] = {"id": champion, "uri": a["uri"], "sha256": a["properties"].get("sha256", ""),
                                      "metric_value": (sections.get("blessing") or {}).get("champion_metric_value")}
    return sections


def _model_ref(lineage, model: int) -> dict:
    """A model named by id, URI, the node and run that made it, and the TFLite files it carries."""
    producer = _producer(lineage, model)
    variants = lineage.artifacts[model]["properties"].get(TFLITE_VARIANTS_PROPERTY)
    return {"id": model, "uri": lineage.artifacts[model]["uri"], "node": _node(lineage, producer),
            "run": _run(lineage, producer), "tflite": json.loads(variants) if variants else {}}


def _training_sections(lineage, model: int, start_run: str) -> dict:
    """model, examples, pipeline.config, label map and fine-tune checkpoint of a trained model."""
    sections = {"model": _model_ref(lineage, model)}
    trainer = _producer(lineage, model)
    if trainer is None or _node(lineage, trainer).endswith(_IMPORTER_SUFFIX):
        return sections
    examples = _linked(lineage, trainer, "input", EXAMPLES_KEY)
    if examples is not None:
        sections["examples"] = {"id": examples}
    config = _linked(lineage, trainer, "input", PIPELINE_CONFIG_KEY)
    if config is not None:
        sections["pipeline_config"] = _imported_file(lineage, config)
    label_map = _linked(lineage, trainer, "input", LABEL_MAP_KEY)
    if label_map is not None:
        sections["label_map"] = _label_map(lineage, label_map)
    base = _linked(lineage, trainer, "input", BASE_MODEL_KEY)
    if base is not None:
        sections["fine_tune_checkpoint"] = _checkpoint(lineage, base, lineage.artifacts[model], start_run)
    return sections


def _imported_file(lineage, artifact_id: int) -> dict:
    a = lineage.artifacts[artifact_id]
    return {"id": artifact_id, "sha256": a["properties"].get("sha256"), "uri": a["uri"]}


def _label_map(lineage, validated: int) -> dict:
    """The label map the Trainer read: the validator's output and the imported file it checked."""
    a = lineage.artifacts[validated]
    if a["type"] != "detflow.ValidatedLabelMap":
        return _imported_file(lineage, validated)
    section = {"validated_id": validated, "content_hash": a["properties"].get("content_hash"),
               "num_classes": a["properties"].get("num_classes")}
    imported = _linked(lineage, _producer(lineage, validated), "input", LABEL_MAP_KEY)
    if imported is not None:
        section.update(_imported_file(lineage, imported))
    return section


def _checkpoint(lineage, base: int, model: dict, start_run: str) -> dict:
    """The fine-tune checkpoint: imported (URI, sha256) or a model an earlier run trained."""
    a = lineage.artifacts[base]
    section = dict(_model_ref(lineage, base), sha256=a["properties"].get("sha256"),
                   restored_from=model["properties"].get(BASE_CHECKPOINT_PROPERTY),
                   fine_tune_checkpoint_type=model["properties"].get(FINE_TUNE_CHECKPOINT_TYPE_PROPERTY))
    section["imported"] = section["node"].endswith(_IMPORTER_SUFFIX)
    section["earlier_run"] = (section["run"] if not section["imported"] and section["run"] != start_run
                              else None)
    return section


def _data_sections(lineage, examples: int) -> dict:
    """examples (span, input fingerprint, counts) and the data location the ExampleGen read."""
    p = lineage.artifacts[examples]["properties"]
    fingerprint = str(p.get("input_fingerprint", ""))
    section = {"id": examples, "span": p.get("span"), "version": p.get("version"),
               "input_fingerprint": fingerprint,
               "images": {k[len("images_"):]: v for k, v in p.items() if k.startswith("images_")},
               "boxes": {k[len("boxes_"):]: v for k, v in p.items() if k.startswith("boxes_")},
               "skipped_images": p.get("skipped_images"), "dropped_boxes": p.get("dropped_boxes")}
    data = _fingerprinted_paths(fingerprint)
    producer = _producer(lineage, examples)
    if producer is not None:
        shown = lineage.executions[producer]["properties"]
        data["input_base"] = shown.get("input_base")
        data.update(_example_gen_config(shown.get("custom_config")))
    return {"examples": section, "data": data}


def _fingerprinted_paths(fingerprint: str) -> dict:
    """The resolved annotations and images paths (and file counts) the ExampleGen's driver fingerprinted."""
    found = {}
    for line in fingerprint.splitlines():
        for part in _FINGERPRINT_PARTS:
            if line.startswith(part) and ":files=" in line:
                path, stats = line[len(part):].rsplit(":files=", 1)
                name = part.strip()
                found[name] = path
                found[f"{name}_files"] = int(stats.split(",", 1)[0])
    return found


def _example_gen_config(custom_config) -> dict:
    """format and images setting from the ImageExampleGen's CustomConfig JSON."""
    try:
        value = json.loads(custom_config or "{}").get("custom_config", {}).get("value", {})
    except (ValueError, AttributeError):
        return {}
    found = {"format": value.get("format"), "images_setting": value.get("images")}
    return {k: v for k, v in found.items() if v is not None}


def code_versions(lineage, execution_ids: list) -> dict:
    """node -> detflow code version of the given executions (those that record one)."""
    versions = {}
    for x in execution_ids:
        e = lineage.executions[x]
        p = e["properties"]
        version = p.get(CODE_VERSION_KEY)
        if version:
            versions[e["node"]] = version
    return versions
