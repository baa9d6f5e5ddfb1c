"""`detflow train` / `detflow init`: exit codes, messages without traces, resume after kill -9."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from components import names
from components.trainer import base_checkpoint
from pipelines import cli
from schemas.pipeline_config import load_pipeline_config
from tests.detection import records

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmd")
    return root, records.write_records(str(root / "rec"), num_images=6, size=64, shards=1)


def _detflow(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _latest_step(model_dir):
    latest = tf.train.latest_checkpoint(model_dir)
    return int(re.search(r"ckpt-(\d+)$", latest).group(1)) if latest else None


def test_resume_after_kill_9(data):
    root, pattern = data
    config = records.tiny_config(str(root), pattern, num_steps=500, batch_size=2)
    model_dir = str(root / "killed")
    proc = _detflow("train", "--config", config.path, "--train", pattern, "--model-dir", model_dir,
                    "--checkpoint-every", "3")
    deadline = time.time() + 400
    while time.time() < deadline and (_latest_step(model_dir) or 0) < 3 and proc.poll() is None:
        time.sleep(0.5)
    step = _latest_step(model_dir)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL and step and step >= 3
    step = _latest_step(model_dir)   # a save may have finished while the signal was on its way

    rerun = _detflow("train", "--config", config.path, "--train", pattern, "--model-dir", model_dir,
                     "--num-steps", str(step + 2))
    out, _ = rerun.communicate(timeout=500)
    # From random initialisation with the backbone frozen, 5 steps learn nothing the image changes: the
    # export is kept, the run says why and exits 1 (serving.model_health).
    assert rerun.returncode == 1 and "collapsed model" in out and "frozen at its random initialisation" in out, out
    assert f"resuming from {model_dir}/ckpt-{step} at step {step}" in out
    assert f"trained steps {step}->{step + 2}" in out
    assert _latest_step(model_dir) == step + 2


def test_bad_config_exits_2_with_its_place(data, tmp_path, capsys):
    root, pattern = data
    bad = tmp_path / "bad.config"
    text = open(records.tiny_config(str(tmp_path), pattern).path).read()
    bad.write_text(text.replace("depth_multiplier: 0.35", "depth_multiplier: 0.35\n      depth_multipler: 2"))
    code = cli.main(["train", "--config", str(bad), "--train", pattern, "--model-dir", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and re.search(r"bad\.config:\d+:\d+: .*depth_multipler", err), err


def test_checkpoint_that_does_not_fit_exits_1_without_trace(data, tmp_path, capsys):
    root, pattern = data
    config = records.tiny_config(str(tmp_path), pattern, fine_tune_checkpoint=base_checkpoint.checkpoint_prefix())
    path = config.path
    with open(path) as f:
        text = f.read().replace("depth_multiplier: 0.35", "depth_multiplier: 0.5")
    with open(path, "w") as f:
        f.write(text)
    code = cli.main(["train", "--config", path, "--train", pattern, "--model-dir", str(tmp_path / "m"),
                     "--num-steps", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert "network differs" in captured.err
    assert "model.ssd.feature_extractor.depth_multiplier: the checkpoint's config has 0.35, this config 0.5" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not tf.io.gfile.glob(str(tmp_path / "m" / "ckpt-*"))


def test_missing_train_files_exit_2(data, tmp_path, capsys):
    root, pattern = data
    config = records.tiny_config(str(tmp_path), pattern)
    code = cli.main(["train", "--config", config.path, "--train", str(tmp_path / "nope-*.gz"),
                     "--model-dir", str(tmp_path / "m")])
    assert code == 2 and "nope-*.gz" in capsys.readouterr().err


def test_init_writes_a_config_that_trains_from_the_embedded_checkpoint(data, tmp_path, capsys):
    root, pattern = data
    out = tmp_path / "proj"
    assert cli.main(["init", str(out), "--classes", "cat,dog,bird"]) == 0
    config = load_pipeline_config(str(out / "pipeline.config"))
    assert config.num_classes == 3
    tc = config.proto.train_config
    assert tc.fine_tune_checkpoint == base_checkpoint.checkpoint_prefix()
    assert tc.fine_tune_checkpoint_type == "detection"
    assert os.path.exists(tc.fine_tune_checkpoint + ".index")
    assert "cat" in (out / "label_map.pbtxt").read_text()
    assert cli.main(["init", str(out), "--classes", "cat"]) == 1          # never overwrites
    assert cli.main(["init", str(tmp_path / "x"), "--classes", "a,a"]) == 2
    capsys.readouterr()

    code = cli.main(["train", "--config", str(out / "pipeline.config"), "--train", pattern,
                     "--model-dir", str(out / "model"), "--num-steps", "2", "--batch-size", "2"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    result = (out / "model" / "restore_report.json").read_text()
    assert '"checkpoint_type": "detection"' in result and "head_class" in result
    assert tf.saved_model.contains_saved_model(str(out / "model" / "export"))


def test_a_model_dir_past_num_steps_is_refused_naming_its_step(data, tmp_path, capsys):
    root, pattern = data
    config = records.tiny_config(str(tmp_path), pattern, num_steps=2, batch_size=2)
    model_dir = str(tmp_path / "m")
    assert cli.main(["train", "--config", config.path, "--train", pattern, "--model-dir", model_dir]) == 1
    assert "collapsed model" in capsys.readouterr().err          # 2 steps from random initialisation
    code = cli.main(["train", "--config", config.path, "--train", pattern, "--model-dir", model_dir,
                     "--num-steps", "1"])
    err = capsys.readouterr().err
    assert code == 1 and f"{model_dir}: is already at step 2, past num_steps 1" in err
    assert _latest_step(model_dir) == 2 and "Traceback" not in err


def test_a_second_train_on_the_same_model_dir_is_refused(data, tmp_path, capsys):
    from components.common import file_lock  # pylint: disable=import-outside-toplevel
    from pipelines.cli import train as commands  # pylint: disable=import-outside-toplevel
    root, pattern = data
    config = records.tiny_config(str(tmp_path), pattern, num_steps=2, batch_size=2)
    model_dir = str(tmp_path / "busy")
    with file_lock.exclusive(model_dir, commands.MODEL_DIR_LOCK) as holder:
        assert holder is None
        code = cli.main(["train", "--config", config.path, "--train", pattern, "--model-dir", model_dir])
    err = capsys.readouterr().err
    assert code == 2 and "another detflow train is using this model dir (pid " in err
    assert not tf.io.gfile.glob(os.path.join(model_dir, "ckpt-*"))


def test_files_that_are_not_tfrecords_are_named_before_the_model_is_built(data, tmp_path, capsys):
    root, pattern = data
    config = records.tiny_config(str(tmp_path), pattern, num_steps=2, batch_size=2)
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (tmp_path / "b.gz").write_bytes(b"not gzip")
    for train, fragment in ((str(images / "*"), "a.png: not a TFRecord file"),
                            (str(tmp_path / "b.gz"), "b.gz: not gzipped TFRecords")):
        code = cli.main(["train", "--config", config.path, "--train", train, "--model-dir", str(tmp_path / "m")])
        err = capsys.readouterr().err
        assert code == 2 and fragment in err and "Traceback" not in err, err


def test_init_writes_a_config_that_checks_clean(tmp_path, capsys):
    out = tmp_path / "proj"
    assert cli.main(["init", str(out), "--classes", "cat,dog,bird"]) == 0
    capsys.readouterr()
    assert cli.main(["config", "check", str(out / "pipeline.config")]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith(f"{out / 'pipeline.config'}: OK\n")
    assert "warning" not in printed.out + printed.err, printed.out
    assert load_pipeline_config(str(out / "pipeline.config")).warnings == []
    assert cli.main(["label-map", "check", str(out / "label_map.pbtxt"), "--config",
                     str(out / "pipeline.config")]) == 0
    printed = capsys.readouterr()
    assert printed.out == "3 classes: cat, dog, bird\n" and printed.err == ""


def test_train_logging_writes_to_the_stderr_of_the_moment():
    """A stderr swapped and closed by an earlier caller must not turn log lines into logging tracebacks."""
    import contextlib
    import io
    import logging

    from pipelines.cli import train as commands
    first = io.StringIO()
    with contextlib.redirect_stderr(first):
        commands.setup_logging()
    first.close()
    second = io.StringIO()
    with contextlib.redirect_stderr(second):
        logging.getLogger("detflow.train").info("resuming from ckpt-2 at step 2")
    assert "resuming from ckpt-2 at step 2" in second.getvalue()
    assert "Logging error" not in second.getvalue()


def test_a_diverging_run_stops_at_the_first_non_finite_loss_and_exports_nothing(data, tmp_path, capsys):
    root, pattern = data
    config = records.tiny_config(str(tmp_path), pattern, num_steps=30, learning_rate_base=1e30, warmup_steps=1)
    code = cli.main(["train", "--config", config.path, "--train", pattern, "--model-dir", str(tmp_path / "m"),
                     "--checkpoint-every", "1000"])
    captured = capsys.readouterr()
    assert code == 1, captured.err[-2000:]
    message = re.search(r"training diverged: the loss is (nan|inf) at step (\d+) \(cls .*\) with learning rate "
                        r"(\S+); nothing was exported(, and the last checkpoint \(ckpt-\d+\) may already hold "
                        r"diverged weights \(train again into a new model dir\))?\. Lower train_config\.optimizer's "
                        r"learning rate", captured.err)
    assert message, captured.err[-2000:]
    assert int(message.group(2)) < 30
    assert "Traceback" not in captured.err + captured.out
    assert not os.path.exists(tmp_path / "m" / "export")
    assert not os.path.exists(tmp_path / "m" / names.TRAIN_RESULT_FILE)
