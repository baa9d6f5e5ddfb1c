"""pipeline.config loading: zoo configs pass; each error class is reported at its line with the field."""

import pytest

from schemas.pipeline_config import load_pipeline_config, parse_pipeline_config_text
from schemas.problems import ProblemsError
from tests.schemas.helpers import CONFIGS, EFFICIENTDET_D0, FASTER_RCNN, FPNLITE, MINIMAL, RESNET50_FPN, edit, line_of


def problems_of(text: str) -> list[str]:
    with pytest.raises(ProblemsError) as raised:
        parse_pipeline_config_text(text, "p.config")
    return [str(p) for p in raised.value.problems]


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_zoo_fpnlite_config_passes_with_warnings_for_tf1_settings():
    config = load_pipeline_config(FPNLITE)
    assert config.meta_architecture == "ssd"
    assert config.num_classes == 90
    assert config.proto.model.ssd.feature_extractor.type == "ssd_mobilenet_v2_fpn_keras"
    warned = {w.message.split(":")[0] for w in config.warnings}
    assert "train_config.sync_replicas" in warned
    assert "train_config.replicas_to_aggregate" in warned
    summary = config.summary()
    assert summary["input size"] == "320x320"
    assert summary["learning rate"] == ("cosine_decay base 0.08, total_steps 50000, "
                                        "warm-up from 0.026666 for 1000 steps, hold 0 steps")
    assert "classification" in summary["fine-tune checkpoint"]


def test_zoo_faster_rcnn_config_passes():
    config = load_pipeline_config(FASTER_RCNN)
    assert config.meta_architecture == "faster_rcnn"
    assert config.model.feature_extractor.type == "faster_rcnn_resnet50_keras"
    assert config.summary()["input size"].endswith("padded to 640x640")
    assert not any("use_bfloat16" in str(w) for w in config.warnings)      # honoured: mixed_bfloat16 on a TPU


@pytest.mark.parametrize("name, depth, size", [
    ("faster_rcnn_resnet101_v1_1024x1024.config", 101, "1024x1024"),
    ("faster_rcnn_resnet152_v1_800x1333.config", 152, "padded to 1333x1333"),
])
def test_zoo_faster_rcnn_configs_as_shipped_pass(name, depth, size):
    """The 1024x1024 (fixed_shape_resizer) and 800x1333 configs, random_square_crop_by_scale and all, unchanged."""
    config = load_pipeline_config(CONFIGS / name)
    assert config.model.feature_extractor.type == f"faster_rcnn_resnet{depth}_keras"
    assert size in config.summary()["input size"]
    assert config.proto.train_config.data_augmentation_options[-1].HasField("random_square_crop_by_scale")


def test_minimal_config_passes_without_warnings():
    config = parse_pipeline_config_text(MINIMAL, "p.config")
    assert config.warnings == []
    assert config.position("model.ssd.num_classes") == (3, 5)


def test_syntax_error_has_line_and_col():
    text = edit("    num_classes: 3\n", "    num_classes: 3 }}}\n")
    assert only_problem(text).startswith(f"p.config:{line_of(text, 'num_classes')}:")
    assert "syntax error" in only_problem(text)


def test_missing_closing_brace_is_a_syntax_error():
    assert "syntax error" in only_problem(MINIMAL.rstrip() + "\nmodel {\n")


def test_unknown_field_free_anchor_box_matcher_is_named_with_its_line():
    text = edit("    num_classes: 3\n", "    num_classes: 3\n    free_anchor_box_matcher { }\n")
    assert only_problem(text).startswith(f"p.config:4:5: model.ssd.free_anchor_box_matcher: unknown field")


def test_misspelt_field_gets_a_suggestion_and_all_unknown_fields_are_listed():
    text = edit("    num_classes: 3\n", "    num_clases: 3\n")
    text = edit("  batch_size: 8\n", "  batch_sise: 8\n", text)
    problems = problems_of(text)
    assert len(problems) == 2
    assert problems[0].startswith("p.config:3:5: model.ssd.num_clases:")
    assert 'did you mean "num_classes"' in problems[0]
    assert 'did you mean "batch_size"' in problems[1]


