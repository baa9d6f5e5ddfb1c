"""Executor of the detflow Evaluator: reads artifacts, calls the library, writes artifacts."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.evaluator.coco_metrics import PER_CATEGORY_PREFIX, check_metric_name
from components.evaluator.parameters import EvaluatorParameters
from components.names import (BASELINE_MODEL_KEY, BLESSING_KEY, CHAMPION_MODEL_KEY, EVALUATION_KEY, EXAMPLES_KEY,
                              LABEL_MAP_KEY, METRICS_FILE, MODEL_KEY)
from schemas import model_layout

BLESSED_FILE, NOT_BLESSED_FILE = "BLESSED", "NOT_BLESSED"  # as TFX's Evaluator names them
TFLITE_PREFIX = "tflite_"


def _judged_metrics(result) -> dict[str, float]:
    """The 12 metrics plus per-category APs under their OD API names."""
    return {**result.metrics, **{PER_CATEGORY_PREFIX + k: v for k, v in result.per_category.items()}}


class Executor(base_executor.BaseExecutor):
    """Evaluates candidate and baseline on the eval split; writes evaluation and blessing."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Runs the evaluation; see `components.evaluator.component.Evaluator`."""
        from components.evaluator import model_eval, report
        from components.evaluator.blessing import judge, metric_drop

        parameters = EvaluatorParameters.from_exec_properties(exec_properties)
        metric, min_map, max_regression = parameters.metric, parameters.min_map, parameters.max_regression
        check_metric_name(metric)
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        baseline = (input_dict.get(BASELINE_MODEL_KEY) or [None])[0]
        champion = (input_dict.get(CHAMPION_MODEL_KEY) or [None])[0]
        label_maps = input_dict.get(LABEL_MAP_KEY) or []
        evaluation = artifact_utils.get_single_instance(output_dict[EVALUATION_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])

        exports = {"candidate": path_utils.serving_model_path(model.uri)}
        if baseline is not None:
            exports["baseline"] = path_utils.serving_model_path(baseline.uri)
        if champion is not None:
            exports["champion"] = champion.uri     # any model the runner reads, as imported
        variants = tflite_variants(model.uri)
        exports.update({TFLITE_PREFIX + mode: path for mode, path in variants.items()})
        label_map_path = model_eval.find_label_map(exports["candidate"], label_maps[0].uri if label_maps else None)
        categories = model_eval.read_label_map(label_map_path)
        files = model_eval.split_files(examples.uri, parameters.eval_split)
        accumulators, drawn = model_eval.evaluate_exports(
            files, exports, categories, batch_size=parameters.batch_size,
            keep_images=parameters.num_images_drawn)
        results = {name: acc.result() for name, acc in accumulators.items()}
        for name, acc in accumulators.items():
            if acc.dropped_detections:
                logging.info("Evaluator: %d detection(s) of the %s model had a class id the label map lacks "
                             "(ids %s); left out, as the OD API does", acc.dropped_detections, name,
                             sorted(categories))
        candidate, base = results["candidate"], results.get("baseline")
        judged = {name: _judged_metrics(result) for name, result in results.items()}
        max_drop = parameters.max_quantization_drop
        health = candidate_health(accumulators["candidate"], model.uri)
        logging.info("Evaluator: %s", health.line())
        judgement = judge(judged["candidate"], judged.get("baseline"), min_map, max_regression, metric,
                          quantized_metrics=judged.get(TFLITE_PREFIX + "int8"),
                          max_quantization_drop=max_drop, health=health,
                          champion_metrics=judged.get("champion"))
        logging.info("Evaluator: %s — %s", "BLESSED" if judgement.blessed else "NOT BLESSED", judgement.message)

        document = {
            "metric": metric,
            "thresholds": {"min_map": min_map, "max_regression": max_regression,
                           "max_quantization_drop": max_drop},
            "eval_split": parameters.eval_split,
            "num_images": len(accumulators["candidate"].images),
            "label_map": label_map_path,
            "metrics": candidate.metrics,
            "per_category": candidate.per_category,
            "candidate": {"model_id": model.id, "model_uri": model.uri},
            "baseline": None if base is None else {
                "model_id": baseline.id, "model_uri": baseline.uri,
                "metrics": base.metrics, "per_category": base.per_category},
            "champion": None if champion is None else {
                "model_id": champion.id, "model_uri": champion.uri, "metrics": results["champion"].metrics,
                "per_category": results["champion"].per_category},
            "tflite": {mode: {"file": os.path.relpath(path, model.uri),
                              "metrics": results[TFLITE_PREFIX + mode].metrics,
                              "per_category": results[TFLITE_PREFIX + mode].per_category,
                              "drop": metric_drop(judged["candidate"], judged[TFLITE_PREFIX + mode], metric)}
                       for mode, path in variants.items()},
            "health": health.to_dict(),
            "judgement": {"blessed": judgement.blessed, "reasons": judgement.reasons},
        }
        text = json.dumps(document, indent=2)
        for artifact in (evaluation, blessing):
            fileio.makedirs(artifact.uri)
            with fileio.open(os.path.join(artifact.uri, METRICS_FILE), "w") as f:
                f.write(text)
        report.write_plots(evaluation.uri, candidate, accumulators["candidate"], categories, drawn)
        with fileio.open(os.path.join(blessing.uri, BLESSED_FILE if judgement.blessed else NOT_BLESSED_FILE),
                         "w") as f:
            f.write("")
        _set_properties(evaluation, blessing, document, judgement, model, baseline)


