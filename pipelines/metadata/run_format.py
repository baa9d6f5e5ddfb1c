"""The run report as people read it: `format_run` (what `detflow run` and `detflow runs` print)."""

from __future__ import annotations

from pipelines.metadata.run_summary import TFLITE_SHOWN, RunSummary


def data_lines(data: dict) -> list[str]:
    """What the ImageExampleGen converted and lost: images and boxes per split, drops and skips by reason."""
    from schemas.label_map_validation import dropped_boxes_line  # pylint: disable=import-outside-toplevel
    if not data:
        return []
    images, boxes = data.get("images") or {}, data.get("boxes") or {}
    per_split = ", ".join(f"{k} {images[k]}" for k in sorted(images))
    lines = [f"data: {sum(images.values())} images ({per_split}), {sum(boxes.values())} boxes kept"]
    dropped = dropped_boxes_line(data)
    skipped = {k: v for k, v in (data.get("skipped_images") or {}).items() if v}
    if dropped:
        lines.append(f"  {dropped}")
    if skipped:
        lines.append(f"  {sum(skipped.values())} images skipped: "
                     + "; ".join(f"{k} {v}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1])))
    if dropped or skipped:
        lines.append("  (each one is named in the ImageExampleGen's report.json)")
    return lines


def format_run(run: RunSummary) -> str:
    """The human-readable report `detflow run` prints at the end of a run."""
    lines = [f"run {run.run_id}: {run.status}"]
    width = max((len(n.node_id) for n in run.nodes), default=10)
    for n in run.nodes:
        line = f"  {n.node_id:<{width}}  {n.state:<8}  {n.seconds:7.1f}s"
        if n.error:
            line += f"  {n.error.splitlines()[0][:200]}"
        lines.append(line)
    lines += data_lines(run.data)
    if run.metrics:
        lines.append("metrics (eval split):")
        for name, value in sorted(run.metrics.items()):
            if isinstance(value, (int, float)) and "PerformanceByCategory" not in name:
                lines.append(f"  {name:<40} {value:.4f}")
    if run.tflite:
        lines.append("TFLite models (same eval split; drop: the judged metric's fall from the SavedModel's):")
        for mode, found in sorted(run.tflite.items()):
            shown = "  ".join(f"{name.split('/')[-1]} {found['metrics'][name]:.4f}" for name in TFLITE_SHOWN
                              if name in found["metrics"]) or "no metrics"
            drop = f"  drop {found['drop']:+.4f}" if found.get("drop") is not None else ""
            lines.append(f"  {mode:<8} {shown}{drop}")
    if run.blessed is not None:
        lines.append(f"blessed: {'yes' if run.blessed else 'no'}"
                     + (f" ({run.blessing_message})" if run.blessing_message else ""))
    if run.status == "incomplete":
        lines.append(f"stopped early: {run.stopped_at}")
    if run.pushed:
        lines.append(f"pushed to: {run.pushed}")
    elif run.already_pushed:
        lines.append(f"pushed: nothing new (this model is already at {run.already_pushed})")
    elif run.blessed is not None:
        lines.append("pushed: no")
    return "\n".join(lines)