def test_a_center_net_without_its_tasks_is_refused_naming_what_it_needs():
    problems = problems_of("model { center_net { num_classes: 3 } }\n")
    assert any("model.center_net.feature_extractor: feature_extractor.type is required (supported: resnet_v1_50_fpn, "
               "resnet_v1_101_fpn, resnet_v2_50, mobilenet_v2_fpn, mobilenet_v2_fpn_sep_conv, hourglass_104, hourglass_10, "
               "hourglass_20, hourglass_32, hourglass_52)" in p for p in problems)
    assert any("model.center_net.object_detection_task: object_detection_task is required" in p for p in problems)
    assert any("model.center_net.image_resizer: image_resizer is required" in p for p in problems)


def test_a_center_net_keypoint_task_names_what_it_needs():
    """A keypoint task without its label map, class, losses or the records' keypoint count; a flip without its
    permutation; NMS over keypoints (not built)."""
    problems = problems_of('model { center_net { num_classes: 3 keypoint_estimation_task { task_name: "pose" } '
                           'post_processing { } } }\n'
                           'train_config { data_augmentation_options { random_horizontal_flip { } } }\n'
                           'train_input_reader { label_map_path: "l.pbtxt" }\n')
    for expected in ("model.center_net.keypoint_label_map_path: is required with a keypoint_estimation_task",
                     "model.center_net.keypoint_estimation_task[0].keypoint_class_name: is required",
                     "model.center_net.keypoint_estimation_task[0].loss.classification_loss: "
                     "penalty_reduced_logistic_focal_loss is required",
                     "model.center_net.post_processing: NMS over detections with keypoints is not built",
                     "train_input_reader.num_keypoints: is required with a keypoint_estimation_task"):
        assert any(expected in p for p in problems), (expected, problems)
    flips = problems_of('train_config { data_augmentation_options { random_horizontal_flip { } } }\n'
                        'train_input_reader { num_keypoints: 3 }\n')
    assert any("random_horizontal_flip.keypoint_flip_permutation: is required: the records have 3 keypoints" in p
               for p in flips), flips


def test_invalid_enum_value_lists_valid_values():
    text = edit("score_converter: SIGMOID", "score_converter: SIGMOD")
    problem = only_problem(text)
    assert problem.startswith(f"p.config:{line_of(text, 'SIGMOD')}:")
    assert "model.ssd.post_processing.score_converter" in problem
    assert "IDENTITY, SIGMOID, SOFTMAX" in problem and 'did you mean "SIGMOID"' in problem


def test_invalid_fine_tune_checkpoint_type():
    text = edit('"detection"', '"detect"')
    problem = only_problem(text)
    assert problem.startswith(f"p.config:{line_of(text, 'detect')}:3: train_config.fine_tune_checkpoint_type:")
    assert "'classification', 'detection', 'full'" in problem


def test_fine_tune_checkpoint_needs_version_v2():
    text = edit("  fine_tune_checkpoint_version: V2\n", "")
    problem = only_problem(text)
    assert problem.startswith(f"p.config:{line_of(text, 'ckpt-0')}:3: train_config.fine_tune_checkpoint:")
    assert "V2" in problem
    assert "V1 is not supported by detflow (supported: V2)" in only_problem(edit("version: V2", "version: V1"))


def test_unsupported_feature_extractor_lists_supported_ones():
    text = edit("ssd_mobilenet_v2_fpn_keras", "ssd_mobilenet_v3_large_keras")
    problem = only_problem(text)
    assert problem.startswith("p.config:6:7: model.ssd.feature_extractor.type:")
    assert "ssd_mobilenet_v2_keras" in problem and "ssd_resnet50_v1_fpn_keras" in problem


