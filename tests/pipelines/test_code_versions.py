"""Each node's code version is the hash of exactly the project modules it runs.

On a copy of the project's sources: editing any module a node imports
(transitively) changes that node's version, and only the versions of the nodes
that import it; editing a module no node runs (CLI handlers, test helpers)
changes none.
"""
from __future__ import annotations

import shutil

import pytest

from pipelines import code_versions

NODES = code_versions.NODE_ENTRY_MODULES


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    for package in code_versions.PROJECT_PACKAGES:
        shutil.copytree(code_versions.PROJECT_ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.data-*", "*.index"))
    return root


def _versions(root) -> dict[str, str]:
    return {kind: code_versions.code_version(modules, root) for kind, modules in NODES.items()}


def _files(root) -> dict[str, set[str]]:
    return {kind: {str(p.relative_to(root)) for p in code_versions.module_files(modules, root)}
            for kind, modules in NODES.items()}


def test_the_modules_each_node_runs(tree):
    files = _files(tree)
    assert "detection/visualize.py" in files["evaluator"]           # drawn by the Evaluator
    assert "detection/architectures/ssd/network.py" in files["trainer"]            # imported inside a function
    assert "detection/networks/feature_maps.py" in files["trainer"]
    assert "schemas/protos/pipeline_pb2.py" in files["label_map_validator"]
    assert "components/__init__.py" in files["example_gen"]                  # packages on the way run too
    everything = set().union(*files.values())
    for helper in ("components/evaluator/synthetic.py", "pipelines/cli/train.py",
                   "pipelines/cli/convert.py", "pipelines/cli/__init__.py",
                   "tools/make_base_checkpoint.py"):
        assert helper not in everything, helper
    assert not any(f.startswith("tests/") or "/tests/" in f for f in everything)


def test_editing_a_module_changes_the_version_of_exactly_the_nodes_that_run_it(tree):
    before, files = _versions(tree), _files(tree)
    for path in sorted(set().union(*files.values())):
        source = tree / path
        original = source.read_bytes()
        source.write_bytes(original + b"\n# edited\n")
        try:
            after = _versions(tree)
        finally:
            source.write_bytes(original)
        changed = {kind for kind in NODES if after[kind] != before[kind]}
        assert changed == {kind for kind in NODES if path in files[kind]}, path
    assert _versions(tree) == before


def test_editing_a_module_no_node_runs_changes_no_version(tree):
    before = _versions(tree)
    for path in ("pipelines/cli/train.py", "pipelines/cli/__init__.py", "components/evaluator/synthetic.py"):
        (tree / path).write_text((tree / path).read_text() + "\n# edited\n")
    assert _versions(tree) == before
