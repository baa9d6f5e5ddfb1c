"""The committed *_pb2.py files are what protoc makes of the .proto sources."""

import pathlib

from schemas import compile_protos


def test_generated_modules_are_up_to_date(tmp_path: pathlib.Path):
    generated = compile_protos.generate(tmp_path)
    committed = {p.name: p.read_text() for p in compile_protos.PROTO_DIR.glob("*_pb2.py")}
    assert set(generated) == set(committed) == {p.stem + "_pb2.py" for p in compile_protos.proto_sources()}
    stale = [name for name in generated if generated[name] != committed[name]]
    assert stale == [], "run: python -m schemas.compile_protos"


def test_schema_keeps_od_api_names_and_numbers():
    from schemas.protos import pipeline_pb2, ssd_pb2, train_pb2

    pipeline = pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR
    assert pipeline.full_name == "object_detection.protos.TrainEvalPipelineConfig"
    assert pipeline.fields_by_name["eval_input_reader"].number == 5
    assert pipeline.fields_by_name["eval_input_reader"].label == pipeline.fields_by_name["eval_input_reader"].LABEL_REPEATED
    train = train_pb2.TrainConfig.DESCRIPTOR.fields_by_name
    assert (train["fine_tune_checkpoint_type"].number, train["fine_tune_checkpoint_version"].number) == (22, 28)
    assert train["batch_size"].default_value == 32
    assert ssd_pb2.Ssd.DESCRIPTOR.fields_by_name["freeze_batchnorm"].number == 16
