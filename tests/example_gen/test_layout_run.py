"""`detflow run` with `{SPAN}` annotations and an images folder elsewhere: works, or stops with one clear line."""

import os
import re

import pytest

from pipelines import cli
from tests.pipelines import e2e_helpers as h


def _run_cli(tmp_path, annotations: str, images: str) -> list:
    config, label_map = h.make_config(tmp_path / "config")
    return ["run", "--min-map", "0", "--config", config, "--label-map", label_map, "--format", "coco",
            "--annotations", annotations, "--images", images, "--root", str(tmp_path / "root"),
            "--num-steps", "1", "--batch-size", "2"]


def test_span_only_in_the_images_stops_before_running_with_one_line(tmp_path, capsys):
    h.make_span(tmp_path / "drops", 0)
    args = _run_cli(tmp_path, str(tmp_path / "drops" / "span-0" / "annotations.json"),
                    str(tmp_path / "pics" / "span-{SPAN}" / "images"))
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith(f"detflow run: {tmp_path}/pics/span-{{SPAN}}/images: the image folder holds {{SPAN}}")


@pytest.mark.e2e
def test_a_span_without_its_image_folder_fails_the_example_gen_naming_the_folder(tmp_path, capsys):
    h.make_span(tmp_path / "drops", 0)
    os.rename(tmp_path / "drops" / "span-0" / "images", tmp_path / "elsewhere")
    args = _run_cli(tmp_path, str(tmp_path / "drops" / "span-{SPAN}" / "annotations.json"),
                    str(tmp_path / "pics" / "span-{SPAN}" / "images"))
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"ImageExampleGen failed: {tmp_path}/pics/span-0/images: image folder not found "
            f"(span 0; expected the images setting {tmp_path}/pics/span-{{SPAN}}/images with span 0 filled in)") in err


def test_no_span_folder_fails_with_one_line_naming_the_pattern(tmp_path, capsys):
    (tmp_path / "drops").mkdir()
    args = _run_cli(tmp_path, str(tmp_path / "drops" / "span-{SPAN}" / "annotations.json"),
                    str(tmp_path / "drops" / "span-{SPAN}" / "images"))
    assert cli.main(args) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    # The driver raised: TFX left the node RUNNING in ML Metadata; the report names it as failed.
    assert re.search(r"^  ImageExampleGen +failed", captured.out, re.M), captured.out
    assert (f"ImageExampleGen failed: {tmp_path}/drops/span-{{SPAN}}/annotations.json: no annotations match "
            "({SPAN} stands for a span number, e.g. span-0, span-1)") in err.splitlines()[0]
