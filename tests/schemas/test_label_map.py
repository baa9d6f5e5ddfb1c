"""Label maps: every problem listed with its line; lookups, hash, writing, config check."""

import pytest

from schemas.label_map import (LabelMap, LabelMapItem, check_against_config, load_label_map,
                               parse_label_map_text, write_label_map)
from schemas.pipeline_config import parse_pipeline_config_text
from schemas.problems import ProblemsError
from tests.schemas.helpers import MINIMAL

GOOD = """\
# three classes
item { id: 1 name: 'cat' display_name: 'Cat' }
item {
  id: 3
  name: "dog"
}
item { id: 2 name: 'cow' }
"""


def problems_of(text):
    with pytest.raises(ProblemsError) as raised:
        parse_label_map_text(text, "lm.pbtxt")
    return [str(p) for p in raised.value.problems]


def test_valid_map_lookups():
    label_map = parse_label_map_text(GOOD, "lm.pbtxt")
    assert label_map.num_classes == 3
    assert label_map.names == ["cat", "cow", "dog"]
    assert label_map.name_to_id("dog") == 3
    assert label_map.id_to_name(2) == "cow"
    assert label_map.by_id[1] == LabelMapItem(1, "cat", "Cat")
    with pytest.raises(KeyError, match="'horse' is not in the label map"):
        label_map.name_to_id("horse")


def test_background_item_with_id_0_is_skipped_with_a_warning_at_its_line():
    label_map = parse_label_map_text(GOOD.replace("item {\n  id: 3", "item {\n  id: 0\n  name: 'background'\n}\n"
                                                                     "item {\n  id: 3"), "lm.pbtxt")
    assert label_map.num_classes == 3 and "background" not in label_map.names
    assert [str(w) for w in label_map.warnings] == [
        "lm.pbtxt:4:3: item 'background' with id 0 is left out: detflow adds the background class itself "
        "(class ids start at 1)"]
    assert parse_label_map_text(GOOD).warnings == ()


def test_ids_with_gaps_are_accepted_and_checked_against_num_classes():
    gaps = parse_label_map_text("item { id: 1 name: 'a' }\nitem { id: 2 name: 'b' }\nitem { id: 5 name: 'e' }\n",
                                "lm.pbtxt")
    assert (gaps.num_classes, gaps.max_id, gaps.contiguous) == (3, 5, False)
    assert gaps.id_to_name(5) == "e" and gaps.warnings == ()
    config = parse_pipeline_config_text(MINIMAL.replace("num_classes: 3", "num_classes: 5"), "p.config")
    assert check_against_config(gaps, config) == []
    assert [str(p) for p in check_against_config(gaps, parse_pipeline_config_text(
        MINIMAL.replace("num_classes: 3", "num_classes: 4"), "p.config"))] == [
        "lm.pbtxt:3: id 5 ('e') exceeds num_classes 4 of p.config: ids must be 1..num_classes"]


def test_a_utf8_bom_is_skipped_and_positions_stay_right(tmp_path):
    path = tmp_path / "lm.pbtxt"
    path.write_text(GOOD, encoding="utf-8-sig")
    assert load_label_map(path).items == parse_label_map_text(GOOD).items
    assert problems_of("\ufeffitem { id: 1 nam: 'cat' }\n")[0].startswith("lm.pbtxt:1:14: item[0].nam: unknown field")
    assert problems_of("\ufeffitem { id: 0 name: 'cat' }\n")[0].startswith("lm.pbtxt:1:8: id 0 is reserved")


def test_every_problem_is_listed_with_its_line():
    text = ("item { id: 1 name: 'cat' }\n"
            "item { id: 0 name: 'dog' }\n"
            "item { id: -2 name: 'cow' }\n"
            "item { id: 1 name: 'horse' }\n"
            "item { id: 5 name: 'cat' }\n"
            "item { id: 6 name: '' }\n"
            "item { name: 'owl' }\n")
    assert problems_of(text) == [
        "lm.pbtxt:2:8: id 0 is reserved for the background class (item 'dog'); ids start at 1",
        "lm.pbtxt:3:8: id -2 is negative (item 'cow'); ids start at 1",
        "lm.pbtxt:4:8: duplicate id 1 (first used on line 1)",
        "lm.pbtxt:5:14: duplicate name 'cat' (first used on line 1)",
        "lm.pbtxt:6:14: item with id 6 has an empty name",
        "lm.pbtxt:7:1: item 'owl' has no id",
    ]


def test_syntax_error_and_unknown_field_have_lines():
    assert problems_of("item { id: 1 name: 'cat'\nitem { id: 2 }\n")[0].startswith("lm.pbtxt:")
    assert "syntax error" in problems_of("item { id: 1 name: 'cat' \n")[0]
    assert problems_of("item { id: 1 nam: 'cat' }\n") == [
        'lm.pbtxt:1:14: item[0].nam: unknown field: StringIntLabelMapItem has no field "nam" in the TF OD API '
        'schema (did you mean "name"?)']


def test_empty_map_is_a_problem():
    assert problems_of("# nothing\n") == ["lm.pbtxt: the label map has no items (expected item { id: 1 name: '...' } ...)"]


def test_content_hash_ignores_whitespace_comments_and_order():
    a = parse_label_map_text(GOOD)
    b = parse_label_map_text("item{id:2 name:'cow'} item{name:'dog' id:3}\nitem { id: 1 name: 'cat' display_name: 'Cat' }")
    assert a.content_hash == b.content_hash
    assert a.content_hash != parse_label_map_text(GOOD.replace("'cow'", "'cows'")).content_hash
    assert parse_label_map_text(a.to_text()) == a


def test_write_and_load_round_trip(tmp_path):
    path = tmp_path / "label_map.pbtxt"
    written = write_label_map(["ball", "cube", "ring"], path)
    loaded = load_label_map(path)
    assert loaded == written
    assert loaded.items == (LabelMapItem(1, "ball"), LabelMapItem(2, "cube"), LabelMapItem(3, "ring"))
    with pytest.raises(ProblemsError, match="duplicate name 'ball'"):
        write_label_map(["ball", "ball"], tmp_path / "dup.pbtxt")


def test_missing_file():
    with pytest.raises(ProblemsError, match="no such file"):
        load_label_map("/nonexistent/label_map.pbtxt")


def test_check_against_config_names_num_classes_line():
    config = parse_pipeline_config_text(MINIMAL, "p.config")
    assert check_against_config(parse_label_map_text(GOOD, "lm.pbtxt"), config) == []
    two = LabelMap((LabelMapItem(1, "a"), LabelMapItem(4, "b", line=2)), "two.pbtxt")
    assert [str(p) for p in check_against_config(two, config)] == [
        "two.pbtxt:2: id 4 ('b') exceeds num_classes 3 of p.config: ids must be 1..num_classes"]
    one = LabelMap((LabelMapItem(1, "a"),), "one.pbtxt")
    assert [str(p) for p in check_against_config(one, config)] == [
        "p.config:3:5: model.ssd.num_classes: num_classes is 3 but the highest id in the label map one.pbtxt "
        "is 1: class-head columns 2..3 would belong to no class (num_classes must be the highest id)"]
    gap_at_the_end = LabelMap((LabelMapItem(1, "a"), LabelMapItem(2, "b")), "gap.pbtxt")
    assert "class-head column 3 would belong to no class" in str(check_against_config(gap_at_the_end, config)[0])
