"""Runs the OD API's own `model_main_tf2.py` (training) or `exporter_main_v2.py` in the oracle environment.

Usage (with the oracle venv's python, never .venv's):
    .oracle/venv/bin/python tools/oracle/od_train.py train  --pipeline_config_path=... --model_dir=... [...]
    .oracle/venv/bin/python tools/oracle/od_train.py export --pipeline_config_path=... --trained_checkpoint_dir=...
                                                            --output_directory=... [--input_type=image_tensor]

The shim: tf-slim 1.1 (what the OD API's decoders import) calls `control_flow_ops.case` and `.cond`,
which TF 2.15 moved to `control_flow_case.case` and `cond.cond`; without them every tf.Example
decode fails. They are put back here, in this process only. The other packages model_main_tf2.py
imports but its distribution does not declare (lvis, opencv-python-headless, gin-config) are in the
oracle's requirements.lock.
"""

from __future__ import annotations

import sys

from tensorflow.python.ops import cond, control_flow_case, control_flow_ops

control_flow_ops.case = control_flow_case.case
control_flow_ops.cond = cond.cond


def main() -> None:
    """Dispatches to the OD API's train or export main, with absl parsing the rest of argv."""
    from absl import app  # pylint: disable=import-outside-toplevel

    command = sys.argv.pop(1) if len(sys.argv) > 1 else ""
    if command == "train":
        from object_detection import model_main_tf2 as entry  # pylint: disable=import-outside-toplevel
    elif command == "export":
        from object_detection import exporter_main_v2 as entry  # pylint: disable=import-outside-toplevel
    else:
        sys.exit(__doc__)
    app.run(entry.main)


if __name__ == "__main__":
    main()
