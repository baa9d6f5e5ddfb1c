"""One rule for relative paths in a pipeline.config: as given (the OD API's), else beside the config.

A relative label map and checkpoint that exist both beside the config and in the working folder:
`detflow run`'s input resolution, `detflow train` and the Trainer's executor (`resolve_relative_paths`),
`config check` and the checkpoint finder all pick the same files.
"""

from __future__ import annotations

import os
import re

import pytest

from detection.training import train_settings
from pipelines.cli import run_inputs
from pipelines.settings import PipelineSettings, blessing_gate
from schemas import checkpoint_paths, config_paths
from schemas.pipeline_config import load_pipeline_config
from tests.pipelines import e2e_helpers


def _copies(folder, label: str) -> None:
    (folder / "ckpt").mkdir(parents=True)
    (folder / "ckpt" / "ckpt-0.index").write_text(label)
    (folder / "label_map.pbtxt").write_text(f"item {{ id: 1 name: '{label}' }}\nitem {{ id: 2 name: 'b' }}\n"
                                            "item { id: 3 name: 'c' }\n")


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """A config in configs/ naming label_map.pbtxt and ckpt/ckpt-0, copies of both there and in the cwd."""
    config, _ = e2e_helpers.make_config(tmp_path / "configs")
    text = open(config, encoding="utf-8").read()
    text = re.sub(r'label_map_path: "[^"]*"', 'label_map_path: "label_map.pbtxt"', text)
    text = re.sub(r'fine_tune_checkpoint: "[^"]*"', 'fine_tune_checkpoint: "ckpt/ckpt-0"', text)
    open(config, "w", encoding="utf-8").write(text)
    (tmp_path / "configs" / "label_map.pbtxt").unlink()
    _copies(tmp_path / "configs", "beside")
    work = tmp_path / "work"
    _copies(work, "cwd")
    monkeypatch.chdir(work)
    e2e_helpers.make_span(tmp_path / "data", 1)
    return tmp_path, config


def _picked(tmp_path, config) -> dict[str, set[str]]:
    """Which copy ('cwd' or 'beside') each command takes for the label map and the checkpoint."""
    def owner(path: str) -> str:
        return "cwd" if os.path.abspath(path).startswith(str(tmp_path / "work")) else "beside"

    settings = run_inputs.resolve_inputs(PipelineSettings(
        root=str(tmp_path / "root"), data=e2e_helpers.span_source(tmp_path / "data"), config_path=config,
        evaluation=blessing_gate(0.0)))
    loaded = load_pipeline_config(config)
    train_settings.resolve_relative_paths(loaded.proto, config)
    return {"label_map": {owner(settings.label_map_path), owner(loaded.proto.train_input_reader.label_map_path),
                          owner(config_paths.resolve("label_map.pbtxt", config))},
            "checkpoint": {owner(settings.base_checkpoint), owner(loaded.proto.train_config.fine_tune_checkpoint),
                           owner(checkpoint_paths.resolve("ckpt/ckpt-0", config))},
            "warnings": {str(w) for w in loaded.warnings if "fine_tune_checkpoint" in str(w)}}


def test_every_command_takes_the_path_as_given_first_as_the_od_api_does(layout):
    picked = _picked(*layout)
    assert picked == {"label_map": {"cwd"}, "checkpoint": {"cwd"}, "warnings": set()}


def test_every_command_looks_beside_the_config_when_nothing_is_there_as_given(layout):
    tmp_path, config = layout
    (tmp_path / "work" / "label_map.pbtxt").unlink()
    (tmp_path / "work" / "ckpt" / "ckpt-0.index").unlink()
    picked = _picked(tmp_path, config)
    assert picked == {"label_map": {"beside"}, "checkpoint": {"beside"}, "warnings": set()}


def test_a_path_found_nowhere_is_named_with_both_places_looked(layout):
    tmp_path, config = layout
    for folder in (tmp_path / "work", tmp_path / "configs"):
        (folder / "label_map.pbtxt").unlink()
    with pytest.raises(run_inputs.UserError, match=r"label_map.pbtxt or .*configs/label_map.pbtxt: no label map"):
        run_inputs.resolve_inputs(PipelineSettings(
            root=str(tmp_path / "root"), data=e2e_helpers.span_source(tmp_path / "data"), config_path=config,
            evaluation=blessing_gate(0.0)))
