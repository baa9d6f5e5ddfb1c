"""`detflow compile --target kubeflow-v2`: a Kubeflow Pipelines v2 spec naming every node."""

import json

from pipelines import cli, pipeline


def test_kubeflow_v2_spec_names_every_node(tmp_path, capsys):
    out = tmp_path / "spec" / "detflow.json"
    assert cli.main(["compile", "--target", "kubeflow-v2", "--out", str(out), "--warm-start",
                     "--min-map", "0.3"]) == 0
    spec = json.loads(out.read_text())
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    expected = {"pipeline_config_importer", "label_map_importer", "checkpoint_importer", "ImageExampleGen",
                "StatisticsGen", "LabelMapValidator", "DetectionTrainer", pipeline.WARM_START_RESOLVER,
                pipeline.BASELINE_RESOLVER, "Evaluator", "Pusher"}
    # KFP v2 compiles a resolver into one task per resolved channel: `<node id>-<channel>-resolver`.
    assert all(any(task == node or task.startswith(node + "-") for task in tasks) for node in expected), tasks
    assert spec["runtimeConfig"]["gcsOutputDirectory"].startswith("gs://")
    executors = json.dumps(spec["pipelineSpec"]["deploymentSpec"])
    assert "detflow:latest" in executors
    assert "wrote" in capsys.readouterr().out


def test_tflite_options_reach_the_trainer_and_evaluator_of_the_spec(tmp_path, capsys):
    out = tmp_path / "detflow.json"
    assert cli.main(["compile", "--target", "kubeflow-v2", "--out", str(out), "--min-map", "0.3",
                     "--tflite", "none,int8", "--max-quantization-drop", "0.02", "--representative-size", "50"]) == 0
    capsys.readouterr()
    tasks = json.loads(out.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    evaluator = tasks["Evaluator"]["inputs"]["parameters"]["max_quantization_drop"]
    assert evaluator["runtimeValue"]["constantValue"]["doubleValue"] == 0.02
    trainer = tasks["DetectionTrainer"]["inputs"]["parameters"]
    assert trainer["tflite_modes"]["runtimeValue"]["constantValue"]["stringValue"] == "none,int8"
    assert trainer["tflite_representative_size"]["runtimeValue"]["constantValue"]["intValue"] == "50"


def test_the_trainer_of_the_spec_carries_its_training_job(tmp_path, capsys):
    """--job-* make the DetectionTrainer (in its Kubeflow/Vertex pod) submit a Vertex AI job and wait for it."""
    out = tmp_path / "detflow.json"
    assert cli.main(["compile", "--target", "kubeflow-v2", "--out", str(out), "--min-map", "0.3",
                     "--job-target", "vertex", "--job-workers", "4", "--job-image", "eu.gcr.io/p/detflow:1",
                     "--job-accelerator", "NVIDIA_TESLA_T4", "--job-accelerator-count", "2",
                     "--job-project", "p", "--job-region", "europe-west4"]) == 0
    capsys.readouterr()
    trainer = json.loads(out.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]["DetectionTrainer"]
    carried = trainer["inputs"]["parameters"]["training_job"]["runtimeValue"]["constantValue"]["stringValue"]
    from components.trainer.training_jobs import JobPlatform  # pylint: disable=import-outside-toplevel
    assert JobPlatform.from_json(carried) == JobPlatform(
        "vertex", workers=4, image="eu.gcr.io/p/detflow:1", accelerator="NVIDIA_TESLA_T4", accelerator_count=2,
        project="p", region="europe-west4")
    assert cli.main(["compile", "--target", "kubeflow-v2", "--out", str(out), "--min-map", "0.3",
                     "--job-target", "tfjob"]) == 2
    err = capsys.readouterr().err
    assert "--job-*: training job on tfjob: name the detflow container image" in err and "Traceback" not in err
