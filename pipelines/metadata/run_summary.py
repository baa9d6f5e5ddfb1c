"""What a pipeline run did, read back from ML Metadata: per node ran / cached / failed, metrics, blessing, push.

A run is a `pipeline_run` context; its executions carry the node they ran for (the
`node` context `<pipeline>.<node_id>`) and their `last_known_state`. Importers and
resolvers are TFX system nodes that always run (in milliseconds, computing nothing),
so they are reported as `resolved` rather than as ran or cached.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.names import BLESSED_PROPERTY, BLESSING_MESSAGE_PROPERTY
from pipelines import configs

TFLITE_SHOWN = ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU")

_STATE_NAMES = {
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.NEW: "new",
    metadata_store_pb2.Execution.CANCELED: "canceled",
}
_SYSTEM_TYPES = ("tfx.dsl.components.common.importer.Importer",
                 "tfx.dsl.components.common.resolver.Resolver")
PRIMARY_METRIC = "DetectionBoxes_Precision/mAP@.50IOU"
# Every detflow run that is not stopped ends with the Pusher (it records pushed=0 when not blessed).
FINAL_NODE = "Pusher"


@dataclasses.dataclass
class NodeRun:
    """One node's execution in a run."""

    node_id: str
    state: str          # ran | cached | failed | resolved | running | stopped (killed) | ...
    execution_id: int
    seconds: float
    error: str = ""


@dataclasses.dataclass
class RunSummary:
    """One pipeline run as ML Metadata recorded it."""

    run_id: str
    started_ms: int
    nodes: list[NodeRun]
    metrics: dict
    blessed: Optional[bool]
    pushed: Optional[str]
    pushed_version: Optional[str]
    model_uri: Optional[str]
    blessing_message: str = ""
    already_pushed: Optional[str] = None  # the same model, pushed by an earlier run (cache hit)
    missing_nodes: list[str] = dataclasses.field(default_factory=list)  # nodes of the pipeline it never ran
    failure_log: Optional[str] = None  # <root>/logs/run-*.log written when it failed (detflow run)
    data: dict = dataclasses.field(default_factory=dict)  # the ImageExampleGen's conversion report
    tflite: dict = dataclasses.field(default_factory=dict)  # {mode: {"metrics": {...}, "drop": x}} per variant

    @property
    def status(self) -> str:
        """`failed` if a node failed, `running` if one is unfinished, `incomplete` if it stopped early."""
        states = {n.state for n in self.nodes}
        if "failed" in states:
            return "failed"
        if states & {"running", "new"}:
            return "running"
        return "incomplete" if self.missing_nodes or "stopped" in states else "complete"

    @property
    def stopped_at(self) -> str:
        """Where an incomplete run stopped: the nodes killed while running, the nodes it never ran."""
        parts = [f"killed during {n.node_id}" for n in self.nodes if n.state == "stopped"]
        if self.missing_nodes:
            parts.append(f"no execution of {', '.join(self.missing_nodes)}")
        return "; ".join(parts)

    @property
    def failed_node(self) -> Optional[NodeRun]:
        """The first node that failed, or None."""
        return next((n for n in self.nodes if n.state == "failed"), None)

    def to_json(self) -> dict:
        """A JSON-ready dict (with `status` and `failed_node`)."""
        failed = self.failed_node
        return dict(dataclasses.asdict(self), status=self.status,
                    failed_node=failed.node_id if failed else None, error=failed.error if failed else None)


def open_store(root: str, metadata_path: Optional[str] = None,
               must_exist: bool = True) -> metadata_store.MetadataStore:
    """The MLMD store of a pipeline root (`<root>/metadata.sqlite` unless `metadata_path`)."""
    path = metadata_path or os.path.join(root, configs.METADATA_FILE)
    if must_exist and not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no ML Metadata store here; is {root} a detflow pipeline root?")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def _value(v: metadata_store_pb2.Value):
    which = v.WhichOneof("value")
    return getattr(v, which) if which else None


def props(artifact) -> dict:
    """An MLMD artifact's properties and custom properties as one plain dict."""
    out = {k: _value(v) for k, v in artifact.properties.items()}
    out.update({k: _value(v) for k, v in artifact.custom_properties.items()})
    return out


def node_of(store, execution_ids: list[int]) -> dict[int, str]:
    """Maps execution ids to their node ids (from the `node` contexts)."""
    result = {}
    for ctx in store.get_contexts_by_type("node"):
        node_id = ctx.name.split(".", 1)[-1]
        for e in store.get_executions_by_context(ctx.id):
            if e.id in execution_ids:
                result[e.id] = node_id
    return result


