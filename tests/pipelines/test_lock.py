"""The run lock: one detflow run per pipeline root, with a message naming the holder."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from pipelines import cli, lock

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _hold_lock(root):
    """A child process that takes the lock on `root` and waits; returns it once it holds the lock."""
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {ROOT_DIR!r})
        from pipelines import lock
        with lock.run_lock({str(root)!r}):
            print("held", flush=True)
            time.sleep(120)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_second_run_is_refused_with_the_holder_named(tmp_path, capsys):
    root = tmp_path / "root"
    child = _hold_lock(root)
    try:
        for name in ("pipeline.config", "annotations.json"):
            (tmp_path / name).write_text("x")
        (tmp_path / "label_map.pbtxt").write_text('item { id: 1 name: "a" }\n')  # parsed before the lock
        (tmp_path / "images").mkdir()
        (tmp_path / "ckpt").mkdir()
        code = cli.main(["run", "--min-map", "0", "--config", str(tmp_path / "pipeline.config"), "--format", "coco",
                         "--annotations", str(tmp_path / "annotations.json"), "--images", str(tmp_path / "images"),
                         "--label-map", str(tmp_path / "label_map.pbtxt"), "--base-checkpoint", str(tmp_path / "ckpt"),
                         "--root", str(root)])
        err = capsys.readouterr().err
        assert code == 2
        assert f"another detflow run holds {root.resolve()} (pid {child.pid}, started " in err
        assert "Traceback" not in err
    finally:
        child.kill()
        child.wait()


def test_lock_is_free_again_after_the_holder_is_killed(tmp_path):
    child = _hold_lock(tmp_path)
    with pytest.raises(lock.RunLockedError):
        with lock.run_lock(str(tmp_path)):
            pass
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with lock.run_lock(str(tmp_path)):
        assert f"pid {os.getpid()}" in (tmp_path / ".detflow.lock").read_text()
