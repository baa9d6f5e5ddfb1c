"""The pipeline's inputs: where the data is (`DataSource`, the ExampleGen's layout) and the
content-addressed copies of the small input files.

TFX hashes no file named only by path, so the pipeline.config and the label map
are copied to `<root>/inputs/<sha256>/` and imported from there, and the
fine-tune checkpoint is imported with its content hash as a property: changed
content is a new artifact, and so a new cache key downstream.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib

from tfx.dsl.io import fileio

from pipelines import configs


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Where the images and annotations are. `annotations`/`images` may contain `{SPAN}`."""

    format: str
    annotations: str
    images: str
    eval_percent: int = configs.EVAL_PERCENT
    strict: bool = False
    # What the LabelMapValidator lets through before training (configs.MAX_DROPPED_BOX_SHARE).
    max_dropped_box_share: float = configs.MAX_DROPPED_BOX_SHARE
    allow_empty_classes: bool = configs.ALLOW_EMPTY_CLASSES
    # TFRecord compression of the ExampleGen's output (schemas.example_format.COMPRESSIONS).
    compression: str = "gzip"


def content_hash(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, or of a folder's relative file names and bytes (sorted)."""
    path = pathlib.Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise FileNotFoundError(f"{path}: no such file or folder, or it is empty")
    for f in files:
        if f != path:
            digest.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def stage_input(pipeline_root: str, path: str, name: str) -> tuple[str, str]:
    """Copies a small input file to `<root>/inputs/<sha256>/<name>`; returns (folder URI, sha256).

    The folder is the artifact URI, so the same content always maps to the same
    artifact (Importer reimport=False) and changed content to a new one.
    """
    sha = content_hash(path)
    folder = os.path.join(pipeline_root, configs.INPUTS_DIR, sha)
    target = os.path.join(folder, name)
    if not fileio.exists(target):
        fileio.makedirs(folder)
        fileio.copy(str(path), target + ".tmp", overwrite=True)
        fileio.rename(target + ".tmp", target, overwrite=True)
    return folder, sha


def example_gen_inputs(data: DataSource) -> tuple[str, str, str]:
    """(input_base, annotations pattern relative to it, images folder) for the ImageExampleGen.

    With `{SPAN}` in the annotations path, input_base is the folder above the first
    path part holding `{SPAN}`; the images folder is made relative to the
    annotations' folder when it holds `{SPAN}` too (each span a self-contained drop).
    """
    annotations, images = _absolute(data.annotations), _absolute(data.images)
    parts = annotations.split("/")
    first = next((i for i, p in enumerate(parts) if "{SPAN}" in p), len(parts) - 1)
    input_base, pattern = "/".join(parts[:first]), "/".join(parts[first:])
    folder = os.path.dirname(annotations)
    if "{SPAN}" in images and images.startswith(folder + "/"):
        images = images[len(folder) + 1:]
    return input_base, pattern, images


def _absolute(path: str) -> str:
    """An absolute local path; URIs (gs://, s3://) unchanged."""
    return path.rstrip("/") if "://" in path else os.path.abspath(path)


def hash_if_local(path: str) -> str:
    """content_hash of a local file or folder; "" for a URI or a path that does not exist."""
    return "" if "://" in path or not os.path.exists(path) else content_hash(path)


def sha_props(sha: str) -> dict:
    """The Importer custom properties recording a content hash (none when it is unknown)."""
    return {"sha256": sha} if sha else {}
