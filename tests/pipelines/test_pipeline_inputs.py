"""The pieces that make the pipeline's cache keys correct: content hashes, staged inputs, code versions."""

import os

from pipelines import pipeline_inputs


def test_staged_input_is_content_addressed(tmp_path):
    source = tmp_path / "label_map.pbtxt"
    source.write_text("item { id: 1 name: 'a' }\n")
    first, sha = pipeline_inputs.stage_input(str(tmp_path / "root"), str(source), "label_map.pbtxt")
    again, sha_again = pipeline_inputs.stage_input(str(tmp_path / "root"), str(source), "label_map.pbtxt")
    assert (first, sha) == (again, sha_again)
    assert first == os.path.join(str(tmp_path / "root"), "inputs", sha)
    assert open(os.path.join(first, "label_map.pbtxt")).read() == source.read_text()
    source.write_text("item { id: 1 name: 'b' }\n")
    changed, sha_changed = pipeline_inputs.stage_input(str(tmp_path / "root"), str(source), "label_map.pbtxt")
    assert sha_changed != sha and changed != first
    assert "'a'" in open(os.path.join(first, "label_map.pbtxt")).read()  # the old copy stays for lineage


def test_folder_hash_covers_names_and_bytes(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "ckpt-0.index").write_bytes(b"1")
    before = pipeline_inputs.content_hash(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "ckpt-0.index").write_bytes(b"2")
    assert pipeline_inputs.content_hash(tmp_path / "ckpt") != before
    (tmp_path / "ckpt" / "ckpt-0.index").write_bytes(b"1")
    assert pipeline_inputs.content_hash(tmp_path / "ckpt") == before
    (tmp_path / "ckpt" / "ckpt-0.index").rename(tmp_path / "ckpt" / "ckpt-1.index")
    assert pipeline_inputs.content_hash(tmp_path / "ckpt") != before


def test_span_pattern_becomes_input_base_and_relative_parts(tmp_path):
    data = pipeline_inputs.DataSource("coco", str(tmp_path / "drops" / "span-{SPAN}" / "annotations.json"),
                               str(tmp_path / "drops" / "span-{SPAN}" / "images"))
    assert pipeline_inputs.example_gen_inputs(data) == (str(tmp_path / "drops"), "span-{SPAN}/annotations.json", "images")
    plain = pipeline_inputs.DataSource("coco", str(tmp_path / "d" / "annotations.json"), str(tmp_path / "imgs"))
    assert pipeline_inputs.example_gen_inputs(plain) == (str(tmp_path / "d"), "annotations.json", str(tmp_path / "imgs"))


def test_train_backbone_reaches_the_trainer_and_its_cache_key(tmp_path):

    from components.trainer import base_checkpoint
    from components.trainer.component import TrainerParameters
    from pipelines import pipeline as pipeline_lib
    from pipelines.settings import PipelineSettings, blessing_gate
    from tests.pipelines import e2e_helpers

    e2e_helpers.make_span(tmp_path / "data", 1)
    config, label_map = e2e_helpers.make_config(tmp_path / "config")

    def trainer_config(**kwargs):
        dsl = pipeline_lib.create_pipeline(PipelineSettings(
            root=str(tmp_path / "root"), data=e2e_helpers.span_source(tmp_path / "data"), config_path=config,
            label_map_path=label_map, base_checkpoint=str(base_checkpoint.CHECKPOINT_DIR),
            push_to=str(tmp_path / "push"), evaluation=blessing_gate(0.0), training=TrainerParameters(**kwargs)))
        trainer = next(c for c in dsl.components if c.id == "DetectionTrainer")
        return trainer.exec_properties

    assert "freeze_backbone" not in trainer_config()
    assert trainer_config(freeze_backbone=False)["freeze_backbone"] is False
