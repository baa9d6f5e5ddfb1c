"""`detflow run` on a label map that fits the data badly: the losses are printed and nothing trains or is pushed."""
from __future__ import annotations

import pathlib

import pytest

import sample_data
from tests.pipelines import e2e_helpers

pytestmark = pytest.mark.e2e


def test_a_run_that_would_train_on_the_wrong_classes_stops_before_training(tmp_path, capsys):
    e2e_helpers.make_span(tmp_path / "data", 1)
    config, label_map = e2e_helpers.make_config(tmp_path / "config")
    wrong = ["bolt", "screw", "nail", "rivet", "spring"]          # 1 of the 5 names the data uses
    assert wrong[0] in sample_data.DEMO_CLASSES
    pathlib.Path(label_map).write_text(sample_data.label_map_text(wrong))
    code, summary, text = e2e_helpers.run(tmp_path / "root", e2e_helpers.span_source(tmp_path / "data"), config,
                                          label_map, min_map=0.0)
    err = capsys.readouterr().err
    assert code == 1
    states = e2e_helpers.states(summary)
    assert states["LabelMapValidator"] == "failed" and "DetectionTrainer" not in states, states
    assert "boxes dropped: unknown_class" in text                     # the run report's data line
    assert "more than the 5% allowed" in err and "--max-dropped-boxes" in err
    assert "Traceback" not in err
    assert not (tmp_path / "root" / "serving_model").exists() or not any((tmp_path / "root" / "serving_model").iterdir())
