"""Multi-worker training: two `detflow train` processes on 127.0.0.1, one cluster through TF_CONFIG.

Run by `make test-long` (which `.ci/run` calls after `make test`): eight TensorFlow processes are more than
`make test`'s time allows. The embedded checkpoint's network, batch 4 (2 per worker), 4 record files
(2 per worker, sharded by file):
- both workers log the same weights fingerprint after every step; the loss falls;
- only the chief's model dir holds checkpoints, the export and train_result.json; the other worker's
  folder is gone; the result names MultiWorkerMirroredStrategy over 2 replicas;
- the 2-worker export scores a held-out set as a one-process run with the same global batch does, within
  the difference two seeds of the one-process run make;
- a run whose second worker is killed mid-run ends on the chief with one line naming the lost worker and
  the last checkpoint, and the same two commands resume from it.
"""
from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from components.trainer import base_checkpoint
from detection.training import strategy as strategy_lib
from tests.detection import records

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DETFLOW = os.path.join(os.path.dirname(sys.executable), "detflow")
pytestmark = [pytest.mark.slow, pytest.mark.long]
FINGERPRINT = re.compile(r"(worker \d) of 2(?: \(chief\))?: step (\d+) weights fingerprint (\S+)")


def _train_args(pattern: str, model_dir: str, num_steps: int) -> list[str]:
    return ["--train", pattern, "--model-dir", model_dir, "--num-steps", str(num_steps), "--checkpoint-every", "2",
            "--log-every", "1"]


