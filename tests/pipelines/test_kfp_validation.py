"""The compiled Kubeflow/Vertex job validated as KFP would take it (pipelines/kfp_validation.py).

detflow's own spec passes: KFP's IR schema (the `kfp` package's protos), the KFP SDK's loader, every task's
inputs, every container's entry point in the image's environment; hand-broken copies fail, each naming what
broke. The schedule and the parameters in the files are those the user gave.
"""
import copy
import json
import sys

import pytest

from pipelines import cli, kfp_validation

IMAGE = "eu.gcr.io/p/detflow:7"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp") / "detflow.json"
    assert cli.main(["compile", "--target", "kubeflow-v2", "--out", str(out), "--image", IMAGE, "--min-map", "0.3",
                     "--max-regression", "0.05", "--schedule", "15 2 * * 1-5", "--project", "p",
                     "--region", "europe-west4"]) == 0
    return out, json.loads(out.read_text())


def test_detflows_spec_validates(compiled):
    _, job = compiled
    assert kfp_validation.validate(job, sys.executable, image=IMAGE) == []


def _broken(job, edit):
    job = copy.deepcopy(job)
    edit(job["pipelineSpec"])
    return kfp_validation.validate(job, sys.executable, image=IMAGE)


def test_a_task_without_an_input_its_component_needs_is_named(compiled):
    _, job = compiled
    problems = _broken(job, lambda s: s["root"]["dag"]["tasks"]["DetectionTrainer"]["inputs"]["artifacts"].pop(
        "examples"))
    assert problems == ["task DetectionTrainer: input artifact 'examples' is not given"]
    problems = _broken(job, lambda s: s["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["parameters"].pop("min_map"))
    assert problems == ["task Evaluator: input parameter 'min_map' is not given"]


def test_a_command_the_image_does_not_have_is_named(compiled):
    _, job = compiled

    def bad_module(spec):
        spec["deploymentSpec"]["executors"]["Pusher_executor"]["container"]["command"][2] += "_typo"

    [problem] = _broken(job, bad_module)
    assert problem.startswith("executor Pusher_executor: command python -m tfx.orchestration.kubeflow.v2.container."
                              "kubeflow_v2_run_executor_typo: not importable in the image's environment")

    def bad_class(spec):
        args = spec["deploymentSpec"]["executors"]["Evaluator_executor"]["container"]["args"]
        args[args.index("--executor_class_path") + 1] = "components.evaluator.executor.Executr"
        spec["deploymentSpec"]["executors"]["Evaluator_executor"]["container"]["image"] = "detflow:old"

    problems = _broken(job, bad_class)
    assert "executor Evaluator_executor: image 'detflow:old', expected 'eu.gcr.io/p/detflow:7'" in problems
    assert any(p.startswith("executor Evaluator_executor: --executor_class_path components.evaluator.executor."
                            "Executr: not importable") and "AttributeError" in p for p in problems), problems


def test_ir_schema_and_dag_errors_are_named(compiled):
    _, job = compiled
    [problem] = _broken(job, lambda s: s["root"]["dag"]["tasks"]["Pusher"].update(retryPolicy={"maxRetries": 2}))
    assert problem.startswith("pipelineSpec: not KFP's IR schema:") and "maxRetries" in problem  # maxRetryCount

    def dangling(spec):
        inputs = spec["root"]["dag"]["tasks"]["Pusher"]["inputs"]["artifacts"]
        next(iter(inputs.values()))["taskOutputArtifact"]["producerTask"] = "Trainer"

    assert any("reads task 'Trainer', which is not in the DAG" in p for p in _broken(job, dangling))


def test_the_schedule_and_parameters_are_those_given(compiled, capsys):
    out, job = compiled
    schedule = json.loads(out.with_suffix(".schedule.json").read_text())
    assert schedule["cron"] == "TZ=UTC 15 2 * * 1-5" and schedule["maxConcurrentRunCount"] == "1"
    assert schedule["createPipelineJobRequest"] == {"parent": "projects/p/locations/europe-west4", "pipelineJob": job}
    evaluator = job["pipelineSpec"]["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["parameters"]
    assert evaluator["min_map"]["runtimeValue"]["constantValue"]["doubleValue"] == 0.3
    assert evaluator["max_regression"]["runtimeValue"]["constantValue"]["doubleValue"] == 0.05
    assert kfp_validation.schedule_problems("15 2 * * *") == []
    assert kfp_validation.schedule_problems("*/10 0-6,22 1 jan,jul MON-FRI") == []
    assert kfp_validation.schedule_problems("15 25 * * *") == [
        "schedule '15 25 * * *': hour field '25' is not a cron field in 0-23"]
    assert cli.main(["compile", "--target", "kubeflow-v2", "--out", str(out.parent / "x.json"), "--min-map", "0.3",
                     "--schedule", "daily at 2"]) == 2
    assert "--schedule: schedule 'daily at 2': a cron expression has 5 fields" in capsys.readouterr().err
