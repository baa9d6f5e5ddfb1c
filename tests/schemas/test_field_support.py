"""The field table: keys resolve, FIELDS.md is current, unlisted fields are rejected."""

from google.protobuf import text_format

from schemas import field_support
from schemas.protos import pipeline_pb2


def test_every_rule_names_a_real_field():
    assert field_support.unresolved_rule_keys() == []


def test_each_key_is_listed_once():
    keys = [rule.key for rule in field_support.RULES]
    assert len(keys) == len(set(keys))


def test_fields_md_is_generated_from_the_table():
    assert field_support.FIELDS_MD.read_text() == field_support.render_markdown(), \
        "run: python -m schemas.field_support"


def classify(text):
    proto = text_format.Parse(text, pipeline_pb2.TrainEvalPipelineConfig())
    return list(field_support.classify(proto))


def test_a_field_not_in_the_table_is_rejected():
    findings = classify("model { ssd { feature_extractor { type: 'ssd_mobilenet_v2_keras' "
                        "replace_preprocessor_with_placeholder: true } mask_head_config { mask_height: 3 } } }")
    assert [(f.path, f.is_error) for f in findings] == [
        ("model.ssd.feature_extractor.replace_preprocessor_with_placeholder", True),
        ("model.ssd.mask_head_config", True),
    ]
    assert findings[1].message == "not supported by detflow"


def test_ignored_fields_warn_unless_at_default_and_type_rules_apply_everywhere():
    findings = classify("train_config { sync_replicas: true replicas_to_aggregate: 1 } "
                        "eval_input_reader { num_readers: 4 } eval_input_reader { num_readers: 64 }")
    assert [(f.path, f.is_error) for f in findings] == [
        ("train_config.sync_replicas", False),
        ("eval_input_reader[0].num_readers", False),
    ]


def test_allowed_values_apply_per_repeated_item():
    findings = classify("eval_config { metrics_set: 'coco_detection_metrics' metrics_set: 'pascal_voc' }")
    assert [f.path for f in findings] == ["eval_config.metrics_set[1]"]
    assert "'pascal_voc' is not supported by detflow (supported: 'coco_detection_metrics')" in findings[0].message
