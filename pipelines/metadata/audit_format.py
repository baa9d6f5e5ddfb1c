"""The lineage audit as text: `format_audit` of what `lineage_audit.audit` found."""

from __future__ import annotations

from pipelines.metadata.run_summary import TFLITE_SHOWN


def format_audit(found: dict) -> str:
    """The audit as aligned `item: value` lines (empty when there is nothing to say)."""
    lines = []
    for name, render in _SECTIONS:
        if name in found and found[name]:
            text = render(found[name])
            if text:
                lines.extend(f"{(name.replace('_', ' ') + ':') if i == 0 else '':<22}{line}"
                             for i, line in enumerate(text.splitlines()))
    return "\n".join(lines)


def _fmt_pushed(p: dict) -> str:
    text = f"{p['destination']} (version {p['version']}, PushedModel #{p['id']})"
    return text + ("\nwith " + ", ".join(p["tflite_files"]) if p.get("tflite_files") else "")


def _fmt_blessing(b: dict) -> str:
    verdict = "blessed" if b["blessed"] else "NOT blessed"
    return f"{verdict} (ModelBlessing #{b['id']}): {b['message']}"


def _fmt_evaluation(e: dict) -> str:
    head = f"ModelEvaluation #{e['id']} on the {e['eval_split']} split, {e['num_images']} images"
    if not e["metrics"]:
        return head + ": no metrics recorded in ML Metadata"
    lines = [head] + [f"  {name:<40} {value:.4f}" + ("  (no boxes of that size)" if value == -1 else "")
                      for name, value in e["metrics"].items()]
    if e["per_category"]:
        lines.append("  AP per class: " + ", ".join(f"{k} {v:.4f}" for k, v in e["per_category"].items()))
    lines += [f"  {name:<40} {value:.4f}" for name, value in e.get("keypoint_metrics", {}).items()]
    for mode, found in sorted(e.get("tflite", {}).items()):
        shown = ", ".join(f"{name.split('/')[-1]} {found['metrics'][name]:.4f}" for name in TFLITE_SHOWN
                          if name in found["metrics"])
        drop = f" (drop {found['drop']:+.4f})" if found.get("drop") is not None else ""
        lines.append(f"  TFLite {mode}: {shown}{drop}")
    return "\n".join(lines)


def _fmt_model(m: dict) -> str:
    text = f"Model #{m['id']} {m['uri']} ({m['node']}, run {m['run']})"
    for mode, variant in sorted(m.get("tflite", {}).items()):
        count = variant.get("representative_images") or 0
        calibrated = f", calibrated on {count} train image{'' if count == 1 else 's'}" if count else ""
        text += f"\n  TFLite {mode}: Format-TFLite/{variant['file']} ({variant['size_bytes'] / 1e6:.2f} MB{calibrated})"
    return text


def _fmt_champion(c: dict) -> str:
    value = c.get("metric_value")
    return (f"Model #{c['id']} {c['uri']} (imported from outside the pipeline"
            + (f", sha256 {c['sha256'][:12]}" if c.get("sha256") else "") + ")"
            + (f"; scored {value:.4f} on the same split" if isinstance(value, float) else ""))


def _fmt_examples(x: dict) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(x["images"].items()))
    lines = [f"Examples #{x['id']} span {x['span']}" + (f" version {x['version']}" if x["version"] is not None
                                                         else "")
             + f"; images {counts or '?'}; skipped images {x['skipped_images']}, dropped boxes {x['dropped_boxes']}"]
    lines += [f"  input fingerprint: {line}" for line in x["input_fingerprint"].splitlines()[:1]]
    lines += [f"                     {line}" for line in x["input_fingerprint"].splitlines()[1:]]
    return "\n".join(lines)


def _fmt_data(d: dict) -> str:
    lines = [f"annotations {d.get('annotations', '?')} ({d.get('format', '?')})"]
    if "images" in d:
        lines.append(f"images {d['images']} ({d.get('images_files', '?')} files)")
    if d.get("input_base"):
        lines.append(f"input base {d['input_base']}")
    return "\n".join(lines)


def _fmt_file(f: dict) -> str:
    return f"sha256 {f.get('sha256') or '?'}  {f.get('uri', '')}"


def _fmt_checkpoint(c: dict) -> str:
    if c["imported"]:
        text = f"{c['uri']} (imported, sha256 {c['sha256'] or '?'})"
    else:
        earlier = "earlier " if c["earlier_run"] else ""
        text = f"Model #{c['id']} {c['uri']} (trained by {c['node']} in {earlier}run {c['run']})"
    if c.get("restored_from"):
        text += f"\nrestored {c['restored_from']} ({c.get('fine_tune_checkpoint_type') or '?'})"
    return text


def _fmt_code(versions: dict) -> str:
    return ", ".join(f"{node} {version}" for node, version in versions.items())


_SECTIONS = (
    ("pushed_model", _fmt_pushed), ("run", str), ("blessing", _fmt_blessing), ("evaluation", _fmt_evaluation),
    ("baseline_model", _fmt_model), ("champion_model", _fmt_champion), ("model", _fmt_model),
    ("examples", _fmt_examples), ("data", _fmt_data),
    ("label_map", _fmt_file), ("pipeline_config", _fmt_file), ("fine_tune_checkpoint", _fmt_checkpoint),
    ("code_version", _fmt_code),
)