@pytest.mark.parametrize("old, new, field", [
    ("batch_size: 8", "batch_size: 0", "train_config.batch_size"),
    ("num_classes: 3", "num_classes: 0", "model.ssd.num_classes"),
    ("height: 320", "height: 0", "model.ssd.image_resizer.fixed_shape_resizer.height"),
    ("iou_threshold: 0.5", "iou_threshold: 1.5", "model.ssd.post_processing.batch_non_max_suppression.iou_threshold"),
    ("score_threshold: 0.1", "score_threshold: -0.1",
     "model.ssd.post_processing.batch_non_max_suppression.score_threshold"),
    ("iou_threshold: 0.5", "iou_threshold: 0.5 max_total_detections: 0",
     "model.ssd.post_processing.batch_non_max_suppression.max_total_detections"),
    ("total_steps: 100", "total_steps: 5", "cosine_decay_learning_rate.total_steps"),
    ("warmup_learning_rate: 0.01", "warmup_learning_rate: 0.1", "cosine_decay_learning_rate.learning_rate_base"),
    ("fpn { min_level: 3 max_level: 7 }", "fpn { min_level: 5 max_level: 4 }",
     "model.ssd.feature_extractor.fpn.min_level"),
])
def test_impossible_values_are_reported_at_the_field(old, new, field):
    text = edit(old, new)
    problems = problems_of(text)
    assert any(field + ":" in p and p.startswith(f"p.config:{line_of(text, new.split(':')[0].split()[-1])}:")
               for p in problems), problems


def test_manual_step_schedule_must_increase():
    text = edit("cosine_decay_learning_rate { learning_rate_base: 0.02 total_steps: 100 warmup_learning_rate: 0.01 "
                "warmup_steps: 10 }",
                "manual_step_learning_rate { initial_learning_rate: 0.01\n"
                "        schedule { step: 50 learning_rate: 0.001 }\n"
                "        schedule { step: 20 learning_rate: 0.0001 } }")
    problem = only_problem(text)
    assert problem.startswith(f"p.config:{line_of(text, 'step: 20')}:20: ")
    assert "schedule[1].step" in problem and "increase strictly" in problem


def test_rejected_field_is_named_and_field_at_default_passes():
    text = edit("  batch_size: 8\n", "  batch_size: 8\n  merge_multiple_label_boxes: true\n")
    assert "train_config.merge_multiple_label_boxes: not supported by detflow" in only_problem(text)
    parse_pipeline_config_text(edit("  batch_size: 8\n", "  batch_size: 8\n  merge_multiple_label_boxes: false\n"))


def test_rejected_sub_message_and_value_outside_the_implemented_ones():
    text = edit("multiscale_anchor_generator { min_level: 3 max_level: 7 aspect_ratios: [1.0, 2.0] }",
                "flexible_grid_anchor_generator { }")
    assert "model.ssd.anchor_generator.flexible_grid_anchor_generator: not supported by detflow" in only_problem(text)
    text = edit("depth: 64", "depth: 64 conv_hyperparams { group_norm { } }")
    assert "Hyperparams" not in only_problem(text)
    assert "conv_hyperparams.group_norm: not supported by detflow" in only_problem(text)


def test_value_protobuf_rejects_is_placed_and_named():
    text = edit("batch_size: 8", "batch_size: -1")
    problem = only_problem(text)
    assert problem.startswith(f"p.config:{line_of(text, 'batch_size')}:")
    assert "train_config.batch_size" in problem and "out of range" in problem


def test_missing_file_is_one_problem():
    with pytest.raises(ProblemsError) as raised:
        load_pipeline_config("/nonexistent/pipeline.config")
    assert [str(p) for p in raised.value.problems] == ["/nonexistent/pipeline.config: no such file"]


def test_zoo_ssd_resnet50_fpn_config_passes():
    config = load_pipeline_config(RESNET50_FPN)
    assert config.model.feature_extractor.fpn.additional_layer_depth == 256  # the OD API default


def test_zoo_efficientdet_d0_parses_as_shipped():
    config = load_pipeline_config(EFFICIENTDET_D0)
    assert config.model.feature_extractor.type == "ssd_efficientnet-b0_bifpn_keras"
    assert (config.model.feature_extractor.bifpn.num_iterations, config.model.feature_extractor.bifpn.num_filters) == \
        (3, 64)
    assert not config.model.add_background_class
    assert config.model.image_resizer.keep_aspect_ratio_resizer.pad_to_max_dimension


