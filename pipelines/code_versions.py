"""Each node's code version: a hash of exactly the project modules its executor imports, transitively.

A node's cache key must change when code it runs changes, and only then. So the
version is derived, not listed: starting from the node's entry modules
(`NODE_ENTRY_MODULES`), every `import` / `from ... import` of a project package
(`PROJECT_PACKAGES`), at module level or inside a function, is followed, with
the `__init__.py` of each package on the way (Python runs those too). Modules
no node imports (CLI handlers, scripts, test helpers) are in no version. The
source is read as text, not imported, so this costs milliseconds and imports
nothing.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import pathlib

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("components", "detection", "schemas", "pipelines", "sample_data")
# The modules TFX loads to run each custom node (its executor, and what the executor names by string).
NODE_ENTRY_MODULES = {
    "example_gen": ("components.example_gen.component", "components.example_gen.executor",
                    "components.example_gen.driver"),
    "label_map_validator": ("components.label_map_validator.component", "components.label_map_validator.executor"),
    "trainer": ("components.trainer.component", "components.trainer.executor"),
    "evaluator": ("components.evaluator.component", "components.evaluator.executor"),
    "pusher": ("components.pusher.component", "components.pusher.executor"),
}


def _module_file(root: pathlib.Path, name: str) -> pathlib.Path | None:
    path = root.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=4096)   # by source text: an edited file is parsed again, the others are not
def _imported_names(source: str, module: str, is_package: bool) -> frozenset[str]:
    """Dotted names a module's source imports (absolute; relative imports resolved against `module`)."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)   # `from pkg import module`
    return frozenset(n for n in names if n.split(".")[0] in PROJECT_PACKAGES)


def module_files(entry_modules: tuple[str, ...], root: pathlib.Path = PROJECT_ROOT) -> list[pathlib.Path]:
    """Every project source file that importing `entry_modules` runs, sorted."""
    seen: dict[str, pathlib.Path] = {}
    pending = list(entry_modules)
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):      # the packages on the way, then the module itself
            dotted = ".".join(parts[:i])
            if dotted in seen:
                continue
            path = _module_file(root, dotted)
            if path is None:
                continue                         # a name imported from a module, not a module
            seen[dotted] = path
            pending.extend(_imported_names(path.read_text(encoding="utf-8"), dotted, path.name == "__init__.py"))
    return sorted(set(seen.values()))


def code_version(entry_modules: tuple[str, ...], root: pathlib.Path = PROJECT_ROOT) -> str:
    """A short hash of the relative paths and bytes of `module_files(entry_modules)`."""
    digest = hashlib.sha256()
    for path in module_files(entry_modules, root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def process_code_versions() -> tuple[tuple[str, str], ...]:
    """(node kind, code version) of every custom node, computed once per process.

    Once per process because a process runs the modules it imported first: an edit
    made while it runs does not reach its in-process nodes, so it must not change
    their cache keys either. A new `detflow run` (a new process) sees the edit.
    """
    return tuple((kind, code_version(modules)) for kind, modules in NODE_ENTRY_MODULES.items())
