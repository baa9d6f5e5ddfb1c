"""The model-folder layout has one owner: names written by one side are read back by the other."""
from components.evaluator.executor import tflite_variants
from schemas import model_layout


def test_a_tflite_file_name_gives_back_its_mode_and_no_other_file_does():
    for mode in ("none", "float16", "dynamic", "int8"):
        assert model_layout.tflite_mode(model_layout.tflite_file(mode)) == mode
    assert [model_layout.tflite_mode(n) for n in ("model_.tflite", "README", "model_int8.tfl", "x.tflite")] == [None] * 4


def test_the_evaluator_finds_the_variants_a_model_carries_and_skips_other_files(tmp_path):
    folder = tmp_path / model_layout.TFLITE_DIR
    folder.mkdir()
    for name in ("model_int8.tflite", "model_none.tflite", "notes.txt"):
        (folder / name).write_bytes(b"")
    assert tflite_variants(str(tmp_path)) == {"int8": str(folder / "model_int8.tflite"),
                                              "none": str(folder / "model_none.tflite")}
    assert tflite_variants(str(tmp_path / "no-model")) == {}