def test_missing_sections_are_named():
    problems = problems_of("model { ssd { num_classes: 1 } }\n")
    assert "p.config: train_config: train_config is missing or empty" in problems[0]
    assert any("model.ssd.feature_extractor: feature_extractor.type is required" in p for p in problems)
    assert "model: no model" in only_problem("train_config { optimizer { adam_optimizer { learning_rate { "
                                             "constant_learning_rate { } } } } }\n")


def test_duplicate_singular_field_and_oneof_conflict_are_placed():
    problem = only_problem("train_config {\n  batch_size: 2\n  batch_size: 3\n}\n")
    assert problem.startswith("p.config:3:") and "train_config.batch_size" in problem
    problem = only_problem("train_config {\n  optimizer { adam_optimizer {} momentum_optimizer {} }\n}\n")
    assert problem.startswith("p.config:2:") and "oneof" in problem


def test_a_utf8_bom_is_skipped_and_positions_stay_right(tmp_path):
    path = tmp_path / "p.config"
    path.write_text(MINIMAL, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    config = load_pipeline_config(path)
    assert config.position("model.ssd.num_classes") == (3, 5) and not config.text.startswith("\ufeff")
    assert only_problem("\ufeff" + edit("batch_size: 8", "batch_size: 0")).startswith(
        f"p.config:{line_of(MINIMAL, 'batch_size')}:3: train_config.batch_size:")
    assert only_problem("\ufeffmodel { detr { } }\n").startswith("p.config:1:9: model.detr")


def _checkpoint_warnings(config_path) -> list[str]:
    return [str(w) for w in load_pipeline_config(config_path).warnings if "fine_tune_checkpoint" in w.message]


def _config_with_checkpoint(folder, checkpoint: str):
    path = folder / "pipeline.config"
    path.write_text(edit('"ckpt/ckpt-0"', f'"{checkpoint}"'))
    return path


def test_a_fine_tune_checkpoint_that_is_not_on_disk_is_a_warning_at_its_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "cfg" / "pipeline.config"
    config.parent.mkdir()
    config.write_text(MINIMAL)
    line = line_of(MINIMAL, "ckpt/ckpt-0")
    assert _checkpoint_warnings(config) == [
        f"{config}:{line}:3: train_config.fine_tune_checkpoint: no checkpoint at ckpt/ckpt-0 or "
        f"{tmp_path}/cfg/ckpt/ckpt-0: neither a prefix with a .index file nor a folder holding a 'checkpoint' "
        "file or *.index (in it, its checkpoint/ or Format-Serving/); training will fail to restore it"]
    assert parse_pipeline_config_text(MINIMAL, str(config)).warnings == []   # text alone: no folder to look in
    (tmp_path / "cfg" / "ckpt").mkdir()
    assert len(_checkpoint_warnings(config)) == 1                            # an empty folder is no checkpoint
    (tmp_path / "cfg" / "ckpt" / "ckpt-0.index").write_bytes(b"")
    assert _checkpoint_warnings(config) == []                                # a prefix beside the config
    (tmp_path / "cfg" / "ckpt" / "ckpt-0.index").unlink()
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "ckpt-0.index").write_bytes(b"")
    assert _checkpoint_warnings(config) == []                                # a prefix from the current folder


@pytest.mark.parametrize("layout", ["checkpoint", "ckpt-7.index", "checkpoint/checkpoint", "checkpoint/ckpt-0.index",
                                    "Format-Serving/checkpoint/ckpt-3.index"])
def test_a_checkpoint_folder_passes(tmp_path, layout):
    zoo = tmp_path / "zoo_model"
    (zoo / layout).parent.mkdir(parents=True, exist_ok=True)
    (zoo / layout).write_bytes(b"")
    assert _checkpoint_warnings(_config_with_checkpoint(tmp_path, str(zoo))) == []
    assert _checkpoint_warnings(_config_with_checkpoint(tmp_path, "zoo_model")) == []


def test_a_checkpoint_url_is_not_checked(tmp_path):
    assert _checkpoint_warnings(_config_with_checkpoint(tmp_path, "gs://bucket/model/ckpt-0")) == []
    assert len(_checkpoint_warnings(_config_with_checkpoint(tmp_path, str(tmp_path / "nothing" / "ckpt-0")))) == 1


