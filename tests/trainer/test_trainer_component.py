"""DetectionTrainer in a real TFX pipeline (LocalDagRunner, SQLite MLMD, Importers for every input).

The embedded checkpoint is imported as a Model and fine-tuned (type detection) to
new classes at 64 px; the output Model carries Format-Serving, train_result.json
and the stats as custom properties; MLMD links the model to the examples,
config, label map and base checkpoint it came from.
"""
import json
import os

import tensorflow as tf
from pipelines import tfx_api as tfx
from tfx.orchestration import metadata

from components.artifact_types import LabelMapFile, PipelineConfigFile
from components.trainer import base_checkpoint
from components.trainer.component import DetectionTrainer, TrainerParameters
from tests.detection import records

Model = tfx.standard_artifacts.Model


def _pipeline(root, examples_uri, config_path, label_map_path, parameters=None, with_base=True):
    """Importers for every input + DetectionTrainer, SQLite MLMD under root, cache off."""
    parameters = parameters or TrainerParameters(num_steps=3, batch_size=2, code_version="test")
    examples = tfx.Importer(source_uri=examples_uri, artifact_type=tfx.standard_artifacts.Examples,
                                properties={"split_names": '["train", "eval"]'}).with_id("examples")
    config = tfx.Importer(source_uri=config_path, artifact_type=PipelineConfigFile).with_id("config")
    label_map = tfx.Importer(source_uri=label_map_path, artifact_type=LabelMapFile).with_id("label_map")
    base = tfx.Importer(source_uri=str(base_checkpoint.CHECKPOINT_DIR), artifact_type=Model).with_id("base")
    trainer = DetectionTrainer(examples=examples.outputs["result"], pipeline_config=config.outputs["result"],
                               label_map=label_map.outputs["result"],
                               base_model=base.outputs["result"] if with_base else None,
                               parameters=parameters)
    importers = [examples, config, label_map] + ([base] if with_base else [])
    return tfx.Pipeline(
        pipeline_name="trainer_test", pipeline_root=str(root / "pipeline"),
        components=[*importers, trainer], enable_cache=False,
        metadata_connection_config=tfx.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")))


def _props(artifact) -> dict:
    return {k: (v.int_value if v.HasField("int_value") else v.double_value if v.HasField("double_value")
                else v.string_value) for k, v in artifact.custom_properties.items()}


def test_detection_trainer_fine_tunes_the_embedded_checkpoint_with_lineage(tmp_path):
    examples = tmp_path / "examples"
    records.write_records(str(examples / "Split-train"), num_images=6, size=64, boxes_per_image=(3, 4), shards=1)
    records.write_records(str(examples / "Split-eval"), num_images=2, size=64, shards=1, seed=1)
    config = records.tiny_config(str(tmp_path), "unused-the-pipeline-feeds-examples", num_classes=3,
                                 num_steps=50, max_boxes=3, fine_tune_checkpoint="does-not-matter",
                                 fine_tune_checkpoint_type="detection")
    parameters = TrainerParameters(num_steps=3, batch_size=2, code_version="test", strategy="one_device")
    tfx.LocalDagRunner().run(
        _pipeline(tmp_path, str(examples), config.path, str(tmp_path / "label_map.pbtxt"), parameters))

    connection = tfx.sqlite_metadata_connection_config(str(tmp_path / "metadata.sqlite"))
    with metadata.Metadata(connection) as m:
        store = m.store
        models = store.get_artifacts_by_type("Model")
        trained = [a for a in models if "DetectionTrainer" in a.uri]
        assert len(trained) == 1
        model = trained[0]
        [run] = store.get_artifacts_by_type("ModelRun")
        [execution] = [e for e in store.get_executions() if "DetectionTrainer" in e.name or
                       "DetectionTrainer" in str(e.properties)] or store.get_executions()[-1:]
        events = store.get_events_by_execution_ids([execution.id])
        inputs = {e.path.steps[0].key: e.artifact_id for e in events if e.type == e.INPUT}
    assert set(inputs) == {"examples", "pipeline_config", "label_map", "base_model"}

    serving = os.path.join(model.uri, "Format-Serving")
    assert tf.saved_model.contains_saved_model(serving)
    result = json.load(open(os.path.join(model.uri, "train_result.json")))
    assert result["steps"] == 3 and result["batch_size"] == 2
    assert result["restore_report"]["checkpoint"].startswith(str(base_checkpoint.CHECKPOINT_DIR))
    assert tf.io.gfile.glob(os.path.join(run.uri, "train", "events.out.tfevents.*"))

    props = _props(model)
    assert props["steps"] == 3 and props["fine_tune_checkpoint_type"] == "detection"
    assert props["restored_variables"] > 0 and props["reinitialized_variables"] > 0  # 5 -> 3 classes
    assert json.loads(props["reinitialized_by_module"]).get("head_class", 0) > 0
    assert props["unused_checkpoint_variables"] == len(result["restore_report"]["unused"]) > 0  # 5-class head
    assert json.loads(props["unused_by_module"]).get("head_class", 0) > 0
    assert props["network_check"].startswith("network settings equal to")
    assert props["boxes_dropped"] >= 3   # every training image has more than 3 boxes
    assert props["final_loss"] > 0 and props["images_per_sec"] > 0
    assert props["start_step"] == 0 and props["resumed"] == 0 and props["num_replicas"] == 1
    assert props["strategy"] == "OneDeviceStrategy"   # the strategy parameter reached train_loop
    assert result["checkpoint"] == os.path.join(run.uri, "ckpt-3")   # moved out of the resume folder
    assert not os.listdir(tmp_path / "pipeline" / "DetectionTrainer" / ".resume")   # a completed run leaves none
