"""Checks a compiled Kubeflow Pipelines v2 / Vertex AI Pipelines job before anyone submits it.

`validate(job, python)` returns the problems of a PipelineJob JSON (what `detflow compile --target
kubeflow-v2` writes), each naming the task, input or executor:
- the IR schema: `pipelineSpec` and `runtimeConfig` parse, strictly, into the `kfp` package's own
  PipelineSpec / RuntimeConfig protos (an unknown or mistyped field is named);
- the KFP SDK's own loader (`kfp.components.load_component_from_text`) accepts the spec;
- the DAG: every task's component exists, every input its component declares (and does not mark
  optional) is given, every upstream task or output a task reads exists, every component's executor exists;
- the containers: each runs in the image the user gave, and its command is an entry point of that image:
  `python -m MODULE` and `--executor_class_path MODULE.CLASS` importable by `python` (an environment
  built as the image builds its own: infra/container/Dockerfile's `uv sync --frozen`), `detflow` a console
  script beside it.
`schedule_problems(cron)` checks a 5-field cron expression; `vertex_schedule(job, cron, ...)` is the
Vertex AI Schedule resource that runs the job on it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Sequence

_CRON_FIELD = re.compile(r"^(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = ("minute", "hour", "day of month", "month", "day of week")


def validate(job: dict, python: str, image: str | None = None) -> list[str]:
    """The problems of the PipelineJob `job` (see the module doc); [] when it is fit to submit."""
    problems = _schema_problems(job)
    if problems:
        return problems
    spec = job["pipelineSpec"]
    return _loader_problems(spec) + _dag_problems(spec) + _container_problems(spec, python, image)


def _schema_problems(job: dict) -> list[str]:
    from google.protobuf import json_format  # pylint: disable=import-outside-toplevel
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel
    problems = [f"{key}: missing" for key in ("pipelineSpec", "runtimeConfig") if key not in job]
    for key, message in (("pipelineSpec", pipeline_spec_pb2.PipelineSpec()),
                         ("runtimeConfig", pipeline_spec_pb2.PipelineJob.RuntimeConfig())):
        if key in job:
            try:
                json_format.ParseDict(job[key], message)
            except json_format.ParseError as error:
                problems.append(f"{key}: not KFP's IR schema: {error}")
    return problems


def _loader_problems(spec: dict) -> list[str]:
    from kfp import components  # pylint: disable=import-outside-toplevel
    try:
        components.load_component_from_text(json.dumps(spec))
    except Exception as error:  # pylint: disable=broad-except  (whatever the SDK's loader refuses)
        return [f"pipelineSpec: the KFP SDK's loader refuses it: {type(error).__name__}: {error}"]
    return []


def _dag_problems(spec: dict) -> list[str]:
    components, executors = spec.get("components", {}), spec.get("deploymentSpec", {}).get("executors", {})
    tasks = spec.get("root", {}).get("dag", {}).get("tasks", {})
    problems = []
    for name, component in components.items():
        if component.get("executorLabel") and component["executorLabel"] not in executors:
            problems.append(f"component {name}: executor {component['executorLabel']} is not in deploymentSpec")
    for task_name, task in tasks.items():
        ref = task.get("componentRef", {}).get("name", "")
        if ref not in components:
            problems.append(f"task {task_name}: component {ref!r} is not in the spec")
            continue
        problems += _task_input_problems(task_name, task, components[ref], tasks)
    return problems


def _task_input_problems(task_name: str, task: dict, component: dict, tasks: dict) -> list[str]:
    problems = []
    given = task.get("inputs", {})
    declared = component.get("inputDefinitions", {})
    for kind in ("parameters", "artifacts"):
        for input_name, definition in declared.get(kind, {}).items():
            if input_name not in given.get(kind, {}) and not definition.get("isOptional"):
                problems.append(f"task {task_name}: input {kind[:-1]} {input_name!r} is not given")
        for input_name, value in given.get(kind, {}).items():
            upstream = value.get("taskOutputArtifact") or value.get("taskOutputParameter")
            if upstream and upstream.get("producerTask") not in tasks:
                problems.append(f"task {task_name}: input {input_name!r} reads task "
                                f"{upstream.get('producerTask')!r}, which is not in the DAG")
    return problems


def _container_problems(spec: dict, python: str, image: str | None) -> list[str]:
    problems, modules = [], {}
    for label, executor in spec.get("deploymentSpec", {}).get("executors", {}).items():
        container = executor.get("container")
        if not container:
            continue
        if not container.get("image") or (image and container["image"] != image):
            problems.append(f"executor {label}: image {container.get('image')!r}, expected {image!r}")
        command, args = container.get("command", []), container.get("args", [])
        if command[:2] == ["python", "-m"] and len(command) > 2:
            modules.setdefault(command[2], []).append(f"executor {label}: command python -m {command[2]}")
        elif command[:1] == ["detflow"]:
            if not os.path.exists(os.path.join(os.path.dirname(python), "detflow")):
                problems.append(f"executor {label}: command detflow: no detflow console script beside {python}")
        else:
            problems.append(f"executor {label}: command {command} is no entry point of the image")
        if "--executor_class_path" in args:
            path = args[args.index("--executor_class_path") + 1]
            modules.setdefault(path, []).append(f"executor {label}: --executor_class_path {path}")
    missing = _not_importable(python, list(modules))
    return problems + [f"{where}: not importable in the image's environment ({why})"
                       for name, why in missing.items() for where in modules[name]]


def not_importable(names: Sequence[str]) -> dict[str, str]:
    """{module or module.attribute: why} of those this interpreter cannot import."""
    import importlib  # pylint: disable=import-outside-toplevel
    import importlib.util  # pylint: disable=import-outside-toplevel
    out = {}
    for name in names:
        try:
            if importlib.util.find_spec(name) is not None:
                continue
        except (ImportError, ValueError):
            pass
        module, _, attribute = name.rpartition(".")
        try:
            getattr(importlib.import_module(module), attribute)
        except Exception as error:  # pylint: disable=broad-except  (any failure to import is the finding)
            out[name] = f"{type(error).__name__}: {error}"
    return out


def _not_importable(python: str, names: Sequence[str]) -> dict[str, str]:
    """`not_importable` as `python` sees it (in this process when it is this interpreter)."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return not_importable(names)
    script = "import json, sys\nfrom pipelines import kfp_validation\n" \
             "print(json.dumps(kfp_validation.not_importable(json.loads(sys.argv[1]))))\n"
    done = subprocess.run([python, "-c", script, json.dumps(list(names))], capture_output=True, text=True,
                          check=False, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if done.returncode:
        return {name: f"{python} failed: {done.stderr.strip().splitlines()[-1:]}" for name in names}
    return json.loads(done.stdout.strip().splitlines()[-1])


def schedule_problems(cron: str) -> list[str]:
    """The problems of a 5-field cron expression (minute hour day-of-month month day-of-week)."""
    fields = cron.split()
    if len(fields) != 5:
        return [f"schedule {cron!r}: a cron expression has 5 fields (minute hour day month weekday), "
                f"not {len(fields)}"]
    problems = []
    for field, name, (low, high) in zip(fields, _CRON_NAMES, _CRON_RANGES):
        numbers = [int(n) for n in re.findall(r"(?<![/0-9])[0-9]+", field)]
        if not _CRON_FIELD.match(field) or any(n < low or n > high for n in numbers):
            problems.append(f"schedule {cron!r}: {name} field {field!r} is not a cron field in {low}-{high}")
    return problems


def vertex_schedule(job: dict, cron: str, project: str, region: str, time_zone: str = "UTC") -> dict:
    """The Vertex AI Schedule (REST `projects.locations.schedules`) running `job` on `cron`, one run at a time."""
    return {"displayName": f"{job.get('displayName', 'detflow')}-schedule", "cron": f"TZ={time_zone} {cron}",
            "maxConcurrentRunCount": "1",
            "createPipelineJobRequest": {"parent": f"projects/{project}/locations/{region}", "pipelineJob": job}}
