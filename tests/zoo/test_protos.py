"""detflow's pipeline.config protos are the OD API's: every message and field detflow has, the OD API has,
with the same number, type, label and default (detflow may lack newer OD API fields)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.zoo.fixtures import REPO, fixture

ORACLE_PYTHON = REPO / ".oracle" / "venv" / "bin" / "python"
SCRIPT = REPO / "tools" / "oracle" / "dump_proto_fields.py"


def _dump(python, which: str) -> dict:
    proc = subprocess.run([str(python), str(SCRIPT), which], capture_output=True, text=True, timeout=300,
                          check=False, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_every_detflow_field_is_the_od_api_field():
    fixture("ssd_mobilenet_v2_fpnlite_320")     # fails with `run make oracle` when the oracle is missing
    od, ours = _dump(ORACLE_PYTHON, "od"), _dump(sys.executable, "detflow")
    problems = []
    for message, fields in sorted(ours.items()):
        if message not in od:
            problems.append(f"{message}: no such message in the OD API")
            continue
        for name, spec in sorted(fields.items()):
            if name not in od[message]:
                problems.append(f"{message}.{name}: no such field in the OD API")
            elif od[message][name] != spec:
                problems.append(f"{message}.{name}: detflow {spec}, OD API {od[message][name]}")
    assert problems == []
    assert len(ours) > 100
