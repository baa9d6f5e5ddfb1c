"""Prints every message and field reachable from TrainEvalPipelineConfig as JSON: number, type, label, default.

Run with the oracle's python for the OD API's protos (`od`), or with detflow's for
its own (`detflow`); tests/zoo/test_protos.py compares the two.
"""

from __future__ import annotations

import json
import pathlib
import sys


def _walk(descriptor, out: dict) -> None:
    if descriptor.full_name in out:
        return
    out[descriptor.full_name] = {
        f.name: [f.number, f.type, f.label, str(f.default_value) if f.has_default_value else None,
                 f.message_type.full_name if f.message_type else None]
        for f in descriptor.fields}
    for f in descriptor.fields:
        if f.message_type:
            _walk(f.message_type, out)


def main(which: str) -> int:
    """Dumps the `od` or `detflow` pipeline.config schema."""
    if which == "od":
        from object_detection.protos import pipeline_pb2  # pylint: disable=import-outside-toplevel
    else:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
        from schemas.protos import pipeline_pb2  # pylint: disable=import-outside-toplevel
    out: dict = {}
    _walk(pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR, out)
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
