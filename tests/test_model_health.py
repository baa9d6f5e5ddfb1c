"""`serving.model_health`: a flat model and a rising loss are found and said in one line."""
from __future__ import annotations

import numpy as np

from components.evaluator.blessing import Scores, judge
from detection.serving import model_health


def _same_everywhere(n=8):
    box = np.array([[0.1, 0.2, 0.5, 0.6]] * 3)
    return [(box, np.array([0.0381, 0.0379, 0.0377])) for _ in range(n)]


def _varied(n=8):
    rng = np.random.default_rng(0)
    return [(rng.uniform(0, 1, (5, 4)), rng.uniform(0, 1, 5)) for _ in range(n)]


def test_a_model_whose_outputs_do_not_depend_on_the_input_is_flat_and_named_with_its_cause():
    health = model_health.judge(_same_everywhere(), losses=[2.0] * 30 + [1.0] * 30,
                                causes=["batch-norm statistics not converged: ..."])
    assert health.flat and not health.loss_rose and not health.healthy
    line = health.line()
    assert line.startswith("collapsed model: its outputs do not depend on the input")
    assert "likely cause: batch-norm statistics not converged" in line and "\n" not in line


def test_a_varied_model_with_a_falling_loss_is_healthy_and_causes_are_not_kept():
    health = model_health.judge(_varied(), losses=list(np.linspace(3, 1, 100)), causes=["unused"])
    assert health.healthy and health.causes == []
    assert health.first_loss > health.last_loss
    assert "outputs depend on the input" in health.line()


def test_a_rising_loss_is_not_healthy_and_a_short_run_is_not_judged():
    rising = model_health.judge(_varied(), losses=list(np.linspace(1, 3, 100)))
    assert rising.loss_rose and not rising.healthy and "its loss rose" in rising.line()
    short = model_health.judge(_varied(), losses=[1.0, 5.0])
    assert short.first_loss is None and short.healthy
    one_image = model_health.judge(_varied(1))
    assert one_image.score_spread is None and one_image.healthy


def test_an_unhealthy_model_is_never_blessed_whatever_its_map():
    metrics = {"DetectionBoxes_Precision/mAP": 0.9}
    flat = model_health.judge(_same_everywhere())
    judgement = judge(Scores(metrics), min_map=0.0, max_regression=0.02, health=flat)
    assert not judgement.blessed and any(r.startswith("collapsed model") for r in judgement.reasons)
    assert judge(Scores(metrics), 0.0, 0.02, health=model_health.judge(_varied())).blessed


def test_tied_scores_are_flat_even_when_the_first_box_varies():
    """A collapsed head scores every anchor alike: which box comes first is an accident, the scores are not."""
    rng = np.random.default_rng(1)
    tied = [(rng.uniform(0, 1, (20, 4)), np.full(20, 0.0365) + rng.uniform(0, 2e-5, 20)) for _ in range(16)]
    health = model_health.judge(tied)
    assert health.box_spread > 0.1 and health.tie_span < 1e-4 and health.flat
    confident = [(rng.uniform(0, 1, (20, 4)), np.sort(rng.uniform(0.2, 0.999, 20))[::-1]) for _ in range(16)]
    assert not model_health.judge(confident).flat