def candidate_health(accumulator, model_uri: str):
    """The candidate's health: flat or not on the eval split (its detections), and what its training run found.

    The Trainer's train_result.json in the Model artifact adds its loss trend and the likely causes it
    named; a model without one (imported, or of an older detflow) is judged on its outputs alone.
    """
    from components.names import TRAIN_RESULT_FILE
    from detection.serving import model_health

    trained = {}
    path = os.path.join(model_uri, TRAIN_RESULT_FILE)
    if fileio.exists(path):
        with fileio.open(path) as f:
            trained = json.load(f).get("health") or {}
    health = model_health.judge(((r.det_boxes, r.det_scores) for r in accumulator.images))
    health.first_loss, health.last_loss = trained.get("first_loss"), trained.get("last_loss")
    health.loss_rose = bool(trained.get("loss_rose"))
    if not health.healthy:
        health.causes = list(trained.get("causes") or [])
    return health


def tflite_variants(model_uri: str) -> dict[str, str]:
    """{quantize mode: path} of the .tflite files a Model artifact carries under Format-TFLite."""
    folder = model_layout.tflite_dir(model_uri)
    if not fileio.isdir(folder):
        return {}
    modes = {model_layout.tflite_mode(name): name for name in fileio.listdir(folder)}
    modes.pop(None, None)       # any other file
    return {mode: os.path.join(folder, name) for mode, name in sorted(modes.items())}


def _set_properties(evaluation, blessing, document: dict, judgement, model, baseline) -> None:
    """Records thresholds, headline metrics and the verdict in ML Metadata.

    `blessed` and `current_model_id` are what the standard Pusher and
    LatestBlessedModelStrategy read (tfx.components.evaluator.constants).
    """
    metric = document["metric"]
    value = _value(document, metric)
    for artifact in (evaluation, blessing):
        artifact.set_int_custom_property("blessed", int(judgement.blessed))
        artifact.set_float_custom_property("min_map", document["thresholds"]["min_map"])
        artifact.set_float_custom_property("max_regression", document["thresholds"]["max_regression"])
        artifact.set_string_custom_property("metric", metric)
        artifact.set_float_custom_property("metric_value", float(value))
        artifact.set_string_custom_property("blessing_message", judgement.message)
        artifact.set_int_custom_property("healthy", int(document["health"]["healthy"]))
        if baseline is not None:
            artifact.set_float_custom_property("baseline_metric_value", _value(document["baseline"], metric))
        if document["champion"] is not None:
            artifact.set_float_custom_property("champion_metric_value", _value(document["champion"], metric))
    for name, number in document["metrics"].items():
        evaluation.set_float_custom_property(name, float(number))
    for name, number in document["per_category"].items():
        evaluation.set_float_custom_property(PER_CATEGORY_PREFIX + name, float(number))
    for mode, found in document["tflite"].items():
        for name, number in found["metrics"].items():
            evaluation.set_float_custom_property(f"{TFLITE_PREFIX}{mode}:{name}", float(number))
        evaluation.set_float_custom_property(f"{TFLITE_PREFIX}{mode}_drop", found["drop"])
        if mode == "int8":
            blessing.set_float_custom_property("quantization_drop", found["drop"])
    if document["thresholds"]["max_quantization_drop"] is not None:
        for artifact in (evaluation, blessing):
            artifact.set_float_custom_property("max_quantization_drop",
                                               document["thresholds"]["max_quantization_drop"])
    evaluation.set_int_custom_property("num_images", int(document["num_images"]))
    evaluation.set_string_custom_property("eval_split", document["eval_split"])
    blessing.set_int_custom_property("current_model_id", model.id)
    blessing.set_string_custom_property("current_model", model.uri)
    if baseline is not None:
        blessing.set_int_custom_property("baseline_model_id", baseline.id)
        blessing.set_string_custom_property("baseline_model", baseline.uri)
    if document["champion"] is not None:
        blessing.set_int_custom_property("champion_model_id", document["champion"]["model_id"])
        blessing.set_string_custom_property("champion_model", document["champion"]["model_uri"])


def _value(section: dict, metric: str) -> float:
    if metric in section["metrics"]:
        return float(section["metrics"][metric])
    return float(section["per_category"].get(metric[len(PER_CATEGORY_PREFIX):], -1.0))
