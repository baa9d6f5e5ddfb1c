"""Executor of the detflow Evaluator: reads artifacts, calls the library, writes artifacts."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.names import (BASELINE_METRIC_VALUE_PROPERTY, BASELINE_MODEL_ID_PROPERTY, BASELINE_MODEL_KEY,
                              BASELINE_MODEL_PROPERTY, BLESSED_PROPERTY, BLESSING_KEY, BLESSING_MESSAGE_PROPERTY,
                              CHAMPION_METRIC_VALUE_PROPERTY, CHAMPION_MODEL_ID_PROPERTY, CHAMPION_MODEL_KEY,
                              CHAMPION_MODEL_PROPERTY, CURRENT_MODEL_ID_PROPERTY, CURRENT_MODEL_PROPERTY,
                              EVALUATION_KEY, EVAL_SPLIT_PROPERTY, EXAMPLES_KEY, HEALTHY_PROPERTY, LABEL_MAP_KEY,
                              MAX_QUANTIZATION_DROP_PROPERTY, MAX_REGRESSION_PROPERTY, METRICS_FILE, METRIC_PROPERTY,
                              METRIC_VALUE_PROPERTY, MIN_MAP_PROPERTY, MODEL_KEY, NUM_IMAGES_PROPERTY,
                              QUANTIZATION_DROP_PROPERTY)
from components.evaluator.coco_metrics import PER_CATEGORY_PREFIX, check_metric_name
from components.evaluator.parameters import EvaluatorParameters
from schemas import model_layout

BLESSED_FILE, NOT_BLESSED_FILE = "BLESSED", "NOT_BLESSED"  # as TFX's Evaluator names them
TFLITE_PREFIX = "tflite_"


def _judged_metrics(result) -> dict[str, float]:
    """The 12 metrics, the keypoint metrics (when any) and the per-category APs under their OD API names."""
    return {**result.metrics, **{PER_CATEGORY_PREFIX + k: v for k, v in result.per_category.items()}}


@dataclasses.dataclass
class _Scored:
    """What the models scored on the eval split: per model name its accumulator and result."""

    label_map_path: str
    categories: dict
    accumulators: dict
    results: dict
    drawn: list
    variants: dict           # TFLite quantize mode -> file


class Executor(base_executor.BaseExecutor):
    """Evaluates candidate and baseline on the eval split; writes evaluation and blessing."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        """Runs the evaluation; see `components.evaluator.component.Evaluator`."""
        from components.evaluator import report
        from components.evaluator.blessing import Scores, judge

        parameters = EvaluatorParameters.from_exec_properties(exec_properties)
        check_metric_name(parameters.metric)
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        models = {"candidate": model, "baseline": (input_dict.get(BASELINE_MODEL_KEY) or [None])[0],
                  "champion": (input_dict.get(CHAMPION_MODEL_KEY) or [None])[0]}
        evaluation = artifact_utils.get_single_instance(output_dict[EVALUATION_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])
        scored = _score(artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY]), models,
                        input_dict.get(LABEL_MAP_KEY) or [], parameters)
        judged = {name: _judged_metrics(result) for name, result in scored.results.items()}
        health = candidate_health(scored.accumulators["candidate"], model.uri)
        logging.info("Evaluator: %s", health.line())
        scores = Scores(judged["candidate"], judged.get("baseline"), quantized=judged.get(TFLITE_PREFIX + "int8"),
                        champion=judged.get("champion"))
        judgement = judge(scores, parameters.min_map, parameters.max_regression, parameters.metric,
                          max_quantization_drop=parameters.max_quantization_drop, health=health)
        logging.info("Evaluator: %s — %s", "BLESSED" if judgement.blessed else "NOT BLESSED", judgement.message)
        document = _document(parameters, scored, models, {"health": health.to_dict(), "judgement": {
            "blessed": judgement.blessed, "reasons": judgement.reasons}})
        text = json.dumps(document, indent=2)
        for artifact in (evaluation, blessing):
            fileio.makedirs(artifact.uri)
            with fileio.open(os.path.join(artifact.uri, METRICS_FILE), "w") as f:
                f.write(text)
        report.write_plots(evaluation.uri, scored.results["candidate"], scored.accumulators["candidate"],
                           scored.categories, scored.drawn)
        report.write_summary(evaluation.uri, document)
        with fileio.open(os.path.join(blessing.uri, BLESSED_FILE if judgement.blessed else NOT_BLESSED_FILE),
                         "w") as f:
            f.write("")
        _set_properties(evaluation, blessing, document, judgement, model, models["baseline"])


def _score(examples: types.Artifact, models: dict, label_maps: list, parameters: EvaluatorParameters) -> _Scored:
    """Runs every model (candidate, baseline, champion, the candidate's TFLite variants) on the eval split."""
    from components.evaluator import model_eval

    exports = {"candidate": path_utils.serving_model_path(models["candidate"].uri)}
    if models["baseline"] is not None:
        exports["baseline"] = path_utils.serving_model_path(models["baseline"].uri)
    if models["champion"] is not None:
        exports["champion"] = models["champion"].uri     # any model the runner reads, as imported
    variants = tflite_variants(models["candidate"].uri)
    exports.update({TFLITE_PREFIX + mode: path for mode, path in variants.items()})
    label_map_path = model_eval.find_label_map(exports["candidate"], label_maps[0].uri if label_maps else None)
    categories = model_eval.read_label_map(label_map_path)
    detectors = {name: model_eval.load_detector(path) for name, path in exports.items()}
    keypoints = _keypoint_setup(detectors["candidate"], label_map_path, parameters.metric)
    accumulators, drawn = model_eval.evaluate_exports(
        model_eval.split_files(examples.uri, parameters.eval_split), exports, categories,
        batch_size=parameters.batch_size, keep_images=parameters.num_images_drawn, detectors=detectors,
        keypoints=keypoints)
    for name, acc in accumulators.items():
        if acc.dropped_detections:
            logging.info("Evaluator: %d detection(s) of the %s model had a class id the label map lacks "
                         "(ids %s); left out, as the OD API does", acc.dropped_detections, name, sorted(categories))
    return _Scored(label_map_path, categories, accumulators, {n: a.result() for n, a in accumulators.items()},
                   drawn, variants)


def _keypoint_setup(candidate, label_map_path: str, metric: str):
    """The keypoint metrics the candidate's pipeline.config asks for (None: none), once a keypoint blessing
    metric is known to be among them (`keypoint_metrics.check_blessing_metric`)."""
    from components.evaluator import model_eval
    from components.evaluator.keypoint_metrics import check_blessing_metric

    setup = model_eval.keypoint_setup(candidate, label_map_path)
    gives = model_eval.has_keypoints(candidate)
    check_blessing_metric(metric, setup, gives, candidate.path)
    if setup is not None and not gives:
        logging.warning("Evaluator: the candidate's pipeline.config asks for keypoint metrics, but the model gives "
                        "no detection_keypoints: box metrics only")
    elif setup is not None:
        logging.info("Evaluator: keypoint metrics of %s (K=%d keypoints per object in the records)",
                     ", ".join(c.name for c in setup.classes), setup.num_keypoints)
    return setup


def _document(parameters: EvaluatorParameters, scored: _Scored, models: dict, verdict: dict) -> dict:
    """metrics.json: thresholds, every model's metrics, the TFLite drops, the candidate's health and the verdict."""
    from components.evaluator.blessing import metric_drop

    results, metric, model = scored.results, parameters.metric, models["candidate"]

    def section(name: str) -> dict | None:
        artifact = models[name]
        return None if artifact is None else {
            "model_id": artifact.id, "model_uri": artifact.uri, "metrics": results[name].metrics,
            "per_category": results[name].per_category}

    candidate = _judged_metrics(results["candidate"])
    return {
        "metric": metric,
        "thresholds": {"min_map": parameters.min_map, "max_regression": parameters.max_regression,
                       "max_quantization_drop": parameters.max_quantization_drop},
        "eval_split": parameters.eval_split,
        "num_images": len(scored.accumulators["candidate"].images),
        "label_map": scored.label_map_path,
        "metrics": results["candidate"].metrics,
        "per_category": results["candidate"].per_category,
        "candidate": {"model_id": model.id, "model_uri": model.uri},
        "baseline": section("baseline"),
        "champion": section("champion"),
        "tflite": {mode: {"file": os.path.relpath(path, model.uri),
                          "metrics": results[TFLITE_PREFIX + mode].metrics,
                          "per_category": results[TFLITE_PREFIX + mode].per_category,
                          "drop": metric_drop(candidate, _judged_metrics(results[TFLITE_PREFIX + mode]), metric)}
                   for mode, path in scored.variants.items()},
        **verdict,
    }


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
        artifact.set_int_custom_property(BLESSED_PROPERTY, int(judgement.blessed))
        artifact.set_float_custom_property(MIN_MAP_PROPERTY, document["thresholds"]["min_map"])
        artifact.set_float_custom_property(MAX_REGRESSION_PROPERTY, document["thresholds"]["max_regression"])
        artifact.set_string_custom_property(METRIC_PROPERTY, metric)
        artifact.set_float_custom_property(METRIC_VALUE_PROPERTY, float(value))
        artifact.set_string_custom_property(BLESSING_MESSAGE_PROPERTY, judgement.message)
        artifact.set_int_custom_property(HEALTHY_PROPERTY, int(document["health"]["healthy"]))
        if baseline is not None:
            artifact.set_float_custom_property(BASELINE_METRIC_VALUE_PROPERTY, _value(document["baseline"], metric))
        if document["champion"] is not None:
            artifact.set_float_custom_property(CHAMPION_METRIC_VALUE_PROPERTY, _value(document["champion"], metric))
    for name, number in document["metrics"].items():
        evaluation.set_float_custom_property(name, float(number))
    for name, number in document["per_category"].items():
        evaluation.set_float_custom_property(PER_CATEGORY_PREFIX + name, float(number))
    for mode, found in document["tflite"].items():
        for name, number in found["metrics"].items():
            evaluation.set_float_custom_property(f"{TFLITE_PREFIX}{mode}:{name}", float(number))
        evaluation.set_float_custom_property(f"{TFLITE_PREFIX}{mode}_drop", found["drop"])
        if mode == "int8":
            blessing.set_float_custom_property(QUANTIZATION_DROP_PROPERTY, found["drop"])
    if document["thresholds"]["max_quantization_drop"] is not None:
        for artifact in (evaluation, blessing):
            artifact.set_float_custom_property(MAX_QUANTIZATION_DROP_PROPERTY,
                                               document["thresholds"]["max_quantization_drop"])
    evaluation.set_int_custom_property(NUM_IMAGES_PROPERTY, int(document["num_images"]))
    evaluation.set_string_custom_property(EVAL_SPLIT_PROPERTY, document["eval_split"])
    blessing.set_int_custom_property(CURRENT_MODEL_ID_PROPERTY, model.id)
    blessing.set_string_custom_property(CURRENT_MODEL_PROPERTY, model.uri)
    if baseline is not None:
        blessing.set_int_custom_property(BASELINE_MODEL_ID_PROPERTY, baseline.id)
        blessing.set_string_custom_property(BASELINE_MODEL_PROPERTY, baseline.uri)
    if document["champion"] is not None:
        blessing.set_int_custom_property(CHAMPION_MODEL_ID_PROPERTY, document["champion"]["model_id"])
        blessing.set_string_custom_property(CHAMPION_MODEL_PROPERTY, document["champion"]["model_uri"])


def _value(section: dict, metric: str) -> float:
    if metric in section["metrics"]:
        return float(section["metrics"][metric])
    return float(section["per_category"].get(metric[len(PER_CATEGORY_PREFIX):], -1.0))
