"""Two replicas without GPUs: MirroredStrategy over the CPU split into 2 logical devices.

Logical devices must be configured before TensorFlow initialises its devices,
so the training runs in a subprocess (`python -m tests.detection.test_multi_replica OUT`)
that trains the same tiny SSD on the same data twice, on 2 replicas and on
the default (1-replica) strategy, and writes both TrainResults to OUT/results.json.
Every training image has exactly 3 boxes and max_number_of_boxes is 2, so
`boxes_dropped` counts the images a run trained on.
"""
import json
import math
import os
import subprocess
import sys

import pytest

from detection.training import strategy as strategy_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_STEPS, BATCH_SIZE = 3, 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(the subprocess's exit status and output, its results.json path)."""
    out = tmp_path_factory.mktemp("replicas")
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-m", "tests.detection.test_multi_replica", str(out)], cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=500)
    return proc, out / "results.json"


@pytest.fixture
def results(trained):
    proc, path = trained
    assert proc.returncode == 0, proc.stdout[-3000:]
    return json.load(open(path))


@pytest.mark.slow
def test_two_replicas_train_and_export(results):
    two = results["two"]
    assert two["num_replicas"] == 2 and two["strategy"] == "MirroredStrategy"
    assert two["steps"] == NUM_STEPS and two["start_step"] == 0
    for key in ("first_loss", "final_loss", "final_cls_loss", "final_box_loss"):
        assert math.isfinite(two[key]) and two[key] > 0, (key, two[key])
    assert results["exported_outputs"] == ["detection_boxes", "detection_classes", "detection_scores",
                                           "num_detections"]
    assert results["one"]["num_replicas"] == 1


@pytest.mark.slow
def test_boxes_dropped_counts_the_same_images_as_one_replica(results):
    # 3 steps of global batch 2: 6 images, 1 box dropped from each.
    assert results["one"]["boxes_dropped"] == NUM_STEPS * BATCH_SIZE
    assert results["two"]["boxes_dropped"] == results["one"]["boxes_dropped"]


@pytest.mark.slow
def test_a_batch_that_does_not_divide_over_the_replicas_names_the_field(results):
    assert "train_config.batch_size" in results["odd_batch_error"]
    assert "2 replicas" in results["odd_batch_error"]


def test_strategy_names_of_the_trainer_parameter():
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    assert strategy_lib.build_strategy("auto") is tf.distribute.get_strategy()   # no GPU here
    assert isinstance(strategy_lib.build_strategy("mirrored"), tf.distribute.MirroredStrategy)
    assert isinstance(strategy_lib.build_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    assert strategy_lib.build_strategy("default") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="mirrored"):
        strategy_lib.build_strategy("gpu")


def test_tf_config_decides_the_role_and_where_each_worker_writes(monkeypatch):
    """Multi-worker roles (tests/cluster trains two real workers; here only TF_CONFIG is read)."""
    def config(task_type, index, chief=False):
        cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"], **({"chief": ["127.0.0.1:3"]} if chief else {})}
        return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})
    worker = strategy_lib.tf_config_role(config("worker", 1))
    assert strategy_lib.cluster_size(config("worker", 1)) == 2 and worker.num_workers == 2
    assert not worker.is_chief and worker.describe() == "worker 1 of 2"
    assert strategy_lib.worker_dir("/m", worker) == "/m/.worker-worker-1"
    first = strategy_lib.tf_config_role(config("worker", 0))
    assert first.is_chief and first.describe() == "worker 0 of 2 (chief)" and strategy_lib.worker_dir("/m", first) == "/m"
    assert not strategy_lib.tf_config_role(config("worker", 0, chief=True)).is_chief       # the cluster has a chief
    assert strategy_lib.tf_config_role(config("chief", 0, chief=True)).describe() == "chief of 3"
    cluster = strategy_lib.localhost_cluster(2)
    assert len(set(cluster)) == 2 and all(a.startswith("127.0.0.1:") for a in cluster)
    assert strategy_lib.tf_config_role(strategy_lib.tf_config(cluster, 1)).describe() == "worker 1 of 2"
    single = strategy_lib.tf_config_role("")
    assert single.is_chief and single.describe() == "" and strategy_lib.cluster_size("") == 1
    with pytest.raises(ValueError, match="TF_CONFIG is not JSON"):
        strategy_lib.cluster_size("{cluster")
    from components.trainer.component import TrainerParameters  # pylint: disable=import-outside-toplevel
    with pytest.raises(ValueError, match="give it a training_job"):
        TrainerParameters(strategy="multi_worker").check()


def test_detflow_train_refuses_a_tf_config_that_is_not_json(tmp_path, monkeypatch, capsys):
    from pipelines import cli  # pylint: disable=import-outside-toplevel
    from tests.detection import records  # pylint: disable=import-outside-toplevel
    pattern = records.write_records(str(tmp_path / "records"), num_images=1, shards=1)
    config = records.tiny_config(str(tmp_path), pattern).path
    monkeypatch.setenv("TF_CONFIG", "{not json")
    assert cli.main(["train", "--config", config, "--model-dir", str(tmp_path / "m")]) == 2
    assert "error: TF_CONFIG is not JSON" in capsys.readouterr().err


def test_the_component_refuses_an_unknown_strategy():
    from pipelines import tfx_api as tfx  # pylint: disable=import-outside-toplevel

    from components.artifact_types import PipelineConfigFile  # pylint: disable=import-outside-toplevel

    # pylint: disable-next=import-outside-toplevel
    from components.trainer.component import DetectionTrainer, TrainerParameters
    examples = tfx.Importer(source_uri="/x", artifact_type=tfx.standard_artifacts.Examples)
    config = tfx.Importer(source_uri="/c", artifact_type=PipelineConfigFile).with_id("config")
    with pytest.raises(ValueError, match="strategy"):
        DetectionTrainer(examples=examples.outputs["result"], pipeline_config=config.outputs["result"],
                         parameters=TrainerParameters(strategy="tpu"))


def _train_both(out: str) -> None:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    [cpu] = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from detection.training import train_loop  # pylint: disable=import-outside-toplevel
    from detection.training.train_settings import TrainJob  # pylint: disable=import-outside-toplevel
    from tests.detection import records  # pylint: disable=import-outside-toplevel

    pattern = records.write_records(os.path.join(out, "rec"), num_images=4, size=64, boxes_per_image=(3, 3),
                                    shards=1)
    config = records.tiny_config(out, pattern, num_steps=NUM_STEPS, batch_size=BATCH_SIZE, max_boxes=2)
    two = train_loop.train(config, TrainJob(pattern, None, os.path.join(out, "two"), log_every=1),
                           strategy=tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    one = train_loop.train(config, TrainJob(pattern, None, os.path.join(out, "one"), log_every=1, export=False))
    serving = tf.saved_model.load(two.paths.export_dir).signatures["serving_default"]
    outputs = serving(input_tensor=tf.zeros([1, 64, 64, 3], tf.uint8))
    from schemas.problems import ProblemsError  # pylint: disable=import-outside-toplevel
    try:
        train_loop.train(config, TrainJob(pattern, None, os.path.join(out, "odd"), batch_size=3),
                         strategy=tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
        odd_batch_error = None
    except ProblemsError as exc:
        odd_batch_error = str(exc)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"two": two.to_dict(), "one": one.to_dict(), "exported_outputs": sorted(outputs),
                   "odd_batch_error": odd_batch_error}, f)


if __name__ == "__main__":
    _train_both(sys.argv[1])
