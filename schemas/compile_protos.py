"""Regenerates schemas/protos/*_pb2.py from the .proto sources.

Run as `python -m schemas.compile_protos` (the Makefile's `protos` target).
The repository root is the protoc include path and the .proto files import each
other as "schemas/protos/x.proto", so the generated modules import each other
as `from schemas.protos import x_pb2` and work as the package `schemas.protos`.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = REPO_ROOT / "schemas" / "protos"


def proto_sources() -> list[pathlib.Path]:
    """The .proto files of the schema, sorted by name."""
    return sorted(PROTO_DIR.glob("*.proto"))


def generate(out_dir: pathlib.Path) -> dict[str, str]:
    """Runs protoc on every source into `out_dir`; returns {pb2 file name: text}."""
    # grpc_tools.protoc imports pkg_resources (setuptools), absent from the
    # venv; the compiler extension itself does not need it, and no schema
    # file imports google/protobuf well-known types.
    from grpc_tools import _protoc_compiler  # build-time dependency (dev group)

    args = ["protoc", f"-I{REPO_ROOT}", f"--python_out={out_dir}"]
    args += [str(p.relative_to(REPO_ROOT)) for p in proto_sources()]
    code = _protoc_compiler.run_main([a.encode() for a in args])
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    generated = out_dir / "schemas" / "protos"
    return {p.name: p.read_text() for p in sorted(generated.glob("*_pb2.py"))}


def main() -> int:
    """Writes the generated modules next to their sources; removes stale ones."""
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(pathlib.Path(tmp))
    for stale in PROTO_DIR.glob("*_pb2.py"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (PROTO_DIR / name).write_text(text)
    print(f"wrote {len(files)} modules to {PROTO_DIR.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
