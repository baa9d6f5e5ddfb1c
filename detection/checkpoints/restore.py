"""Restores a TF2 object-based checkpoint into a detector, with OD API semantics.

`fine_tune_checkpoint_type`:
- `classification`: the backbone only, from a classification checkpoint
  (`tf.train.Checkpoint(feature_extractor=backbone)`, keys `feature_extractor/...`)
  or from the backbone of a detection checkpoint.
- `detection`: everything but the class-dependent predictors, which are
  restored when their shapes match (same num_classes) and re-initialised
  otherwise: the few-shot behaviour (box tower, box head and class tower kept;
  the OD API itself re-initialises the whole box predictor). A family whose
  OD API `detection` restore takes less says which modules (CenterNet: its
  feature extractor, every head new).
- `full`: everything; every variable must exist with the same shape.

Variables are matched by object path, as TF writes them. SSD networks are the
OD API's own (`architectures/ssd/`), so a TF2 Detection Zoo `checkpoint/ckpt-0`
(`tf.train.Checkpoint(model=...)`, keys `model/_feature_extractor/...`,
`model/_box_predictor/...`) matches by name; Keras `layer_with_weights-N`
indices resolve because the backbone is the same Keras application. The OD
API's Faster R-CNN (`architectures/faster_rcnn/`) is too: its zoo checkpoint's
`model/_feature_extractor_for_proposal_features/...` (backbone, conv1-4),
`model/_feature_extractor_for_box_classifier_features/...` (conv5),
`model/_first_stage_box_predictor*/...` (rpn_head) and
`model/_mask_rcnn_box_predictor/...` (detection_head_class,
detection_head_box: class-dependent) match by name. Every path of a variable
is tried, since a layer reachable twice (the OD API's tower convs) is saved
under one of them.

`plan` reads names and shapes and decides everything; `apply` assigns. So nothing is
assigned until everything has been checked. A checkpoint is refused
(ProblemsError, nothing changed) when a variable is missing or has another
shape, when it holds model variables this network lacks (another network),
when it was written by detflow's earlier Model Garden SSD networks, or when the
pipeline.config beside it differs in a setting that changes what the weights
compute (`network_settings`). The RestoreReport lists, per module, what was
restored, what was re-initialised and why, and every checkpoint variable not
used, with its reason. The modules, and which of them follow num_classes,
are the architecture plug-ins' (`architectures.registry.module_of`, `class_dependent`).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import tensorflow as tf
from tensorflow.python.checkpoint import graph_view  # object paths as checkpoints name them
from tensorflow.python.trackable.trackable_utils import escape_local_name  # and how they escape '/' and '.'

from detection.architectures import registry
from detection.architectures.registry import module_of
from detection.checkpoints import network_settings
from detection.checkpoints.restore_report import RestoreReport
from schemas import model_layout
from schemas.model_layout import CHECKPOINT_FOLDERS
from schemas.problems import ProblemsError, problem

CHECKPOINT_TYPES = ("classification", "detection", "full")
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_BACKBONE = "_feature_extractor/classification_backbone/"
_SHOWN = 5


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
    """Resolves a checkpoint prefix from a prefix, a checkpoint dir, a zoo folder or an export / Model artifact.

    Looks at PATH itself, then PATH/checkpoint (a TF2 Detection Zoo folder, a
    detflow export), PATH/Format-Serving/checkpoint and PATH/Format-Serving
    (a Trainer's Model artifact).
    """
    if not path:
        raise problem("fine_tune_checkpoint", "no checkpoint path given")
    if tf.io.gfile.exists(path + ".index"):
        return path
    if tf.io.gfile.isdir(path):
        for sub in CHECKPOINT_FOLDERS:
            directory = os.path.join(path, sub) if sub else path
            if tf.io.gfile.isdir(directory):
                found = _latest_in_dir(directory)
                if found:
                    return found
        raise problem(path, "no checkpoint found (looked for a 'checkpoint' state file or ckpt-*.index "
                       "here and under checkpoint/, Format-Serving/checkpoint/ and Format-Serving/)")
    raise problem(path, "checkpoint not found (neither a checkpoint prefix with a .index file nor a directory)")


def config_beside(prefix: str) -> str | None:
    """The pipeline.config that came with a checkpoint: beside it (a model dir), in a zoo folder or an export's assets/."""
    for candidate in model_layout.configs_beside_checkpoint(prefix):
        if tf.io.gfile.exists(candidate):
            return candidate
    return None


def all_variable_paths(model: tf.Module) -> list[tuple[tf.Variable, list[str]]]:
    """Each variable of `model` with every object path that reaches it (without the `model/` root).

    A Faster R-CNN's whole ResNet (`classification_backbone`: both halves share its layers) is not
    tracked, so its variables get its paths too, under `_feature_extractor/classification_backbone/`
    as an SSD's: that is where the OD API restores a classification checkpoint into.
    """
    paths = _object_paths(model)
    backbone = getattr(model, "classification_backbone", None)
    if isinstance(backbone, tf.Module) and not any(p.startswith(_BACKBONE) for _, ps in paths for p in ps):
        aliases = {id(v): _BACKBONE + p[0] for v, p in _object_paths(backbone) if p}
        paths = [(v, p + [aliases[id(v)]] if id(v) in aliases and aliases[id(v)] not in p else p)
                 for v, p in paths]
    return paths


def _object_paths(model: tf.Module) -> list[tuple[tf.Variable, list[str]]]:
    root = tf.train.Checkpoint(model=model)
    view = graph_view.ObjectGraphView(root)
    wanted = {id(v): v for v in model.variables}
    found: dict[int, list[str]] = {}
    stack: list[tuple[Any, tuple[str, ...], frozenset]] = [(model, (), frozenset())]
    while stack:
        obj, path, seen = stack.pop()
        for ref in view.list_children(obj):
            child, child_path = ref.ref, path + (escape_local_name(ref.name),)
            if id(child) in wanted:
                found.setdefault(id(child), []).append("/".join(child_path))
            elif id(child) not in seen and not isinstance(child, tf.Variable):
                stack.append((child, child_path, seen | {id(obj)}))
    # Shortest first; of a functional model's two names for a layer, checkpoints' `layer_with_weights-N`.
    return [(v, sorted(found.get(id(v), []), key=lambda p: (p.count("/"), "/layer-" in "/" + p, p)))
            for v in model.variables]


def variable_paths(model: tf.Module) -> dict[str, tf.Variable]:
    """Object path (the shortest, without the `model/` root) → variable."""
    return {paths[0]: var for var, paths in all_variable_paths(model) if paths}


def _checkpoint_key(path: str, layout: str) -> str | None:
    """The checkpoint key of an object path in a layout (None when that layout cannot hold it)."""
    if layout == "model":
        return f"model/{path}{_SUFFIX}"
    return f"feature_extractor/{path[len(_BACKBONE):]}{_SUFFIX}" if path.startswith(_BACKBONE) else None


def _examples(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def _no_match(prefix: str, model, keys: list[str]) -> ProblemsError:
    model_keys = [k[len("model/"):] for k in keys if k.startswith("model/")]
    family = getattr(model, "architecture", None)
    refusal = family and registry.architecture(family).refusal_for_checkpoint(model_keys)
    if refusal:
        return problem(prefix, refusal)
    some = sorted(keys)[:_SHOWN]
    return problem(prefix, "no variable of this model is in the checkpoint (is it a TF2 object-based checkpoint "
                    f"of this architecture?); it holds e.g. {', '.join(some) or 'nothing'}")


def _network_check(prefix: str, pipeline_proto, checkpoint_type: str) -> str:
    """Compares the network settings with the config beside the checkpoint; raises on a difference."""
    if pipeline_proto is None:
        return ""
    path = config_beside(prefix)
    if path is None:
        return "no pipeline.config beside the checkpoint: names and shapes checked, network settings not"
    theirs = network_settings.read_config(path)
    if theirs is None:
        return f"{path} does not parse: names and shapes checked, network settings not"
    diffs = network_settings.differences(theirs, pipeline_proto)
    if checkpoint_type == "classification":
        diffs = [d for d in diffs if ".feature_extractor." in d or d.startswith("model:")]
    if diffs:
        raise problem(prefix, "the checkpoint's network differs from this config's, though its variables may "
                       f"fit: restoring it would compute another function ({path} vs this pipeline.config):\n  "
                       + "\n  ".join(diffs))
    return f"network settings equal to {path}"


@dataclasses.dataclass
class RestorePlan:
    """What a restore will do, decided before anything is assigned: `apply` carries it out."""

    reader: Any                                      # tf.train.CheckpointReader of the prefix
    report: RestoreReport                            # reinitialized and unused filled in; restored by apply
    assign: list[tuple[tf.Variable, str, str]] = dataclasses.field(default_factory=list)  # (var, key, module)


@dataclasses.dataclass
class _Candidate:
    path: str
    var: tf.Variable
    module: str
    key: str | None
    model_shape: list
    ckpt_shape: list | None


def _read(prefix: str):
    try:
        reader = tf.train.load_checkpoint(prefix)
        return reader, reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as e:
        raise problem(prefix, f"cannot read checkpoint: {e}") from None


def _candidates(variables, shapes: dict, layout: str, classification: bool, report: RestoreReport, family: str):
    """Each model variable with its checkpoint key and both shapes; the classification-only skips reported."""
    out = []
    for var, paths in variables:
        module = module_of(paths[0], family) if paths else "unknown"
        if classification and not any(p.startswith(_BACKBONE) for p in paths):
            report.reinitialized.append({"variable": paths[0] if paths else var.name, "module": module,
                                         "reason": "not restored by type classification"})
            continue
        key = _key_for(paths, layout, shapes)
        ckpt_shape = shapes.get(key) if key else None
        out.append(_Candidate(paths[0] if paths else var.name, var, module, key, var.shape.as_list(),
                              None if ckpt_shape is None else list(ckpt_shape)))
    return out


def _key_for(paths: list[str], layout: str, shapes: dict) -> str | None:
    candidates = [k for k in (_checkpoint_key(p, layout) for p in paths) if k]
    return next((k for k in candidates if k in shapes), candidates[0] if candidates else None)


def _choose_layout(prefix: str, model, variables, shapes: dict, classification: bool) -> str:
    """'model' (a detection checkpoint) or 'classification' (`feature_extractor/...`), by keys matched."""
    def hits(layout: str) -> int:
        return sum(1 for _, paths in variables if (k := _key_for(paths, layout, shapes)) and k in shapes)

    layout = max(("model", "classification"), key=hits)
    if hits(layout) == 0:
        raise _no_match(prefix, model, [k for k in shapes if k.endswith(_SUFFIX)])
    if layout == "classification" and not classification:
        raise problem(prefix, "this is a classification checkpoint (keys feature_extractor/...): it holds a "
                       "backbone only; set fine_tune_checkpoint_type: \"classification\" to restore it")
    return layout


def _not_restored_by_detection(family: str | None, module: str) -> str | None:
    """Why a `detection` restore leaves `module` out in this family (CenterNet's heads), or None."""
    plugin = registry.ARCHITECTURES.get(family or "")
    if plugin is None or plugin.detection_modules is None or module in plugin.detection_modules:
        return None
    return (f"not restored by type detection: the OD API's `detection` restore of a {plugin.name} model takes "
            f"its {' and '.join(sorted(plugin.detection_modules))} only (use `full` to take everything)")


def _sort(plan: RestorePlan, candidates: list[_Candidate], checkpoint_type: str, family: str | None
          ) -> dict[str, dict]:
    """Fills plan.assign and the re-initialised class predictors; returns the misfits by kind and module."""
    # A class predictor is restored or re-initialised as a whole, never in part.
    misfit_modules = {c.module for c in candidates if c.model_shape != c.ckpt_shape}
    misfits: dict[str, dict] = {"missing": {}, "mismatched": {}}
    for c in candidates:
        left_out = _not_restored_by_detection(family, c.module) if checkpoint_type == "detection" else None
        if left_out:
            plan.report.reinitialized.append({"variable": c.path, "module": c.module, "reason": left_out})
        elif checkpoint_type == "detection" and registry.class_dependent(c.module) and c.module in misfit_modules:
            why = ("not in checkpoint" if c.ckpt_shape is None else
                   f"model shape {c.model_shape}, checkpoint {c.ckpt_shape}" if c.ckpt_shape != c.model_shape else
                   "its class predictor does not fit")
            plan.report.reinitialized.append({"variable": c.path, "module": c.module,
                                              "reason": f"num_classes differs from the checkpoint's: {why}"})
        elif c.ckpt_shape == c.model_shape:
            plan.assign.append((c.var, c.key, c.module))
        elif c.ckpt_shape is None:
            misfits["missing"].setdefault(c.module, []).append(c.path)
        else:
            misfits["mismatched"].setdefault(c.module, []).append(
                f"{c.path} (model {c.model_shape}, checkpoint {c.ckpt_shape})")
    return misfits


def _unused(plan: RestorePlan, keys: list[str], layout: str, checkpoint_type: str, family: str
            ) -> dict[str, list[str]]:
    """Reports each checkpoint variable not assigned, with why; returns those of another network by module."""
    used = {key for _, key, _ in plan.assign}
    classification = checkpoint_type == "classification"
    extra: dict[str, list[str]] = {}
    for key in sorted(keys):
        if key in used:
            continue
        name = key[: -len(_SUFFIX)]
        module = module_of(name, family)
        if layout == "model" and not name.startswith("model/"):
            reason = "training state (optimizer, step counters), not model weights"
        elif classification:
            reason = ("not restored by type classification" if module != "backbone" or layout == "model"
                      else "not part of this backbone")
        elif checkpoint_type == "detection" and _not_restored_by_detection(family, module):
            reason = _not_restored_by_detection(family, module)
        elif registry.class_dependent(module) and checkpoint_type == "detection":
            reason = "class predictor of the checkpoint's num_classes, re-initialised here"
        else:
            extra.setdefault(module, []).append(name)
            continue
        plan.report.unused.append({"variable": name, "module": module, "reason": reason})
    return extra


def _misfit_problem(prefix: str, checkpoint_type: str, layout: str, misfits: dict) -> ProblemsError:
    lines = [f"checkpoint does not fit the model for fine_tune_checkpoint_type {checkpoint_type!r} "
             f"(layout {layout}/...):"]
    for module, names in sorted(misfits["missing"].items()):
        lines.append(f"  module {module}: {len(names)} variables missing from checkpoint: {_examples(names)}")
    for module, names in sorted(misfits["mismatched"].items()):
        lines.append(f"  module {module}: {len(names)} variables with other shapes: {_examples(names)}")
    for module, names in sorted(misfits["extra"].items()):
        lines.append(f"  module {module}: {len(names)} checkpoint variables this network does not have "
                     f"(another network): {_examples(names)}")
    lines.append("  (another feature_extractor, depth_multiplier, levels or head config? 'detection' "
                 "re-initialises only the class predictor when num_classes changes; 'classification' takes "
                 "the backbone alone)")
    return problem(prefix, "\n".join(lines))


def plan(model: tf.Module, path: str, fine_tune_checkpoint_type: str = "detection",
         pipeline_proto=None) -> RestorePlan:
    """Decides what restoring `model` from the checkpoint at `path` (see `find_checkpoint`) assigns.

    Reads the checkpoint's names and shapes only. Raises ProblemsError when the checkpoint does not
    fit (see the module doc); `pipeline_proto`, the config `model` was built from, lets it compare
    network settings with the pipeline.config that came with the checkpoint.
    """
    if fine_tune_checkpoint_type not in CHECKPOINT_TYPES:
        raise problem("fine_tune_checkpoint_type", f"{fine_tune_checkpoint_type!r} is not one of "
                       f"{', '.join(CHECKPOINT_TYPES)}")
    prefix = find_checkpoint(path)
    reader, shapes = _read(prefix)
    variables = all_variable_paths(model)
    classification = fine_tune_checkpoint_type == "classification"
    layout = _choose_layout(prefix, model, variables, shapes, classification)
    report = RestoreReport(checkpoint=prefix, checkpoint_type=fine_tune_checkpoint_type, layout=layout,
                           network_check=_network_check(prefix, pipeline_proto, fine_tune_checkpoint_type))
    result = RestorePlan(reader, report)
    family = getattr(model, "architecture", None)
    candidates = _candidates(variables, shapes, layout, classification, report, family)
    misfits = _sort(result, candidates, fine_tune_checkpoint_type, family)
    misfits["extra"] = _unused(result, [k for k in shapes if k.endswith(_SUFFIX)], layout,
                               fine_tune_checkpoint_type, family)
    if any(misfits.values()):
        raise _misfit_problem(prefix, fine_tune_checkpoint_type, layout, misfits)
    return result


def apply(restore_plan: RestorePlan) -> RestoreReport:
    """Assigns what the plan decided; returns its report with the restored count per module."""
    for var, key, module in restore_plan.assign:
        var.assign(restore_plan.reader.get_tensor(key))
        restore_plan.report.restored[module] = restore_plan.report.restored.get(module, 0) + 1
    return restore_plan.report


def restore(model: tf.Module, path: str, fine_tune_checkpoint_type: str = "detection",
            pipeline_proto=None) -> RestoreReport:
    """Restores `model` from the checkpoint at `path` per the OD API type: `apply(plan(...))`.

    Returns a RestoreReport; raises ProblemsError (nothing assigned) when the checkpoint does not
    fit (see the module doc).
    """
    return apply(plan(model, path, fine_tune_checkpoint_type, pipeline_proto))
