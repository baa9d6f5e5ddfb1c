"""LabelMapValidator in a real (tiny) TFX pipeline: LocalDagRunner, Importers, SQLite MLMD."""

import json
import os

import pytest
from ml_metadata.metadata_store import metadata_store
from pipelines import tfx_api as tfx
from tfx.types import standard_artifacts

from components.artifact_types import LabelMapFile, PipelineConfigFile
from components.label_map_validator.component import LabelMapValidator
from tests.label_map_validator.records import write_examples
from tests.schemas.helpers import MINIMAL
from tests.schemas.probe_kit import LABEL_MAPS, _center_net_keypoints_text

LABEL_MAP = "item { id: 1 name: 'ball' }\n\n# comment\nitem { id: 2 name: 'cube' }\nitem { id: 3 name: 'ring' }\n"


def run_pipeline(tmp_path, eval_classes, config_text=MINIMAL, beside_config=None):
    """The validator on a label map, `config_text` (with `beside_config` {name: text} files beside it) and
    examples of ball, cube and ring in train and `eval_classes` in eval."""
    inputs = tmp_path / "inputs"
    (inputs / "label_map").mkdir(parents=True)
    (inputs / "label_map" / "label_map.pbtxt").write_text(LABEL_MAP)
    (inputs / "pipeline.config").write_text(config_text)
    for name, text in (beside_config or {}).items():
        (inputs / name).write_text(text)
    examples = inputs / "examples"
    write_examples(str(examples / "Split-train" / "data.gz"), [["ball", "cube"], ["ring", "ball"]])
    write_examples(str(examples / "Split-eval" / "data.gz"), [eval_classes])
    importers = [
        tfx.Importer(source_uri=str(inputs / "label_map"), artifact_type=LabelMapFile).with_id("label_map"),
        tfx.Importer(source_uri=str(inputs / "pipeline.config"),
                         artifact_type=PipelineConfigFile).with_id("config"),
        tfx.Importer(source_uri=str(examples), artifact_type=standard_artifacts.Examples,
                         properties={"split_names": '["train", "eval"]'}).with_id("examples"),
    ]
    validator = LabelMapValidator(label_map=importers[0].outputs["result"],
                                  pipeline_config=importers[1].outputs["result"],
                                  examples=importers[2].outputs["result"])
    connection = tfx.sqlite_metadata_connection_config(str(tmp_path / "mlmd.sqlite"))
    pipeline = tfx.Pipeline(pipeline_name="validator_test", pipeline_root=str(tmp_path / "root"),
                                components=[*importers, validator], metadata_connection_config=connection,
                                enable_cache=False)
    tfx.LocalDagRunner().run(pipeline)
    return metadata_store.MetadataStore(connection)


def test_valid_label_map_is_recorded_with_hash_and_counts(tmp_path):
    store = run_pipeline(tmp_path, ["cube"])
    [artifact] = store.get_artifacts_by_type("detflow.ValidatedLabelMap")
    props = {k: (v.string_value or v.int_value) for k, v in artifact.custom_properties.items()}
    report = json.loads(open(os.path.join(artifact.uri, "validation.json")).read())
    assert props["valid"] == 1 and props["num_classes"] == 3
    assert props["content_hash"] == report["content_hash"]
    assert json.loads(props["class_counts"]) == {"eval": {"cube": 1}, "train": {"ball": 2, "cube": 1, "ring": 1}}
    assert report["warnings"][0].endswith("class 'ball' (id 1) has no boxes in split 'eval' (1 images)")
    written = open(os.path.join(artifact.uri, "label_map.pbtxt")).read()
    assert "# comment" not in written and 'name: "ring"' in written


def test_class_missing_from_the_map_fails_the_run_with_a_readable_message(tmp_path):
    with pytest.raises(Exception, match="class 'horse' has 1 box\\(es\\) in split 'eval' but is not in the label map"):
        run_pipeline(tmp_path, ["horse"])


def test_a_center_net_keypoint_task_is_checked_against_the_keypoint_label_map_beside_the_config(tmp_path):
    """The config's keypoint_label_map_path 'kp.pbtxt' is found beside the config the validator is given; its item
    'c1' has id 1, which is 'ball' in the training label map."""
    config = _center_net_keypoints_text().replace(str(LABEL_MAPS / "probe_keypoints.pbtxt"), "kp.pbtxt")
    keypoint_map = "item { id: 1 name: 'c1' keypoints { id: 0 label: 'a' } keypoints { id: 1 label: 'b' } }\n"
    with pytest.raises(Exception, match="kp.pbtxt:1: the keypoint label map's item 'c1' has id 1, which is class "
                                        "'ball' in the training label map .*label_map.pbtxt:1: the names differ"):
        run_pipeline(tmp_path, ["cube"], config, {"kp.pbtxt": keypoint_map})
