"""The container recipe (infra/container/Dockerfile) checked against the project without building an image.

No registry or Docker here, so the recipe's own lines are replayed: its COPY lines lay the files out in
/app's place, its `uv sync` lines build the environment from the lock (the image's Python replaced by this
machine's 3.10.13, its `uv` by the pinned one), then its RUN and ENTRYPOINT lines run from there, outside
the repository: `detflow init` as the image runs it, `detflow --help` as its default command, and the
compiled Kubeflow spec's entry points are importable in that environment (about 10 s: uv links the
packages .venv already fetched).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
RECIPE = REPO / "infra" / "container" / "Dockerfile"
UV = REPO / ".tools" / "uv" / "bin" / "uv"
pytestmark = pytest.mark.slow


def _instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the recipe, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", RECIPE.read_text())
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def image_env(tmp_path_factory):
    """/app as the recipe lays it out, its .venv built by the recipe's own install lines."""
    app = tmp_path_factory.mktemp("image") / "app"
    app.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "UV_"))}
    env.update(UV_PROJECT_ENVIRONMENT=str(app / ".venv"), UV_LINK_MODE="hardlink")   # copy in the image: same files
    for instruction, args in _instructions():
        if instruction == "COPY":
            *sources, dest = args.split()
            for source in sources:
                target = app / dest if dest not in ("./", ".") else app / source.rstrip("/")
                if (REPO / source).is_dir():
                    shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(REPO / source, app / pathlib.Path(source).name)
        elif instruction == "RUN" and "uv sync" in args:
            command = args.replace("--python /usr/local/bin/python3.10", "--python 3.10.13")
            argv = shlex.split(command)
            done = subprocess.run([str(UV), *argv[1:]], cwd=app, env=env, capture_output=True, text=True,
                                  timeout=900, check=False)
            assert done.returncode == 0, f"{command}:\n{done.stderr[-3000:]}"
    return app, dict(env, PATH=f"{app / '.venv' / 'bin'}:{env['PATH']}")


def test_the_recipe_copies_what_the_lock_installs_and_the_entry_point_runs(image_env, tmp_path):
    app, env = image_env
    entry = json.loads(dict(_instructions())["ENTRYPOINT"])
    command = json.loads(dict(_instructions())["CMD"])
    assert entry == ["detflow"] and command == ["--help"]
    done = subprocess.run([*entry, *command], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "training-job" in done.stdout and "compile" in done.stdout, done.stderr[-3000:]
    located = subprocess.run(["python", "-c", "import pipelines, components; print(pipelines.__file__)"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert located.stdout.startswith(str(app)), located.stdout      # the image's copy, not the repository's


def test_the_recipes_run_lines_work_in_that_environment(image_env, tmp_path):
    app, env = image_env
    [init] = [args for instruction, args in _instructions() if instruction == "RUN" and "detflow init" in args]
    argv = shlex.split(init.replace("/opt/detflow/config", str(tmp_path / "config")))
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "config" / "pipeline.config").exists() and (tmp_path / "config" / "label_map.pbtxt").exists()


def test_the_compiled_specs_entry_points_are_in_the_image(image_env, tmp_path):
    """The KFP spec compiled by the repository's detflow, its executors checked in the image's environment."""
    from pipelines import cli, kfp_validation  # pylint: disable=import-outside-toplevel
    app, _ = image_env
    out = tmp_path / "detflow.json"
    assert cli.main(["compile", "--target", "kubeflow-v2", "--out", str(out), "--min-map", "0.3"]) == 0
    job = json.loads(out.read_text())
    assert kfp_validation.validate(job, str(app / ".venv" / "bin" / "python")) == []
    importers = [e["importer"]["artifactUri"]["constantValue"]["stringValue"]
                 for e in job["pipelineSpec"]["deploymentSpec"]["executors"].values() if "importer" in e]
    base = [uri for uri in importers if uri.startswith("/app/")]
    assert base and all((app / uri[len("/app/"):]).exists() for uri in base), base      # baked into the image
