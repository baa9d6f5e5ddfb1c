"""The warning when `detection` restores a class head trained on other class names."""

import os

import sample_data
from detection.checkpoints import fine_tune
from schemas.label_map import write_label_map

BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "components", "trainer", "base_checkpoint", "ssd_mobilenet_v2_fpnlite_128")
PREFIX = os.path.join(BASE, "checkpoint", "ckpt-0")


def _report(*modules):
    return {"checkpoint": PREFIX, "restored": {m: 3 for m in ("backbone", *modules)}}


def test_other_class_names_are_named_with_their_ids(tmp_path):
    ours = tmp_path / "label_map.pbtxt"
    write_label_map(list(sample_data.DEMO_CLASSES), ours)
    note = fine_tune.class_head_note(_report("head_class"), str(ours))
    assert note is not None
    assert "1: disc -> hex_nut" in note and "5: star -> gear" in note
    assert os.path.join(BASE, "label_map.pbtxt") in note


def test_no_note_for_the_same_classes_or_a_class_head_left_out(tmp_path):
    same = tmp_path / "same.pbtxt"
    write_label_map(list(sample_data.PRETRAIN_CLASSES), same)
    assert fine_tune.class_head_note(_report("head_class"), str(same)) is None
    other = tmp_path / "other.pbtxt"
    write_label_map(list(sample_data.DEMO_CLASSES), other)
    assert fine_tune.class_head_note(_report("head_box"), str(other)) is None
    assert fine_tune.class_head_note({"checkpoint": "/nowhere/checkpoint/ckpt-1",
                                       "restored": {"head_class": 3}}, str(other)) is None
