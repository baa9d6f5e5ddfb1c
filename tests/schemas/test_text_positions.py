"""The field -> (line, col) index built from protobuf's Tokenizer."""

import pytest
from google.protobuf import text_format

from schemas.protos import pipeline_pb2
from schemas.text_positions import scan
from tests.schemas.helpers import FPNLITE

DESCRIPTOR = pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR


def test_nested_paths_repeated_indices_and_list_values():
    text = (
        "model {\n"
        "  ssd { num_classes: 2\n"
        "    anchor_generator { multiscale_anchor_generator { aspect_ratios: [1.0, 2.0,\n"
        "      0.5] } }\n"
        "  }\n"
        "}\n"
        "train_config { data_augmentation_options { random_horizontal_flip { } }\n"
        "  data_augmentation_options { random_crop_image { min_area: 0.5 } } ; batch_size: 4, }\n"
        "eval_input_reader { label_map_path: 'a' }  # comment\n"
        "eval_input_reader < label_map_path: \"b\" 'c' >\n"
    )
    lines = text.splitlines()

    def at(line: int, needle: str) -> tuple[int, int]:
        return line, lines[line - 1].index(needle) + 1

    positions = scan(text, DESCRIPTOR)
    by_path = positions.by_path
    assert by_path["model"] == (1, 1)
    assert by_path["model.ssd.num_classes"] == at(2, "num_classes")
    ratios = "model.ssd.anchor_generator.multiscale_anchor_generator.aspect_ratios"
    assert by_path[f"{ratios}[0]"] == at(3, "1.0")
    assert by_path[f"{ratios}[2]"] == at(4, "0.5")
    assert by_path["train_config.data_augmentation_options[0]"] == at(7, "data_aug")
    assert by_path["train_config.data_augmentation_options[1].random_crop_image.min_area"] == at(8, "min_area")
    assert by_path["train_config.batch_size"] == at(8, "batch_size")
    assert by_path["eval_input_reader[1].label_map_path"] == at(10, "label_map_path")
    assert positions.issues == []


def test_every_set_field_of_a_zoo_config_has_a_position():
    text = FPNLITE.read_text()
    proto = text_format.Parse(text, pipeline_pb2.TrainEvalPipelineConfig())
    positions = scan(text, DESCRIPTOR)

    def walk(message, path):
        for field, value in message.ListFields():
            field_path = f"{path}.{field.name}" if path else field.name
            assert field_path in positions.by_path, field_path
            if field.type == field.TYPE_MESSAGE:
                items = value if field.label == field.LABEL_REPEATED else [value]
                for i, item in enumerate(items):
                    walk(item, f"{field_path}[{i}]" if field.label == field.LABEL_REPEATED else field_path)

    walk(proto, "")
    line = next(n for n, l in enumerate(text.splitlines(), 1) if "warmup_steps: 1000" in l)
    lr = "train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"
    assert positions.of(f"{lr}.warmup_steps") == (line, 11)


def test_fallback_to_parent_and_path_at():
    positions = scan("train_config {\n  batch_size: 3\n}\n", DESCRIPTOR)
    assert positions.of("train_config.optimizer.adam_optimizer") == (1, 1)
    assert positions.of("model.ssd") == (0, 0)
    assert positions.path_at(2, 20) == "train_config.batch_size"


def test_unknown_fields_and_bad_enums_are_all_collected():
    positions = scan("model { ssd { bogus: 1 box_coder { wrong { a: [1, 2] } } }\n"
                     "  faster_rcnn { second_stage_post_processing { score_converter: SOFTMAXX } } }\n", DESCRIPTOR)
    assert [(i.path, i.line, i.col) for i in positions.issues] == [
        ("model.ssd.bogus", 1, 15),
        ("model.ssd.box_coder.wrong", 1, 36),
        ("model.faster_rcnn.second_stage_post_processing.score_converter", 2, 65),
    ]


def test_structural_error_raises_with_position():
    with pytest.raises(text_format.ParseError) as raised:
        scan("model {\n  ssd {\n", DESCRIPTOR)
    assert raised.value.GetLine() >= 2


def test_extensions_are_reported_with_their_name():
    positions = scan("train_config { [foo.bar_ext] { x: 1 } batch_size: 2 }\n", DESCRIPTOR)
    assert [(i.path, i.message, i.col) for i in positions.issues] == [
        ("train_config.[foo.bar_ext]", "extensions are not supported by detflow", 16)]
    assert positions.by_path["train_config.batch_size"] == (1, 39)
