"""`detflow demo`, the README's main command, on a small sample: blessing gate, push and cache.

The demo's own size (1000 images, 1000 steps) is measured by `make demo`, not here.
"""

from __future__ import annotations

import os
import re

import pytest

from pipelines import cli

pytestmark = pytest.mark.e2e

SMALL = ["--num-images", "40", "--num-steps", "3"]


def _demo(workdir, capsys, *extra) -> tuple[int, str]:
    code = cli.main(["demo", "--workdir", str(workdir), *SMALL, *extra])
    return code, capsys.readouterr().out


def _states(text: str) -> dict:
    return dict(re.findall(r"^  (\S+)\s+(ran|cached|resolved|failed|skipped)\b", text, re.M))


def test_demo_gates_on_min_map_then_pushes_and_reuses_the_cache(tmp_path, capsys):
    workdir = tmp_path / "demo"
    code, text = _demo(workdir, capsys, "--min-map", "0.99")
    assert code == 0, text
    assert "blessed: no" in text, text
    assert "min_map 0.99" in text, text
    serving = workdir / "serving_model"
    assert not serving.exists() or not any(serving.iterdir()), "a model below min_map was pushed"
    first = _states(text)
    assert first["DetectionTrainer"] == "ran" and first["Evaluator"] == "ran", first

    code, text = _demo(workdir, capsys, "--min-map", "0")
    assert code == 0, text
    assert "blessed: yes" in text, text
    pushed = re.search(r"^pushed to: (\S+)$", text, re.M)
    assert pushed, text
    assert os.path.exists(os.path.join(pushed.group(1), "saved_model.pb"))
    assert f"detflow predict --model {pushed.group(1)}" in text
    second = _states(text)
    # Same data, config and checkpoint: only the nodes downstream of the changed threshold run again.
    assert {second[n] for n in ("ImageExampleGen", "StatisticsGen", "LabelMapValidator",
                                "DetectionTrainer")} == {"cached"}, second
    assert second["Evaluator"] == "ran", second
