"""blessing.judge: value threshold, change threshold, the int8 drop, undefined metrics."""

import pytest

from components.evaluator.blessing import Scores, judge

MAP = "DetectionBoxes_Precision/mAP"


def test_first_run_is_judged_by_min_map_alone():
    ok = judge(Scores({MAP: 0.4}), min_map=0.3, max_regression=0.0)
    assert ok.blessed and "no baseline" in ok.message
    low = judge(Scores({MAP: 0.2}), min_map=0.3, max_regression=0.0)
    assert not low.blessed and "0.2000 < min_map 0.3000" in low.message


def test_change_threshold_against_baseline():
    assert judge(Scores({MAP: 0.48}, {MAP: 0.5}), min_map=0.1, max_regression=0.05).blessed
    regressed = judge(Scores({MAP: 0.40}, {MAP: 0.5}), min_map=0.1, max_regression=0.05)
    assert not regressed.blessed and "regressed by more than allowed" in regressed.message
    assert judge(Scores({MAP: 0.6}, {MAP: 0.5}), min_map=0.1, max_regression=0.0).blessed


def test_both_thresholds_must_pass():
    result = judge(Scores({MAP: 0.2}, {MAP: 0.1}), min_map=0.3, max_regression=0.0)
    assert not result.blessed and len(result.reasons) == 2


def test_undefined_metric_is_never_blessed():
    assert not judge(Scores({MAP: -1.0}), min_map=0.0, max_regression=0.0).blessed
    assert not judge(Scores({}), min_map=0.0, max_regression=0.0).blessed
    assert not judge(Scores({MAP: float("nan")}, {MAP: 0.5}), min_map=0.0, max_regression=1.0).blessed


def test_other_metric_can_be_judged():
    metric = "DetectionBoxes_Precision/mAP@.50IOU"
    assert judge(Scores({metric: 0.7, MAP: 0.1}), min_map=0.5, max_regression=0.0, metric=metric).blessed


def test_bad_thresholds_raise():
    with pytest.raises(ValueError, match="max_regression"):
        judge(Scores({MAP: 0.5}), min_map=0.1, max_regression=-0.1)
    with pytest.raises(ValueError, match="min_map"):
        judge(Scores({MAP: 0.5}), min_map=float("nan"), max_regression=0.0)


def test_the_int8_drop_is_judged_when_asked():
    good, int8 = {MAP: 0.50}, {MAP: 0.49}
    assert judge(Scores(good, quantized=int8), 0.3, 0.0, max_quantization_drop=0.02).blessed
    refused = judge(Scores(good, quantized=int8), 0.3, 0.0, max_quantization_drop=0.005)
    assert not refused.blessed and "quantization costs more than allowed" in refused.message
    assert "drop 0.0100" in refused.message
    assert judge(Scores(good, quantized=int8), 0.3, 0.0).blessed       # not asked: not judged
    missing = judge(Scores(good), 0.3, 0.0, max_quantization_drop=0.02)
    assert not missing.blessed and "no int8 TFLite model was evaluated" in missing.message
    undefined = judge(Scores(good, quantized={MAP: -1.0}), 0.3, 0.0, max_quantization_drop=0.02)
    assert not undefined.blessed and "undefined" in undefined.message
    with pytest.raises(ValueError, match="max_quantization_drop"):
        judge(Scores(good, quantized=int8), 0.3, 0.0, max_quantization_drop=float("nan"))
