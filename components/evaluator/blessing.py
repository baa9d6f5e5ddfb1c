"""Blessing: is a candidate model good enough to push? Pure logic, no TFX.

Two thresholds, as TFX's Evaluator has them: a value threshold (the metric must
reach `min_map`) and a change threshold against a baseline (it may drop by at
most `max_regression` below the baseline's value). Without a baseline — the
first run — only the value threshold applies.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Optional

from components.evaluator.coco_metrics import HEADLINE_METRIC


@dataclasses.dataclass(frozen=True)
class Judgement:
    """The verdict and a sentence per check that led to it."""

    blessed: bool
    reasons: list[str]

    @property
    def message(self) -> str:
        """The reasons as one line, for logs and ML Metadata."""
        return "; ".join(self.reasons)


@dataclasses.dataclass(frozen=True)
class Scores:
    """The metrics of each model the Evaluator scored on the same images (metric name → value).

    candidate: the model judged. baseline: the last blessed model, if any. quantized: the
    candidate's int8 TFLite variant, if evaluated. champion: an external model, if given.
    """

    candidate: Mapping[str, float]
    baseline: Optional[Mapping[str, float]] = None
    quantized: Optional[Mapping[str, float]] = None
    champion: Optional[Mapping[str, float]] = None


def judge(scores: Scores, min_map: float, max_regression: float, metric: str = HEADLINE_METRIC, *,
          max_quantization_drop: Optional[float] = None, health=None) -> Judgement:
    """Blesses the candidate when `metric` >= `min_map` and, given a baseline,
    `metric` >= baseline's `metric` - `max_regression`; with `max_quantization_drop`,
    also when the int8 model's `metric` (`scores.quantized`) is at most that below
    the candidate's (no int8 model evaluated fails the check). A `health`
    (serving.model_health.Health) that is not healthy — a collapsed model, a
    rising loss — refuses the blessing whatever the metrics. With a champion
    (an external model scored on the same images), the candidate must also
    reach the champion's `metric` - `max_regression`.

    A metric that is missing, NaN or -1 (COCO's "no ground truth") fails the
    check it is in, so a model is never blessed on an undefined number.
    Raises ValueError for a negative `max_regression` or a non-finite threshold.
    """
    if not math.isfinite(min_map):
        raise ValueError(f"min_map must be a finite number, got {min_map}")
    if not math.isfinite(max_regression) or max_regression < 0:
        raise ValueError(f"max_regression must be a finite number >= 0, got {max_regression}")
    reasons, blessed = [], True
    value = _defined(scores.candidate.get(metric))
    if value is None:
        blessed = False
        reasons.append(f"candidate {metric} is undefined ({scores.candidate.get(metric)!r})")
    elif value >= min_map:
        reasons.append(f"candidate {metric} {value:.4f} >= min_map {min_map:.4f}")
    else:
        blessed = False
        reasons.append(f"candidate {metric} {value:.4f} < min_map {min_map:.4f}")

    if health is not None and not health.healthy:
        blessed = False
        reasons.append(health.line())
    if max_quantization_drop is not None:
        ok, reason = _quantization_check(scores.candidate, scores.quantized, max_quantization_drop, metric)
        blessed, reasons = blessed and ok, reasons + [reason]
    if scores.champion is not None:
        ok, reason = _change_check(value, scores.champion, "champion", max_regression, metric)
        blessed, reasons = blessed and ok, reasons + [reason]
    if scores.baseline is None:
        reasons.append("no baseline model: judged by min_map alone" if scores.champion is None
                       else "no baseline model")
        return Judgement(blessed, reasons)
    ok, reason = _change_check(value, scores.baseline, "baseline", max_regression, metric)
    return Judgement(blessed and ok, reasons + [reason])


def _change_check(value: Optional[float], reference_metrics: Mapping[str, float], name: str, max_regression: float,
                  metric: str) -> tuple[bool, str]:
    """The change threshold against a reference model (the baseline, a champion); (passed, reason)."""
    reference = _defined(reference_metrics.get(metric))
    if reference is None:
        return True, f"{name} {metric} is undefined: change threshold not applied"
    if value is not None and value >= reference - max_regression:
        return True, (f"candidate {metric} {value:.4f} >= {name} {reference:.4f} - max_regression "
                      f"{max_regression:.4f}")
    shown = "undefined" if value is None else f"{value:.4f}"
    return False, (f"candidate {metric} {shown} < {name} {reference:.4f} - max_regression {max_regression:.4f} "
                   + ("(regressed by more than allowed)" if name == "baseline" else f"(worse than the {name})"))


def metric_drop(reference: Mapping[str, float], variant: Mapping[str, float], metric: str) -> float:
    """How far `metric` falls from `reference` to `variant` (metrics by name), as recorded.

    Values are taken as they are (-1 where COCO has no ground truth; a missing
    metric counts as -1): the Evaluator records this for every TFLite variant,
    and the quantization check judges it once both values are defined.
    """
    return float(reference.get(metric, -1.0)) - float(variant.get(metric, -1.0))


def _quantization_check(candidate_metrics: Mapping[str, float], quantized_metrics: Optional[Mapping[str, float]],
                        max_drop: float, metric: str) -> tuple[bool, str]:
    if not math.isfinite(max_drop) or max_drop < 0:
        raise ValueError(f"max_quantization_drop must be a finite number >= 0, got {max_drop}")
    if quantized_metrics is None:
        return False, "max_quantization_drop is set but no int8 TFLite model was evaluated"
    quantized = _defined(quantized_metrics.get(metric))
    if _defined(candidate_metrics.get(metric)) is None or quantized is None:
        return False, f"int8 {metric} is undefined: the quantization drop cannot be judged"
    drop = metric_drop(candidate_metrics, quantized_metrics, metric)
    if drop <= max_drop:
        return True, f"int8 {metric} {quantized:.4f}: drop {drop:.4f} <= max_quantization_drop {max_drop:.4f}"
    return False, (f"int8 {metric} {quantized:.4f}: drop {drop:.4f} > max_quantization_drop {max_drop:.4f} "
                   "(quantization costs more than allowed)")


def _defined(value) -> Optional[float]:
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value) or value == -1.0:
        return None
    return value
