"""The README's zoo table is `detection.architectures.zoo`'s, and what it says holds: the fixtures it names exist,
and each zoo config in tests/data/configs passes `config check` exactly when its row says detflow builds it."""
from __future__ import annotations

import pytest
from google.protobuf import text_format

from detection.architectures import zoo
from schemas.pipeline_config import load_pipeline_config
from schemas.problems import ProblemsError
from schemas.protos import pipeline_pb2
from tests.schemas.helpers import CONFIGS
from tests.zoo.fixtures import (ALL_CENTER_NET, ALL_SSD, CENTER_NET_KEYPOINT_ARCHITECTURES,
                                FASTER_RCNN_ARCHITECTURES, REPO)

BEGIN, END = "<!-- zoo table: python -m detection.architectures.zoo -->\n", "<!-- end of zoo table -->\n"


def test_the_readme_holds_the_generated_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert BEGIN in readme and END in readme
    assert readme.split(BEGIN, 1)[1].split(END, 1)[0] == zoo.markdown(), "run python -m detection.architectures.zoo"


def test_the_zoo_has_its_41_models_once_each():
    names = [m.name for m in zoo.MODELS]
    assert len(names) == 41 and len(set(names)) == 41


def test_every_built_type_is_checked_by_a_fixture_the_oracle_writes():
    fixtures = set(ALL_SSD) | set(FASTER_RCNN_ARCHITECTURES) | set(ALL_CENTER_NET)
    built = {m.feature_extractor for m in zoo.MODELS if zoo.verdict(m)[0]}
    assert built == set(zoo.CHECKED)
    assert {f for names, _ in zoo.CHECKED.values() for f in names} == fixtures
    assert (zoo.KEYPOINTS_CHECKED[0],) == CENTER_NET_KEYPOINT_ARCHITECTURES


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.config")), ids=lambda p: p.name)
def test_a_zoo_config_passes_config_check_exactly_when_its_row_says_built(path):
    proto = text_format.Parse(path.read_text(encoding="utf-8"), pipeline_pb2.TrainEvalPipelineConfig())
    meta = proto.model.WhichOneof("model")
    extractor = getattr(proto.model, meta).feature_extractor.type
    row = next(m for m in zoo.MODELS if (m.meta_architecture, m.feature_extractor) == (meta, extractor))
    built, line = zoo.verdict(row)
    if built:
        load_pipeline_config(path)
    else:
        with pytest.raises(ProblemsError):
            load_pipeline_config(path)
        assert line.startswith("refused: ")
