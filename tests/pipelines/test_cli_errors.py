"""User errors of the pipeline commands: a clear message, exit 2, no stack trace."""

from pipelines import cli

from pipelines.metadata import run_summary


def _check(capsys, argv, *fragments):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_runs_and_lineage_on_a_folder_without_metadata(tmp_path, capsys):
    _check(capsys, ["runs", "--root", str(tmp_path)], "no ML Metadata store here")
    _check(capsys, ["lineage", "--root", str(tmp_path), "1"], "no ML Metadata store here")


def test_lineage_of_an_unknown_artifact(tmp_path, capsys):
    run_summary.open_store(str(tmp_path), must_exist=False)  # an empty store
    _check(capsys, ["lineage", "--root", str(tmp_path), "42"], "no artifact with id 42")
    _check(capsys, ["lineage", "--root", str(tmp_path), str(tmp_path / "serving" / "123")],
           "no artifact with this id, URI or pushed-model folder")


def test_run_with_a_missing_config(tmp_path, capsys):
    _check(capsys, ["run", "--min-map", "0", "--config", str(tmp_path / "nope.config"), "--format", "coco",
                    "--annotations", str(tmp_path / "a.json"), "--images", str(tmp_path), "--root",
                    str(tmp_path / "root")], "nope.config: pipeline.config not found")


def test_runs_on_an_empty_store_says_so(tmp_path, capsys):
    run_summary.open_store(str(tmp_path), must_exist=False)
    assert cli.main(["runs", "--root", str(tmp_path)]) == 0
    assert "no runs recorded" in capsys.readouterr().out
    assert cli.main(["runs", "--root", str(tmp_path), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"


def test_a_config_label_map_path_that_is_no_label_map_names_the_config_line(tmp_path, capsys):
    from tests.pipelines import e2e_helpers  # pylint: disable=import-outside-toplevel
    e2e_helpers.make_span(tmp_path / "data", 1)
    config, _ = e2e_helpers.make_config(tmp_path / "config")
    junk = tmp_path / "passwd"
    junk.write_text("root:x:0:0:root:/root:/bin/bash\n")
    text = open(config).read()
    old = next(line for line in text.splitlines() if "label_map_path" in line)
    text = text.replace(old, f'  label_map_path: "{junk}"', 1)
    open(config, "w").write(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if str(junk) in l)
    root = tmp_path / "root"
    _check(capsys, ["run", "--min-map", "0", "--config", config, "--format", "coco",
                    "--annotations", str(tmp_path / "data" / "span-1" / "annotations.json"),
                    "--images", str(tmp_path / "data" / "span-1" / "images"), "--root", str(root)],
           f"{config}:{line}:", f"train_input_reader.label_map_path: {junk} is not a label map")
    assert not (root / "inputs").exists()          # nothing copied into the root before it parsed
