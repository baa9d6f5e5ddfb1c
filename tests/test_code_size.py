"""The house's size limits (issue 22): no dataclass over 15 fields, no function over 8 parameters or 80 lines.

Read from the source (ast), so it costs milliseconds. Generated code (`*_pb2.py`) is left out; data tables
live in module constants, not in functions.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROOMS = ("components", "detection", "pipelines", "schemas", "sample_data", "tools", "bench", "infra")
MAX_FIELDS, MAX_PARAMETERS, MAX_LINES = 15, 8, 80


def _sources():
    for room in ROOMS:
        for path in sorted((ROOT / room).glob("**/*.py")):
            if not path.name.endswith("_pb2.py"):
                yield path


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any("dataclass" in ast.unparse(d) for d in node.decorator_list)


def _parameters(node) -> int:
    a = node.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs, *([a.vararg] if a.vararg else []), *([a.kwarg] if a.kwarg else [])]
    return len([n for n in names if n.arg not in ("self", "cls")])


def _oversized(path: pathlib.Path, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and _is_dataclass(node):
            fields = [s for s in node.body if isinstance(s, ast.AnnAssign)]
            if len(fields) > MAX_FIELDS:
                found.append(f"{where}:{node.lineno} dataclass {node.name}: {len(fields)} fields")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if _parameters(node) > MAX_PARAMETERS:
                found.append(f"{where}:{node.lineno} {node.name}: {_parameters(node)} parameters")
            if node.end_lineno - node.lineno + 1 > MAX_LINES:
                found.append(f"{where}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    return found


def test_no_dataclass_function_or_signature_over_the_limits():
    assert [line for path in _sources() for line in _oversized(path, str(path.relative_to(ROOT)))] == []


@pytest.mark.parametrize("source, expected", [
    ("import dataclasses\n@dataclasses.dataclass\nclass A:\n" + "".join(f"    f{i}: int\n" for i in range(16)),
     "dataclass A: 16 fields"),
    ("def f(" + ", ".join(f"a{i}" for i in range(9)) + "):\n    pass\n", "f: 9 parameters"),
    ("def g(self, *, a, b, c, d, e, f, g, h):\n    pass\n", None),
    ("def h():\n" + "    x = 1\n" * 80, "h: 81 lines"),
])
def test_the_check_finds_what_it_names(tmp_path, source, expected):
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = _oversized(path, "probe.py")
    assert [line.split(" ", 1)[1] for line in found] == ([] if expected is None else [expected])
