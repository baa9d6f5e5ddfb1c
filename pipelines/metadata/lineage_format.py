"""A Lineage as people and tools read it: a text tree, JSON, Graphviz DOT (`render`)."""

from __future__ import annotations

import json
from typing import Optional

from pipelines.metadata import audit_format, lineage_audit
from pipelines.metadata.lineage import UPSTREAM, Lineage

_HEADLINE_METRICS = ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU")
_TREE_ORDER = {"model_blessing": 0, "model": 1}  # the chain first: pushed <- blessing <- model <- examples


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
    summary = audit_format.format_audit(lineage_audit.audit(lineage))
    return f"{summary}\n\n{format_tree(lineage)}" if summary else format_tree(lineage)
