"""The learning-rate-vs-batch rule: `config check` names a rate scaled for a much larger batch."""
from __future__ import annotations

import pytest

from schemas import config_checks
from schemas.learning_rate_scale import learning_rate_note, peak_learning_rate
from schemas.pipeline_config import parse_pipeline_config_text

ZOO = "tests/data/configs/ssd_mobilenet_v2_fpnlite_320x320.config"


def _config(batch: int, base: str):
    with open(ZOO, encoding="utf-8") as f:
        text = f.read()
    text = text.replace("batch_size: 128", f"batch_size: {batch}").replace("learning_rate_base: .08",
                                                                          f"learning_rate_base: {base}")
    return parse_pipeline_config_text(text, "lr.config").proto


def test_the_zoo_rate_at_its_own_batch_and_4x_of_it_scaled_down_pass():
    assert peak_learning_rate(_config(128, ".08").train_config.optimizer) == pytest.approx(0.08)
    assert learning_rate_note(0.08, 128) is None
    assert learning_rate_note(0.02, 8) is None            # exactly 4x 0.005: the rule's edge, not above it


def test_the_zoo_rate_kept_at_batch_8_is_named_with_the_values_and_the_rule():
    proto = _config(8, ".08")
    _, warnings = config_checks.check(proto)
    [(path, message)] = [w for w in warnings if "learning rate" in w[1]]
    assert path == "train_config.optimizer.momentum_optimizer.learning_rate"
    assert "learning rate 0.08 at batch 8 is 16.0x" in message and "0.005 at batch 8" in message
    assert "warn above 4x" in message