def read_metrics(evaluation, from_file: bool = True) -> dict:
    """The metrics of a ModelEvaluation artifact: its custom properties, else `<uri>/metrics.json`.

    The Evaluator records the 12 COCO metrics, the per-category APs and the keypoint metrics a config asks
    for as float custom properties under their OD API names; `from_file=False` reads ML Metadata only.
    """
    found = {k: v for k, v in props(evaluation).items()
             if k.startswith(("DetectionBoxes", "Keypoints_")) and isinstance(v, float)}
    if found or not from_file:
        return found
    path = os.path.join(evaluation.uri, "metrics.json")
    if os.path.exists(path):
        with open(path) as fh:
            data = json.load(fh)
        return data.get("metrics", data) if isinstance(data, dict) else {}
    return {}


def tflite_metrics(properties: dict) -> dict:
    """{quantize mode: {"metrics": {name: value}, "drop": x}} of the TFLite variants a ModelEvaluation's
    properties (`props(...)`) record; `drop` is how far the judged metric fell from the SavedModel's."""
    found: dict = {}
    for key, value in properties.items():
        if not key.startswith("tflite_") or not isinstance(value, float):
            continue
        if key.endswith("_drop"):
            found.setdefault(key[len("tflite_"):-len("_drop")], {"metrics": {}})["drop"] = value
        elif ":" in key:
            mode, name = key[len("tflite_"):].split(":", 1)
            found.setdefault(mode, {"metrics": {}})["metrics"][name] = value
    return found


def _outputs(store, executions) -> list[tuple[str, metadata_store_pb2.Artifact, bool]]:
    """(event key, artifact, from a cache hit) for every output of the given executions."""
    cached = {e.id for e in executions if e.last_known_state == metadata_store_pb2.Execution.CACHED}
    events = [e for e in store.get_events_by_execution_ids([e.id for e in executions])
              if e.type == metadata_store_pb2.Event.OUTPUT]
    by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    return [(e.path.steps[0].key if e.path.steps else "", by_id[e.artifact_id], e.execution_id in cached)
            for e in events]


