"""Lineage audit from ML Metadata alone: where an artifact came from, or what was made from it.

`find_artifact` accepts an artifact id, an artifact URI or a pushed-model folder
(matched against the PushedModel's `pushed_destination`). `trace` asks MLMD's
`get_lineage_subgraph` for the graph around it; `lineage_format` renders it as a text
tree, JSON or Graphviz DOT. Going upstream, the other outputs of each execution on the way
are added (the Evaluator's ModelEvaluation beside the blessing the Pusher read), the
text and JSON start with the audit of `lineage_audit` (pushed model <- blessing and
evaluation <- model <- examples <- data, hashes, checkpoint, code versions), and an
artifact made by an earlier pipeline run (a warm-start checkpoint, a baseline) is shown
with that run and not expanded further. Cached executions are left out (a cache hit
re-links what an earlier execution made), and so are resolvers (bookkeeping events only).
"""

from __future__ import annotations

import dataclasses
import os

from ml_metadata.proto import metadata_store_pb2

from pipelines.metadata.run_summary import props, read_metrics

UPSTREAM, DOWNSTREAM = "upstream", "downstream"
_MAX_HOPS = 40  # MLMD counts artifact→execution and execution→artifact as one hop each
_SHOWN_EXEC_PROPS = ("detflow_code_version", "custom_config", "num_steps", "batch_size", "tflite_modes",
                     "min_map", "max_regression",
                     "input_base", "input_config", "annotation_format", "eval_percent")
_HIDDEN_ARTIFACT_PROPS = ("is_external", "tfx_version", "state", "__execution_result__")


class LineageError(Exception):
    """The artifact asked for is not in ML Metadata."""


@dataclasses.dataclass
class Lineage:
    """A lineage subgraph: artifacts and executions by id, events as (artifact, execution, kind, key)."""

    start: int
    direction: str
    artifacts: dict
    executions: dict
    events: list


def find_artifact(store, ref: str) -> metadata_store_pb2.Artifact:
    """The artifact an id, a URI or a pushed-model folder names; raises LineageError if none."""
    if ref.isdigit():
        found = store.get_artifacts_by_id([int(ref)])
        if found:
            return found[0]
        raise LineageError(f"no artifact with id {ref} in ML Metadata")
    path = os.path.abspath(ref).rstrip("/")
    try:
        pushed = sorted(store.get_artifacts_by_type("PushedModel"), key=lambda a: -a.id)
    except Exception:  # the type is not registered: nothing was ever pushed
        pushed = []
    destinations = [(str(props(a).get("pushed_destination", "")).rstrip("/"), a) for a in pushed]
    # A pushed folder is the PushedModel first, even where a later run imported it (as a --champion).
    exact = [a for destination, a in destinations if destination and path == destination]
    if exact:
        return exact[0]
    by_uri = store.get_artifacts_by_uri(path) or store.get_artifacts_by_uri(ref)
    if by_uri:
        return max(by_uri, key=lambda a: a.id)
    for destination, artifact in destinations:
        if destination and path.startswith(destination + "/"):
            return artifact
    raise LineageError(f"{ref}: no artifact with this id, URI or pushed-model folder in ML Metadata")


def trace(store, artifact: metadata_store_pb2.Artifact, direction: str = UPSTREAM) -> Lineage:
    """The lineage subgraph of `artifact` in `direction` (MLMD get_lineage_subgraph).

    Upstream, the other outputs of every execution on the way are added too (the
    Evaluator's ModelEvaluation beside the blessing the Pusher read): a walk along
    input edges alone never reaches them. Resolver bookkeeping (INTERNAL_* events)
    is left out.
    """
    options = metadata_store_pb2.LineageSubgraphQueryOptions(
        starting_artifacts=metadata_store_pb2.LineageSubgraphQueryOptions.StartingNodes(
            filter_query=f"id = {artifact.id}"),
        max_num_hops=_MAX_HOPS,
        direction=(metadata_store_pb2.LineageSubgraphQueryOptions.UPSTREAM if direction == UPSTREAM
                   else metadata_store_pb2.LineageSubgraphQueryOptions.DOWNSTREAM))
    graph = store.get_lineage_subgraph(options)
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    executions = _execution_entries(store, graph.executions)
    graph_events = list(graph.events)
    artifacts = list(graph.artifacts)
    if direction == UPSTREAM and executions:
        known = {a.id for a in artifacts}
        siblings = [ev for ev in store.get_events_by_execution_ids(list(executions))
                    if _event_kind(ev) == "output" and ev.artifact_id not in known]
        artifacts += store.get_artifacts_by_id(sorted({ev.artifact_id for ev in siblings}))
        graph_events += siblings
    entries = {a.id: _artifact_entry(a, artifact_types) for a in artifacts}
    events = set()
    for ev in graph_events:
        kind = _event_kind(ev)
        if kind and ev.artifact_id in entries and ev.execution_id in executions:
            events.add((ev.artifact_id, ev.execution_id, kind, ev.path.steps[0].key if ev.path.steps else ""))
    linked = {x for _, x, _, _ in events}
    executions = {x: e for x, e in executions.items() if x in linked}  # resolvers have only INTERNAL events
    return Lineage(artifact.id, direction, entries, executions, sorted(events))


def _event_kind(event: metadata_store_pb2.Event) -> str:
    """'input', 'output', or '' for resolver-internal and pending events."""
    if event.type in (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT):
        return "input"
    if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT):
        return "output"
    return ""


def _artifact_entry(a: metadata_store_pb2.Artifact, artifact_types: dict) -> dict:
    """An artifact as a plain dict; a ModelEvaluation's COCO metrics (its custom properties) apart."""
    p = {k: v for k, v in props(a).items() if k not in _HIDDEN_ARTIFACT_PROPS}
    entry = {"id": a.id, "type": artifact_types.get(a.type_id, "?"), "uri": a.uri, "properties": p}
    if entry["type"] == "ModelEvaluation":
        entry["metrics"] = read_metrics(a, from_file=False)
        entry["properties"] = {k: v for k, v in p.items() if k not in entry["metrics"]}
    return entry


def _execution_entries(store, found) -> dict:
    """Execution dicts by id (node, run, state, shown properties); cached executions left out."""
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    node_ctx = store.get_context_type("node").id
    run_ctx = store.get_context_type("pipeline_run").id
    executions = {}
    for e in found:
        if e.last_known_state == metadata_store_pb2.Execution.CACHED:
            continue  # a cache hit re-links the artifacts an earlier execution made; show that one
        contexts = store.get_contexts_by_execution(e.id)
        node = next((c.name.split(".", 1)[-1] for c in contexts if c.type_id == node_ctx), "?")
        run = next((c.name for c in contexts if c.type_id == run_ctx), "")
        shown = {k: v for k, v in props(e).items() if k in _SHOWN_EXEC_PROPS}
        executions[e.id] = {"id": e.id, "node": node, "run": run,
                            "type": execution_types.get(e.type_id, "?"),
                            "state": metadata_store_pb2.Execution.State.Name(e.last_known_state),
                            "properties": shown}
    return executions
