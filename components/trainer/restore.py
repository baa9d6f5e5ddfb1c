"""Restores a TF2 object-based checkpoint into a detector, with OD API semantics.

`fine_tune_checkpoint_type`:
- `classification`: the backbone only.
- `detection`: everything but the class-dependent predictors, which are
  restored when their shapes match (same num_classes) and re-initialised
  otherwise — the few-shot behaviour (box tower + box head + class tower kept).
- `full`: everything; every variable must exist with the same shape.

Variables are matched by object path, as TF writes them: a checkpoint of
`tf.train.Checkpoint(model=model)` (this project, Model Garden's trainer and
the `checkpoint/` of our exports) has keys `model/_backbone/...`; one of
`tf.train.Checkpoint(**model.checkpoint_items)` (Model Garden's
`init_checkpoint_modules`) has `backbone/...`, `decoder/...`, `head/...`.
Both layouts are tried. Shapes are compared before anything is assigned, so a
checkpoint that does not fit changes nothing and raises ProblemsError naming
module and variables.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import tensorflow as tf
from tensorflow.python.checkpoint import graph_view  # object paths as checkpoints name them

from schemas.problems import Problem, ProblemsError

CHECKPOINT_TYPES = ("classification", "detection", "full")
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Class-dependent predictors: their shapes change with num_classes.
_CLASS_DEPENDENT = re.compile(r"(^|_)(head_class|detection_head_class|detection_head_box)$")
_SHOWN = 5


@dataclasses.dataclass
class RestoreReport:
    """What a restore did: counts per module and every variable not restored, with why."""

    checkpoint: str
    checkpoint_type: str
    layout: str
    restored: dict[str, int] = dataclasses.field(default_factory=dict)
    reinitialized: list[dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def num_restored(self) -> int:
        """Variables taken from the checkpoint."""
        return sum(self.restored.values())

    def reinitialized_by_module(self) -> dict[str, int]:
        """Count of variables left as initialised, by module."""
        out: dict[str, int] = {}
        for item in self.reinitialized:
            out[item["module"]] = out.get(item["module"], 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (to record on the model artifact)."""
        return {"checkpoint": self.checkpoint, "checkpoint_type": self.checkpoint_type,
                "layout": self.layout, "restored": dict(self.restored),
                "num_restored": self.num_restored,
                "reinitialized_by_module": self.reinitialized_by_module(),
                "reinitialized": list(self.reinitialized)}

    def summary(self) -> str:
        """One line for the log."""
        restored = ", ".join(f"{k} {v}" for k, v in sorted(self.restored.items()))
        reinit = ", ".join(f"{k} {v}" for k, v in sorted(self.reinitialized_by_module().items()))
        return (f"restored {self.num_restored} variables from {self.checkpoint} "
                f"({self.checkpoint_type}): {restored or 'none'}; re-initialised: {reinit or 'none'}")


def _problem(where: str, message: str) -> ProblemsError:
    return ProblemsError([Problem(where, message)])


def _latest_in_dir(directory: str) -> str | None:
    state = os.path.join(directory, "checkpoint")
    if tf.io.gfile.exists(state) and not tf.io.gfile.isdir(state):  # an export holds a checkpoint/ dir
        latest = tf.train.latest_checkpoint(directory)
        if latest:
            return latest
    numbered = []
    for index in tf.io.gfile.glob(os.path.join(directory, "*.index")):
        prefix = index[: -len(".index")]
        match = re.search(r"-(\d+)$", prefix)
        numbered.append((int(match.group(1)) if match else -1, prefix))
    return max(numbered)[1] if numbered else None


def find_checkpoint(path: str) -> str:
    """Resolves a checkpoint prefix from a prefix, a checkpoint dir, or an export / Model artifact dir.

    Looks at PATH itself, then PATH/checkpoint, PATH/Format-Serving/checkpoint,
    and PATH/Format-Serving (a Trainer's Model artifact).
    """
    if not path:
        raise _problem("fine_tune_checkpoint", "no checkpoint path given")
    if tf.io.gfile.exists(path + ".index"):
        return path
    if tf.io.gfile.isdir(path):
        for sub in ("", "checkpoint", "Format-Serving/checkpoint", "Format-Serving"):
            directory = os.path.join(path, sub) if sub else path
            if tf.io.gfile.isdir(directory):
                found = _latest_in_dir(directory)
                if found:
                    return found
        raise _problem(path, "no checkpoint found (looked for a 'checkpoint' state file or ckpt-*.index "
                       "here and under checkpoint/, Format-Serving/checkpoint/ and Format-Serving/)")
    raise _problem(path, "checkpoint not found (neither a checkpoint prefix with a .index file nor a directory)")


def variable_paths(model: tf.Module) -> dict[str, tf.Variable]:
    """Object path (as `tf.train.Checkpoint(model=model)` names it, without the `model/` root) → variable."""
    root = tf.train.Checkpoint(model=model)
    _, node_paths = graph_view.ObjectGraphView(root).breadth_first_traversal()
    out = {}
    ids = {id(v) for v in model.variables}
    for obj, path in node_paths.items():
        if id(obj) in ids:
            name = "/".join(ref.name for ref in path)
            out[name[len("model/"):]] = obj
    return out


