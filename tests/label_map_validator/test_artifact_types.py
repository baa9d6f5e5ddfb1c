"""components.artifact_types: type compatibility and file resolution."""

from components.artifact_types import resolve_file
from components.names import LABEL_MAP_FILE


def test_validated_label_map_channel_fits_a_label_map_file_input():
    from tfx import types
    from tfx.types.component_spec import ChannelParameter

    from components.artifact_types import LabelMapFile, ValidatedLabelMap

    ChannelParameter(type=LabelMapFile).type_check("label_map", types.Channel(type=ValidatedLabelMap))


def test_resolve_file_accepts_a_folder_or_the_file(tmp_path):
    (tmp_path / LABEL_MAP_FILE).write_text("item { id: 1 name: 'a' }")
    assert resolve_file(str(tmp_path), LABEL_MAP_FILE) == str(tmp_path / LABEL_MAP_FILE)
    assert resolve_file(str(tmp_path / LABEL_MAP_FILE), LABEL_MAP_FILE) == str(tmp_path / LABEL_MAP_FILE)
