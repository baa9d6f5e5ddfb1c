"""Lineage audit from ML Metadata alone: where an artifact came from, or what was made from it.

`find_artifact` accepts an artifact id, an artifact URI or a pushed-model folder
(matched against the PushedModel's `pushed_destination`). `trace` asks MLMD's
`get_lineage_subgraph` for the graph around it; the result renders as a text tree,
JSON or Graphviz DOT. Going upstream, the other outputs of each execution on the way
are added (the Evaluator's ModelEvaluation beside the blessing the Pusher read), the
text and JSON start with the audit of `lineage_audit` (pushed model <- blessing and
evaluation <- model <- examples <- data, hashes, checkpoint, code versions), and an
artifact made by an earlier pipeline run (a warm-start checkpoint, a baseline) is shown
with that run and not expanded further. Cached executions are left out (a cache hit
re-links what an earlier execution made), and so are resolvers (bookkeeping events only).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

from ml_metadata.proto import metadata_store_pb2

from pipelines import lineage_audit
from pipelines.run_report import props, read_metrics

UPSTREAM, DOWNSTREAM = "upstream", "downstream"
_MAX_HOPS = 40  # MLMD counts artifact→execution and execution→artifact as one hop each
_SHOWN_EXEC_PROPS = ("detflow_code_version", "custom_config", "num_steps", "batch_size", "tflite_modes",
                     "min_map", "max_regression",
                     "input_base", "input_config", "annotation_format", "eval_percent")
_HEADLINE_METRICS = ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU")
_TREE_ORDER = {"model_blessing": 0, "model": 1}  # the chain first: pushed <- blessing <- model <- examples
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


def _describe_artifact(a: dict) -> str:
    p = a["properties"]
    parts = [f"{a['type']} #{a['id']}"]
    for key in ("span", "version", "input_fingerprint", "split_names", "sha256", "content_hash",
                "blessed", "pushed_destination", "pushed_version"):
        if key in p and p[key] not in ("", None):
            value = str(p[key])
            parts.append(f"{key}={value if len(value) < 80 else value[:77] + '...'}")
    others = {k: v for k, v in p.items() if k not in {"span", "version", "input_fingerprint", "split_names",
                                                      "sha256", "content_hash", "blessed",
                                                      "pushed_destination", "pushed_version", "pushed",
                                                      "current_model_id", "current_model",
                                                      "baseline_model_id", "baseline_model", "name",
                                                      "producer_component"}}
    counts = {k: v for k, v in others.items() if isinstance(v, (int, float)) and len(k) < 40}
    if counts:
        parts.append(", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in sorted(counts.items())[:12]))
    for name in _HEADLINE_METRICS:
        if name in a.get("metrics", {}):
            parts.append(f"{name.split('/')[-1]}={a['metrics'][name]:.4f}")
    parts.append(f"uri={a['uri']}")
    return "  ".join(parts)


def _describe_execution(e: dict, start_run: str, direction: str) -> str:
    text = f"{e['node']} (execution #{e['id']}, {e['state'].lower()}"
    if e["run"] and e["run"] != start_run:
        text += f", {'earlier ' if direction == UPSTREAM else ''}run {e['run']}"
    text += ")"
    for k, v in e["properties"].items():
        text += f"  {k}={_compact(v)}"
    return text


def _compact(value, limit: int = 160) -> str:
    """One line of at most `limit` characters (JSON re-serialised without whitespace)."""
    text = str(value)
    try:
        text = json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
    except ValueError:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _producer_run(lineage: Lineage, artifact_id: int) -> str:
    for a, x, kind, _ in lineage.events:
        if a == artifact_id and kind == "output":
            return lineage.executions[x]["run"]
    return ""


def format_tree(lineage: Lineage) -> str:
    """The lineage as an indented text tree rooted at the starting artifact.

    Upstream, an execution's other outputs are listed as `also made` under it (the
    evaluation beside the blessing), and a blessing is expanded before the model so
    the tree reads pushed model <- blessing and evaluation <- model <- examples.
    """
    start_run = _producer_run(lineage, lineage.start)
    upstream = lineage.direction == UPSTREAM
    lines: list[str] = []
    seen: set[int] = set()

    def walk_artifact(aid: int, key: str, depth: int) -> None:
        pad = "  " * depth
        label = f"[{key}] " if key else ""
        lines.append(f"{pad}{label}{_describe_artifact(lineage.artifacts[aid])}")
        if aid in seen:
            if depth:
                lines[-1] += "  (shown above)"
            return
        seen.add(aid)
        for a, x, kind, _ in lineage.events:
            if a != aid or kind != ("output" if upstream else "input"):
                continue
            execution = lineage.executions[x]
            lines.append(f"{pad}  {'<-' if upstream else '->'} "
                         f"{_describe_execution(execution, start_run, lineage.direction)}")
            if upstream:
                for a2, key2 in _edges(lineage, x, "output", aid):
                    lines.append(f"{pad}    also made: [{key2}] {_describe_artifact(lineage.artifacts[a2])}")
                    seen.add(a2)
            if (upstream and lineage.artifacts[aid]["type"] == "Model" and aid != lineage.start
                    and execution["run"] and start_run and execution["run"] != start_run):
                continue  # a model of an earlier run (warm start, baseline): named, not expanded
            for a2, key2 in _edges(lineage, x, "input" if upstream else "output", aid):
                walk_artifact(a2, key2, depth + 2)

    walk_artifact(lineage.start, "", 0)
    return "\n".join(lines)


def _edges(lineage: Lineage, execution_id: int, kind: str, but: int) -> list:
    """(artifact id, key) of an execution's inputs or outputs other than `but`; blessing, then model first."""
    found = [(a, key) for a, x, k, key in lineage.events if x == execution_id and k == kind and a != but]
    return sorted(found, key=lambda e: (_TREE_ORDER.get(e[1], len(_TREE_ORDER)), e[0]))


