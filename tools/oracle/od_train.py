"""Runs the OD API's own `model_main_tf2.py` (training) or `exporter_main_v2.py` in the oracle environment.

Usage (with the oracle venv's python, never .venv's):
    .oracle/venv/bin/python tools/oracle/od_train.py train  --pipeline_config_path=... --model_dir=... [...]
                                                            [--steps_per_iteration=N]
    .oracle/venv/bin/python tools/oracle/od_train.py export --pipeline_config_path=... --trained_checkpoint_dir=...
                                                            --output_directory=... [--input_type=image_tensor]

The shim: tf-slim 1.1 (what the OD API's decoders import) calls `control_flow_ops.case` and `.cond`,
which TF 2.15 moved to `control_flow_case.case` and `cond.cond`; without them every tf.Example
decode fails. They are put back here, in this process only. The other packages model_main_tf2.py
imports but its distribution does not declare (lvis, opencv-python-headless, gin-config) are in the
oracle's requirements.lock.

`--steps_per_iteration=N` (ours, not model_main_tf2.py's) runs `model_lib_v2.train_loop` with
`num_steps_per_iteration=N`: model_main_tf2.py always trains in chunks of 100 steps, so a 2-step run
asked of it trains 100.
"""

from __future__ import annotations

import functools
import sys

from tensorflow.python.ops import cond, control_flow_case, control_flow_ops

control_flow_ops.case = control_flow_case.case
control_flow_ops.cond = cond.cond


def main() -> None:
    """Dispatches to the OD API's train or export main, with absl parsing the rest of argv."""
    from absl import app  # pylint: disable=import-outside-toplevel

    command = sys.argv.pop(1) if len(sys.argv) > 1 else ""
    chunk = [a for a in sys.argv if a.startswith("--steps_per_iteration=")]
    for arg in chunk:
        sys.argv.remove(arg)
    if command == "train":
        from object_detection import model_lib_v2  # pylint: disable=import-outside-toplevel
        from object_detection import model_main_tf2 as entry  # pylint: disable=import-outside-toplevel
        if chunk:
            model_lib_v2.train_loop = functools.partial(
                model_lib_v2.train_loop, num_steps_per_iteration=int(chunk[-1].split("=", 1)[1]))
    elif command == "export":
        from object_detection import exporter_main_v2 as entry  # pylint: disable=import-outside-toplevel
    else:
        sys.exit(__doc__)
    app.run(entry.main)


if __name__ == "__main__":
    main()
