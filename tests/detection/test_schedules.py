"""Learning-rate schedules against values worked out by hand from the OD API formulas."""
import math

import pytest

from detection.training import schedules


def _at(schedule, steps):
    return [float(schedule(s)) for s in steps]


def test_constant():
    assert _at(schedules.ConstantLearningRate(0.04), [0, 10, 10_000]) == pytest.approx([0.04] * 3)


def test_exponential_decay_staircase_with_linear_burnin_and_floor():
    # base 0.1, decay 0.5 every 10 steps after a 5-step burn-in ramping from 0.02;
    # floor 0.02.
    s = schedules.ExponentialDecayWithBurnin(0.1, 10, 0.5, burnin_learning_rate=0.02,
                                             burnin_steps=5, min_learning_rate=0.02)
    # burn-in: 0.02 + (0.1-0.02)/5 * step
    assert _at(s, [0, 2, 4]) == pytest.approx([0.02, 0.052, 0.084])
    # step 5: exponent floor(0/10)=0 -> 0.1; step 14: floor(9/10)=0; step 15: 1 -> 0.05;
    # step 25: 2 -> 0.025; step 35: 3 -> 0.0125 clipped to 0.02.
    assert _at(s, [5, 14, 15, 25, 35]) == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.02])


def test_exponential_decay_smooth_and_flat_burnin():
    s = schedules.ExponentialDecayWithBurnin(0.1, 10, 0.5, burnin_steps=4, staircase=False)
    assert _at(s, [0, 3]) == pytest.approx([0.1, 0.1])  # burn-in rate 0 means the base rate
    assert _at(s, [9]) == pytest.approx([0.1 * 0.5 ** 0.5])  # (9-4)/10 = 0.5


def test_manual_step_without_and_with_warmup():
    s = schedules.ManualStepping([5, 10], [0.1, 0.01, 0.001])
    assert _at(s, [0, 4, 5, 9, 10, 100]) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    w = schedules.ManualStepping([4, 10], [0.0, 0.08, 0.008], warmup=True)
    # ramp 0 -> 0.08 over 4 steps: 0, 0.02, 0.04, 0.06, then 0.08 from step 4.
    assert _at(w, [0, 1, 3, 4, 9, 10]) == pytest.approx([0.0, 0.02, 0.06, 0.08, 0.08, 0.008])


def test_manual_step_rejects_bad_boundaries():
    with pytest.raises(ValueError):
        schedules.ManualStepping([0, 5], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        schedules.ManualStepping([5, 5], [0.1, 0.2, 0.3])


def test_cosine_with_warmup_and_hold():
    s = schedules.CosineDecayWithWarmup(0.04, total_steps=100, warmup_learning_rate=0.01,
                                        warmup_steps=10, hold_base_rate_steps=20)
    # warm-up: 0.01 + 0.003 * step
    assert _at(s, [0, 5]) == pytest.approx([0.01, 0.025])
    # hold: base until step 30 inclusive
    assert _at(s, [10, 30]) == pytest.approx([0.04, 0.04])
    # decay over 70 steps: 0.5*0.04*(1+cos(pi*(step-30)/70))
    expected = [0.5 * 0.04 * (1 + math.cos(math.pi * (st - 30) / 70)) for st in (47, 65, 100)]
    assert _at(s, [47, 65, 100]) == pytest.approx(expected, abs=1e-7)
    assert _at(s, [65]) == pytest.approx([0.02])
    assert _at(s, [101, 1000]) == [0.0, 0.0]


def test_cosine_plain_and_rejections():
    s = schedules.CosineDecayWithWarmup(0.1, total_steps=50)
    assert _at(s, [0, 25, 50]) == pytest.approx([0.1, 0.05, 0.0], abs=1e-7)
    with pytest.raises(ValueError):
        schedules.CosineDecayWithWarmup(0.1, total_steps=5, warmup_steps=10)
    with pytest.raises(ValueError):
        schedules.CosineDecayWithWarmup(0.01, total_steps=50, warmup_learning_rate=0.1)