def to_json(lineage: Lineage) -> dict:
    """The lineage as a JSON-ready dict; upstream, `audit` holds the chain (lineage_audit.audit)."""
    return {"start": lineage.start, "direction": lineage.direction,
            "audit": lineage_audit.audit(lineage),
            "artifacts": list(lineage.artifacts.values()),
            "executions": list(lineage.executions.values()),
            "events": [{"artifact": a, "execution": x, "kind": k, "key": key}
                       for a, x, k, key in lineage.events]}


def to_dot(lineage: Lineage) -> str:
    """The lineage as a Graphviz digraph (artifacts as ellipses with their key facts, executions as boxes)."""
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph lineage {", "  rankdir=LR;"]
    for a in lineage.artifacts.values():
        style = ", style=bold" if a["id"] == lineage.start else ""
        label = "\n".join([f"{a['type']} #{a['id']}", *_dot_facts(a)])
        lines.append(f"  a{a['id']} [shape=ellipse{style}, label={quote(label)}];")
    for e in lineage.executions.values():
        lines.append(f"  e{e['id']} [shape=box, label={quote(e['node'] + ' (' + e['run'] + ')')}];")
    for a, x, kind, key in lineage.events:
        edge = f"a{a} -> e{x}" if kind == "input" else f"e{x} -> a{a}"
        lines.append(f"  {edge} [label={quote(key)}];")
    lines.append("}")
    return "\n".join(lines)


def _dot_facts(a: dict) -> list:
    """The few facts a graph node shows: metrics, span and counts, verdict, hashes, version."""
    p = a["properties"]
    facts = [f"{name.split('/')[-1]}={a['metrics'][name]:.4f}" for name in _HEADLINE_METRICS
             if name in a.get("metrics", {})]
    if "span" in p:
        facts.append(f"span={p['span']} " + " ".join(f"{k}={v}" for k, v in sorted(p.items())
                                                    if k.startswith("images_")))
    for key in ("blessed", "pushed_version"):
        if key in p:
            facts.append(f"{key}={p[key]}")
    for key in ("sha256", "content_hash"):
        if p.get(key):
            facts.append(f"{key}={str(p[key])[:12]}")
    return facts


def render(lineage: Lineage, fmt: Optional[str] = None) -> str:
    """`fmt` None → text (upstream: the audit, then the tree), 'json' → JSON, 'dot' → Graphviz."""
    if fmt == "json":
        return json.dumps(to_json(lineage), indent=2, default=str)
    if fmt == "dot":
        return to_dot(lineage)
    summary = lineage_audit.format_audit(lineage_audit.audit(lineage))
    return f"{summary}\n\n{format_tree(lineage)}" if summary else format_tree(lineage)