def module_of(path: str) -> str:
    """Report module of a variable path: backbone, decoder, head_class, head_box_tower, rpn_head, ..."""
    parts = path.split("/")
    if parts[0] == "_config_dict" and len(parts) > 1:  # Model Garden keeps its parts in a dict too
        parts = parts[1:]
    top = parts[0].lstrip("_")
    if top == "head" and len(parts) > 1:
        sub = parts[1]
        if sub.startswith("_classifier"):
            return "head_class"
        if sub.startswith("_box_regressor"):
            return "head_box"
        if sub.startswith("_cls_"):
            return "head_class_tower"
        if sub.startswith("_box_"):
            return "head_box_tower"
        return "head_other"
    if top == "detection_head":
        joined = "/".join(parts)
        if "_classifier" in joined:
            return "detection_head_class"
        if "_box_regressor" in joined:
            return "detection_head_box"
        return "detection_head_tower"
    return top


def _checkpoint_key(path: str, layout: str) -> str:
    if layout == "model":
        return f"model/{path}{_SUFFIX}"
    parts = path.split("/")
    return "/".join([parts[0].lstrip("_")] + parts[1:]) + _SUFFIX


def _examples(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def restore(model: tf.Module, path: str, fine_tune_checkpoint_type: str = "detection") -> RestoreReport:
    """Restores `model` from the checkpoint at `path` (see `find_checkpoint`) per the OD API type.

    Returns a RestoreReport; raises ProblemsError (nothing assigned) when the
    checkpoint does not fit: missing, another architecture, wrong shapes.
    """
    if fine_tune_checkpoint_type not in CHECKPOINT_TYPES:
        raise _problem("fine_tune_checkpoint_type", f"{fine_tune_checkpoint_type!r} is not one of "
                       f"{', '.join(CHECKPOINT_TYPES)}")
    prefix = find_checkpoint(path)
    try:
        shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as e:
        raise _problem(prefix, f"cannot read checkpoint: {e}") from None
    reader = tf.train.load_checkpoint(prefix)
    variables = variable_paths(model)

    def hits(layout: str) -> int:
        return sum(_checkpoint_key(p, layout) in shapes for p in variables)

    layout = max(("model", "items"), key=hits)
    if hits(layout) == 0:
        some = sorted(k for k in shapes if k.endswith(_SUFFIX))[:_SHOWN]
        raise _problem(prefix, "no variable of this model is in the checkpoint (is it a TF2 object-based "
                       f"checkpoint of this architecture?); it holds e.g. {', '.join(some) or 'nothing'}")
    wanted = {"classification": lambda m: m == "backbone"}.get(fine_tune_checkpoint_type, lambda m: True)
    report = RestoreReport(checkpoint=prefix, checkpoint_type=fine_tune_checkpoint_type, layout=layout)
    to_assign, missing, mismatched = [], {}, {}
    checks = []
    for vpath, var in sorted(variables.items()):
        module = module_of(vpath)
        if not wanted(module):
            report.reinitialized.append({"variable": vpath, "module": module,
                                         "reason": f"not restored by type {fine_tune_checkpoint_type}"})
            continue
        key = _checkpoint_key(vpath, layout)
        ckpt_shape = shapes.get(key)
        checks.append((vpath, var, module, key, var.shape.as_list(),
                       None if ckpt_shape is None else list(ckpt_shape)))
    # A class predictor is restored or re-initialised as a whole, never in part.
    misfit_modules = {c[2] for c in checks if c[4] != c[5]}
    for vpath, var, module, key, model_shape, ckpt_shape in checks:
        class_dependent = bool(_CLASS_DEPENDENT.search(module))
        if fine_tune_checkpoint_type == "detection" and class_dependent and module in misfit_modules:
            why = ("not in checkpoint" if ckpt_shape is None else
                   f"model shape {model_shape}, checkpoint {ckpt_shape}" if ckpt_shape != model_shape else
                   "its class predictor does not fit")
            report.reinitialized.append({"variable": vpath, "module": module,
                                         "reason": f"num_classes differs from the checkpoint's: {why}"})
        elif ckpt_shape == model_shape:
            to_assign.append((var, key, module))
        elif ckpt_shape is None:
            missing.setdefault(module, []).append(vpath)
        else:
            mismatched.setdefault(module, []).append(f"{vpath} (model {model_shape}, checkpoint {ckpt_shape})")
    if missing or mismatched:
        lines = [f"checkpoint does not fit the model for fine_tune_checkpoint_type "
                 f"{fine_tune_checkpoint_type!r} (layout {layout}/...):"]
        for module, names in sorted(missing.items()):
            lines.append(f"  module {module}: {len(names)} variables missing from checkpoint: {_examples(names)}")
        for module, names in sorted(mismatched.items()):
            lines.append(f"  module {module}: {len(names)} variables with other shapes: {_examples(names)}")
        lines.append("  (another feature_extractor, depth_multiplier, levels or head config? "
                     "'detection' re-initialises only the class predictor when num_classes changes)")
        raise _problem(prefix, "\n".join(lines))
    for var, key, module in to_assign:
        var.assign(reader.get_tensor(key))
        report.restored[module] = report.restored.get(module, 0) + 1
    return report