def _start(root, config: str, pattern: str, model_dir: str, num_steps: int, workers: list[str], index: int,
           log_name: str) -> subprocess.Popen:
    env = dict(os.environ, TF_CONFIG=strategy_lib.tf_config(workers, index), TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    log = open(root / log_name, "w", encoding="utf-8")   # closed by the process's end (inherited)
    return subprocess.Popen([DETFLOW, "train", "--config", config, *_train_args(pattern, model_dir, num_steps)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _fingerprints(text: str) -> dict[int, str]:
    return {int(step): value for _, step, value in FINGERPRINT.findall(text)}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    pattern = records.write_records(str(root / "records"), num_images=16, size=64, num_classes=5, shards=4)
    config = records.tiny_config(str(root), pattern, num_classes=5, num_steps=6, batch_size=4,
                                 fine_tune_checkpoint=base_checkpoint.checkpoint_prefix()).path
    return root, config, pattern


@pytest.fixture(scope="module")
def trained(cluster):
    root, config, pattern = cluster
    model_dir = str(root / "model")
    workers = strategy_lib.localhost_cluster(2)
    procs = [_start(root, config, pattern, model_dir, 6, workers, i, f"worker{i}.log") for i in range(2)]
    codes = [p.wait(timeout=600) for p in procs]
    logs = [(root / f"worker{i}.log").read_text() for i in range(2)]
    return model_dir, codes, logs


def test_both_workers_hold_the_same_weights_after_every_step_and_the_loss_falls(trained):
    _, codes, logs = trained
    assert codes == [0, 0], "\n\n".join(log[-3000:] for log in logs)
    chief, worker = (_fingerprints(log) for log in logs)
    assert sorted(chief) == list(range(1, 7)) and chief == worker, (chief, worker)
    losses = [float(v) for v in re.findall(r"step \d+/6 loss (\S+)", logs[0])]
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    assert "MultiWorkerMirroredStrategy x2, worker 0 of 2 (chief)" in logs[0]
    for i, log in enumerate(logs):
        assert f"input pipeline {i} of 2 reads 2 of the 4 files (sharded by file)" in log, log[-3000:]
    assert "Traceback" not in "".join(logs)


def test_only_the_chief_writes_the_model_dir(trained):
    model_dir, codes, logs = trained
    assert codes == [0, 0]
    names = set(os.listdir(model_dir))
    assert {"export", "train_result.json", "checkpoint", "ckpt-6.index"} <= names, names
    assert not [n for n in names if n.startswith(".worker-")], names     # the worker's own folder is removed
    result = json.load(open(os.path.join(model_dir, "train_result.json")))
    assert result["strategy"] == "MultiWorkerMirroredStrategy" and result["num_replicas"] == 2
    assert result["chief"] is True and result["worker"] == "worker 0 of 2 (chief)" and result["steps"] == 6
    assert os.path.exists(os.path.join(model_dir, "export", "saved_model.pb"))
    assert "worker 1 of 2: trained steps 0->6; the chief writes" in logs[1]


def test_the_two_worker_model_scores_as_a_one_process_run_with_the_same_global_batch(cluster, trained):
    """The same config, global batch 4 and 6 steps in one process (twice, seeds 0 and 1: the noise between two
    such runs): the exports' mAP on the same held-out records."""
    from components.evaluator import model_eval  # pylint: disable=import-outside-toplevel
    from pipelines import cli  # pylint: disable=import-outside-toplevel
    root, config, pattern = cluster
    model_dir, codes, _ = trained
    assert codes == [0, 0]
    exports = {"workers": os.path.join(model_dir, "export")}
    for seed in (0, 1):
        single = str(root / f"single{seed}")
        # 1: trained, with a health note on so short a run
        assert cli.main(["train", "--config", config, *_train_args(pattern, single, 6), "--seed", str(seed)]) in (0, 1)
        exports[f"seed{seed}"] = os.path.join(single, "export")
    held_out = records.write_records(str(root / "held_out"), num_images=16, size=64, num_classes=5, shards=1,
                                     seed=3)
    accumulators, _ = model_eval.evaluate_exports(sorted(glob.glob(held_out)), exports, model_eval.read_label_map(
        str(root / "label_map.pbtxt")))
    scores = {k: a.result().metrics["DetectionBoxes_Precision/mAP@.50IOU"] for k, a in accumulators.items()}
    print("multi-worker vs one process:", scores)
    # The workers read the records in another order than one process (each its own files), as another seed
    # does: their model differs from a one-process run's by about what two seeds' do.
    noise = max(abs(scores["seed0"] - scores["seed1"]), MIN_MAP_NOISE)
    assert abs(scores["workers"] - scores["seed0"]) <= 2 * noise, scores


MIN_MAP_NOISE = 0.03


def test_a_lost_worker_ends_the_run_in_one_line_and_a_rerun_resumes(cluster):
    root, config, pattern = cluster
    model_dir = str(root / "killed")
    workers = strategy_lib.localhost_cluster(2)
    procs = [_start(root, config, pattern, model_dir, 40, workers, i, f"killed{i}.log") for i in range(2)]
    deadline = time.time() + 400
    while time.time() < deadline and "step 5 weights" not in (root / "killed0.log").read_text():
        assert procs[0].poll() is None and procs[1].poll() is None, (root / "killed0.log").read_text()[-3000:]
        time.sleep(0.5)
    os.killpg(procs[1].pid, signal.SIGKILL)
    code = procs[0].wait(timeout=COLLECTIVE_WAIT)
    text = (root / "killed0.log").read_text()
    assert code == 1 and "Traceback" not in text, text[-3000:]
    [line] = [line for line in text.splitlines() if "the cluster lost a worker" in line]
    assert "worker 0 of 2 (chief)" in line and re.search(r"the last checkpoint is ckpt-(\d+)", line), line
    step = int(re.search(r"the last checkpoint is ckpt-(\d+)", line).group(1))
    assert step >= 2      # a checkpoint from before the kill (the save under way then fails with it)

    workers = strategy_lib.localhost_cluster(2)
    procs = [_start(root, config, pattern, model_dir, step + 2, workers, i, f"resumed{i}.log") for i in range(2)]
    codes = [p.wait(timeout=600) for p in procs]
    logs = [(root / f"resumed{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n\n".join(log[-3000:] for log in logs)
    for log in logs:
        assert f"resuming from {model_dir}/ckpt-{step} at step {step}" in log, log[-3000:]
    assert _fingerprints(logs[0]) == _fingerprints(logs[1]) and sorted(_fingerprints(logs[0])) == [step + 1,
                                                                                                   step + 2]


# The chief notices a dead peer when its next collective fails: at once when the connection drops, at the
# latest after strategy.COLLECTIVE_TIMEOUT_SECONDS.
COLLECTIVE_WAIT = 300