@pytest.mark.parametrize("height, width, fields", [
    (100, 100, ["height", "width"]),
    (97, 131, ["height", "width"]),
    (320, 100, ["width"]),
])
def test_an_input_size_the_fpn_cannot_take_is_an_error_at_the_field(height, width, fields):
    text = edit("fixed_shape_resizer { height: 320 width: 320 }",
                f"fixed_shape_resizer {{\n      height: {height}\n      width: {width}\n    }}")
    problems = problems_of(text)
    assert len(problems) == len(fields), problems
    for problem, field in zip(problems, fields):
        size = height if field == "height" else width
        line = line_of(text, f"{field}: {size}")
        assert problem.startswith(f"p.config:{line}:7: model.ssd.image_resizer.fixed_shape_resizer.{field}: "
                                  f"{size} px does not fit the FPN of levels 3..5: its maps would be "), problem
        assert "each level must be twice the next; use a multiple of 32" in problem
    if width == 100:
        assert problems[-1].endswith("its maps would be 13 / 7 / 4 cells and each level must be twice the next; "
                                     "use a multiple of 32 (e.g. 96) or set feature_extractor.pad_to_multiple: 32")


@pytest.mark.parametrize("fix", ["pad_to_multiple: 32", "use_explicit_padding: true"])
def test_pad_to_multiple_or_explicit_padding_lets_any_size_through(fix):
    text = edit("height: 320 width: 320", "height: 97 width: 131")
    parse_pipeline_config_text(edit("      fpn {", f"      {fix}\n      fpn {{", text), "p.config")


def test_an_input_below_the_backbone_minimum_is_an_error():
    text = edit("height: 320 width: 320", "height: 32 width: 32")
    assert only_problem(text).startswith("p.config:4:21: model.ssd.image_resizer.fixed_shape_resizer: 32x32 is "
                                         "smaller than ssd_mobilenet_v2_fpn_keras takes (at least 33 px")
    resnet = edit("ssd_mobilenet_v2_fpn_keras", "ssd_resnet50_v1_fpn_keras",
                  edit("height: 320 width: 320", "height: 128 width: 128"))
    assert "at least 129 px on each side" in only_problem(resnet)


@pytest.mark.parametrize("fields, field", [
    ("scale_min: 1.5 scale_max: 1.0", "random_square_crop_by_scale.scale_min"),
    ("num_scales: 0", "random_square_crop_by_scale.num_scales"),
    ("max_border: -4", "random_square_crop_by_scale.max_border"),
])
def test_an_impossible_square_crop_by_scale_is_named(fields, field):
    text = edit("batch_size: 8", f"batch_size: 8\n  data_augmentation_options {{ random_square_crop_by_scale {{ {fields} }} }}")
    problems = problems_of(text)
    assert any(f"data_augmentation_options[0].{field}:" in p for p in problems), problems


def _keypoint_flip_text(permutation: str, num_keypoints: int) -> str:
    flip = f"data_augmentation_options {{ random_horizontal_flip {{ keypoint_flip_permutation: {permutation} }} }}"
    return edit("batch_size: 8", f"batch_size: 8\n  {flip}") + f"train_input_reader {{ num_keypoints: {num_keypoints} }}\n"


@pytest.mark.parametrize("permutation, num_keypoints, message", [
    ("[1, 0]", 3, "has 2 entries; it needs one per keypoint (train_input_reader.num_keypoints: 3)"),
    ("[1, 0, 2]", 0, "has 3 entries; it needs one per keypoint (train_input_reader.num_keypoints: 0)"),
    ("[1, 1, 2]", 3, "[1, 1, 2] is not a permutation of 0..2 (each keypoint index once)"),
    ("[1, 0, 3]", 3, "[1, 0, 3] is not a permutation of 0..2 (each keypoint index once)"),
])
def test_a_keypoint_flip_permutation_that_does_not_fit_the_keypoints_is_named(permutation, num_keypoints, message):
    text = _keypoint_flip_text(permutation, num_keypoints)
    line = line_of(text, "keypoint_flip_permutation")
    assert any(p.startswith(f"p.config:{line}:") and p.endswith(
        f"train_config.data_augmentation_options[0].random_horizontal_flip.keypoint_flip_permutation: {message}")
        for p in problems_of(text)), problems_of(text)