def summarize_run(store, run_context: metadata_store_pb2.Context) -> RunSummary:
    """Reads one `pipeline_run` context back as a RunSummary."""
    executions = sorted(store.get_executions_by_context(run_context.id), key=lambda e: e.id)
    types = {t.id: t.name for t in store.get_execution_types()}
    nodes_by_exec = node_of(store, [e.id for e in executions])
    nodes = []
    for e in executions:
        state = _STATE_NAMES.get(e.last_known_state, "unknown")
        if types.get(e.type_id) in _SYSTEM_TYPES and state == "ran":
            state = "resolved"
        error = ""
        if "__execution_result__" in e.custom_properties:
            result = json.loads(e.custom_properties["__execution_result__"].string_value or "{}")
            error = result.get("resultMessage", "")
        seconds = max(0.0, (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000)
        nodes.append(NodeRun(nodes_by_exec.get(e.id, types.get(e.type_id, "?")), state, e.id, seconds, error))
    metrics, blessed, pushed, version, model_uri, message = {}, None, None, None, None, ""
    already, data, tflite = None, {}, {}
    for key, artifact, from_cache in _outputs(store, executions):
        p = props(artifact)
        if key == "examples" and p.get("conversion_report"):
            data = json.loads(p["conversion_report"])
        elif key == "evaluation":
            metrics, tflite = read_metrics(artifact), tflite_metrics(props(artifact))
        elif key == "blessing":
            blessed = p.get(BLESSED_PROPERTY) == 1
            message = str(p.get(BLESSING_MESSAGE_PROPERTY, ""))
        elif key == "pushed_model" and p.get("pushed") == 1 and from_cache:
            already = p.get("pushed_destination")  # pushed by an earlier run, nothing new now
        elif key == "pushed_model" and p.get("pushed") == 1:
            pushed, version = p.get("pushed_destination"), p.get("pushed_version")
        elif key == "model" and artifact.type_id == _type_id(store, "Model"):
            model_uri = artifact.uri
    return RunSummary(run_id=run_context.name, started_ms=run_context.create_time_since_epoch,
                      nodes=nodes, metrics=metrics, blessed=blessed, pushed=pushed,
                      pushed_version=str(version) if version is not None else None, model_uri=model_uri,
                      blessing_message=message, already_pushed=already, data=data, tflite=tflite)


def _type_id(store, name: str) -> int:
    try:
        return store.get_artifact_type(name).id
    except Exception:  # the type is not registered yet: no artifact has it
        return -1


def list_runs(store, pipeline_name: str = configs.PIPELINE_NAME) -> list[RunSummary]:
    """Every run of `pipeline_name`, oldest first.

    A detflow run with no Pusher execution that failed nowhere stopped early (killed):
    its `missing_nodes` name the nodes other runs ran and it did not (status `incomplete`).
    """
    runs = []
    for ctx in store.get_contexts_by_type("pipeline_run"):
        executions = store.get_executions_by_context(ctx.id)
        if not executions:
            continue
        node_names = {c.name for c in store.get_contexts_by_execution(executions[0].id)
                      if c.type_id == store.get_context_type("node").id}
        if any(n.startswith(pipeline_name + ".") for n in node_names):
            runs.append(summarize_run(store, ctx))
    if pipeline_name == configs.PIPELINE_NAME:
        expected = {n.node_id for r in runs for n in r.nodes if n.state != "resolved"} | {FINAL_NODE}
        for r in runs:
            ran = {n.node_id for n in r.nodes}
            if FINAL_NODE not in ran:
                r.missing_nodes = sorted(expected - ran)
    return sorted(runs, key=lambda r: (r.started_ms, r.run_id))


def settle_runs(runs: list[RunSummary], root: str) -> None:
    """Completes from the pipeline root what ML Metadata cannot say about `runs` (oldest first).

    TFX records no message on an execution that raised, and leaves an execution
    RUNNING for ever when its process dies or a driver raises. So: a run's failure log
    is the `<root>/logs/run-*.log` written between its start and the next run's, and
    its last error line becomes the failed node's error; an unfinished node of a run
    that no live `detflow run` holds (the root's lock) is `failed` when such a log
    exists, else `stopped` (the process was killed).
    """
    logs = _failure_logs(root)
    holder_alive = _lock_holder_alive(root)
    for i, run in enumerate(runs):
        until = runs[i + 1].started_ms if i + 1 < len(runs) else float("inf")
        # log names have whole seconds: a log of this run can be stamped up to 1 s before its start
        log = next((path for ms, path in logs if run.started_ms - 1000 < ms < until), None)
        settle_run(run, log, finished=not (holder_alive and i == len(runs) - 1))


def settle_run(run: RunSummary, log: Optional[str], error: Optional[str] = None, finished: bool = True) -> None:
    """Settles one run: if `finished`, its unfinished nodes are `failed` (there is a failure `log`)
    or `stopped`; the failed node gets `error` (default: the log's last error line) and the run its log."""
    if finished:
        for node in run.nodes:
            if node.state in ("running", "new"):
                node.state = "failed" if log else "stopped"
    failed = run.failed_node
    if failed is not None and log:
        run.failure_log = log
        failed.error = failed.error or error or _last_error(log)


def _failure_logs(root: str) -> list:
    """[(UTC ms, path)] of the run logs under `<root>/logs/`, oldest first."""
    logs_dir = os.path.join(root, configs.LOGS_DIR)
    if not os.path.isdir(logs_dir):
        return []
    return sorted((_log_time_ms(name), os.path.join(logs_dir, name)) for name in os.listdir(logs_dir)
                  if _log_time_ms(name) is not None)


def _lock_holder_alive(root: str) -> bool:
    """Whether the process named in the root's run lock file (pipelines/lock.py) is alive."""
    try:
        with open(os.path.join(root, configs.LOCK_FILE)) as fh:
            text = fh.read().split(",", 1)[0]
        pid = int(text.split()[1]) if text.startswith("pid ") else 0
    except (OSError, ValueError, IndexError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _log_time_ms(name: str) -> Optional[int]:
    """The UTC time in ms of a `run-YYYYmmddTHHMMSSZ.log` name, or None."""
    import datetime

    try:
        stamp = datetime.datetime.strptime(name, "run-%Y%m%dT%H%M%SZ.log")
    except ValueError:
        return None
    return int(stamp.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def _last_error(path: str) -> str:
    """The exception of a Python traceback file: the lines after its last `  File` frame."""
    with open(path, errors="replace") as fh:
        lines = fh.read().rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    rest = lines[frames[-1] + 2:] if frames else lines[-1:]
    return "\n".join(line for line in rest if line.strip())


def latest_run(store, pipeline_name: str = configs.PIPELINE_NAME) -> Optional[RunSummary]:
    """The most recent run of `pipeline_name`, or None."""
    runs = list_runs(store, pipeline_name)
    return runs[-1] if runs else None