def test_a_keypoint_flip_permutation_of_every_keypoint_passes():
    config = parse_pipeline_config_text(_keypoint_flip_text("[1, 0, 2]", 3), "p.config")
    assert not any("keypoint" in str(w) for w in config.warnings), config.warnings


def _center_net_text(old: str = "", new: str = "") -> str:
    with open("tests/data/configs/centernet_resnet101_v1_fpn_512x512.config", encoding="utf-8") as f:
        return f.read().replace(old, new) if old else f.read()


def test_a_center_net_input_not_a_multiple_of_32_is_refused_with_the_nearest_sizes():
    problem = only_problem(_center_net_text("512", "500"))
    assert ("model.center_net.image_resizer.keep_aspect_ratio_resizer.max_dimension: 500 is not a multiple of 32: "
            "the feature extractor's upsampled maps would not match its block outputs (use 480 or 512)") in problem


def test_fine_tune_is_refused_for_center_net_with_what_to_set_instead():
    problems = problems_of(_center_net_text('fine_tune_checkpoint_type: "classification"',
                                            'fine_tune_checkpoint_type: "fine_tune"'))
    assert any('train_config.fine_tune_checkpoint_type: "fine_tune" is not a CenterNet type (the OD API refuses it '
               'too): "detection" restores the whole feature extractor' in p for p in problems), problems


def test_coco_keypoint_metrics_need_a_class_label_and_positive_sigmas():
    def with_eval(inside: str) -> str:
        return MINIMAL.replace('eval_config { metrics_set: "coco_detection_metrics" }',
                               f'eval_config {{ metrics_set: "coco_detection_metrics" {inside} }}')

    problems = problems_of(with_eval('parameterized_metric { coco_keypoint_metrics { keypoint_label_to_sigmas { '
                                     'key: "nose" value: 0 } } } parameterized_metric { }'))
    for expected in ("eval_config.parameterized_metric[0].coco_keypoint_metrics.class_label: is required",
                     "eval_config.parameterized_metric[0].coco_keypoint_metrics.keypoint_label_to_sigmas: the sigma "
                     "of 'nose' must be > 0 (got 0)",
                     "eval_config.parameterized_metric[1]: is empty: it needs coco_keypoint_metrics"):
        assert any(expected in p for p in problems), (expected, problems)
    parse_pipeline_config_text(with_eval('parameterized_metric { coco_keypoint_metrics { class_label: "person" '
                                         'keypoint_label_to_sigmas { key: "nose" value: 0.026 } } }'), "p.config")


def _hourglass_text(old: str = "", new: str = "") -> str:
    with open("tests/data/configs/centernet_hourglass104_512x512.config", encoding="utf-8") as f:
        return f.read().replace(old, new) if old else f.read()


def test_an_hourglass_input_must_halve_evenly_at_each_stage_and_it_has_no_classification_restore():
    """Hourglass-104's five stages need a multiple of 128 (4 x 2^5); its network has no classification backbone."""
    problem = only_problem(_hourglass_text("512", "320"))
    assert ("max_dimension: 320 is not a multiple of 128: the feature extractor's upsampled maps would not match "
            "its block outputs (use 256 or 384)") in problem
    problems = problems_of(_hourglass_text('fine_tune_checkpoint_type: "detection"',
                                           'fine_tune_checkpoint_type: "classification"'))
    assert any('"classification" needs a classification backbone, and the OD API\'s hourglass networks have none'
               in p for p in problems), problems


def test_the_hourglass_input_multiples_are_the_networks_stages():
    from detection.architectures.center_net import hourglass
    from schemas.config_checks import HOURGLASS_INPUT_MULTIPLES
    assert HOURGLASS_INPUT_MULTIPLES == {name: 4 * 2 ** shape.num_stages for name, shape in hourglass.SHAPES.items()}
