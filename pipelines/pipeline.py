"""The detflow DAG: importers → ExampleGen → StatisticsGen → LabelMapValidator → Trainer → Evaluator → Pusher.

Caching is made correct here (TFX hashes neither custom code nor files named only
by path): the pipeline.config and the label map are copied to a content-addressed
folder `<root>/inputs/<sha256>/` and imported from there, the fine-tune checkpoint
is imported with its content hash as a property, and every custom node carries the
hash of the project code it runs as an extra parameter. Anything that changes
therefore changes the cache key of the nodes that depend on it, and nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
from typing import Dict, List, Optional, Sequence

from tfx import v1 as tfx
from tfx.dsl.components.common import resolver as resolver_lib
from tfx.dsl.io import fileio
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy

from pipelines import configs
from pipelines.code_versions import process_code_versions

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
CODE_VERSION_KEY = "detflow_code_version"

# Node ids, one name for each node in the CLI output, MLMD and the compiled specs.
PIPELINE_CONFIG_IMPORTER = "pipeline_config_importer"
LABEL_MAP_IMPORTER = "label_map_importer"
CHECKPOINT_IMPORTER = "checkpoint_importer"
WARM_START_RESOLVER = "warm_start_resolver"
BASELINE_RESOLVER = "baseline_model_resolver"


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Where the images and annotations are. `annotations`/`images` may contain `{SPAN}`."""

    format: str
    annotations: str
    images: str
    eval_percent: int = configs.EVAL_PERCENT
    strict: bool = False
    # What the LabelMapValidator lets through before training (configs.MAX_DROPPED_BOX_SHARE).
    max_dropped_box_share: float = configs.MAX_DROPPED_BOX_SHARE
    allow_empty_classes: bool = configs.ALLOW_EMPTY_CLASSES


def content_hash(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, or of a folder's relative file names and bytes (sorted)."""
    path = pathlib.Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise FileNotFoundError(f"{path}: no such file or folder, or it is empty")
    for f in files:
        if f != path:
            digest.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def stage_input(pipeline_root: str, path: str, name: str) -> tuple[str, str]:
    """Copies a small input file to `<root>/inputs/<sha256>/<name>`; returns (folder URI, sha256).

    The folder is the artifact URI, so the same content always maps to the same
    artifact (Importer reimport=False) and changed content to a new one.
    """
    sha = content_hash(path)
    folder = os.path.join(pipeline_root, configs.INPUTS_DIR, sha)
    target = os.path.join(folder, name)
    if not fileio.exists(target):
        fileio.makedirs(folder)
        fileio.copy(str(path), target + ".tmp", overwrite=True)
        fileio.rename(target + ".tmp", target, overwrite=True)
    return folder, sha


def with_code_version(component, version: str):
    """Adds the code version as a parameter of `component`, so it is part of its cache key."""
    component.spec.exec_properties[CODE_VERSION_KEY] = version
    return component


class WarmStartStrategy(resolver_lib.ResolverStrategy):
    """The checkpoint the Trainer starts from: the latest blessed model, else the imported one.

    Inputs: `model`/`model_blessing` (all of them), `checkpoint` (imported) and
    `examples` (this run's). When the latest blessed model was itself trained on
    these examples, the model *it* started from is returned instead, so an
    unchanged re-run gives the Trainer the same inputs and is served from the cache.
    """

    def resolve_artifacts(self, store, input_dict: Dict[str, List[tfx.types.Artifact]]):
        """Returns `input_dict` with `model` set to the one start checkpoint."""
        result = dict(input_dict, model_blessing=[])
        blessed = LatestBlessedModelStrategy()._resolve(input_dict, "model", "model_blessing")["model"]
        if not blessed:
            result["model"] = list(input_dict["checkpoint"])
            return result
        current = {a.id for a in input_dict.get("examples", [])}
        trained_from = _producer_inputs(store, blessed[0].id)
        if current & {a.id for a in trained_from.get("examples", [])}:
            previous = [_to_tfx(a, blessed[0]) for a in trained_from.get("base_model", [])]
            result["model"] = previous or list(input_dict["checkpoint"])
        else:
            result["model"] = blessed
        return result


class BaselineStrategy(resolver_lib.ResolverStrategy):
    """The baseline for the Evaluator: the latest blessed model other than this run's `candidate`.

    When the latest blessed model *is* the candidate (a cached Trainer), the
    baseline that judged it before is returned, so an unchanged re-run gives the
    Evaluator the same inputs and is served from the cache instead of comparing a
    model with itself.
    """

    def resolve_artifacts(self, store, input_dict: Dict[str, List[tfx.types.Artifact]]):
        """Returns `input_dict` with `model` set to the baseline (empty when there is none)."""
        result = dict(input_dict, model_blessing=[])
        blessed = LatestBlessedModelStrategy()._resolve(input_dict, "model", "model_blessing")["model"]
        candidate = {a.id for a in input_dict.get("candidate", [])}
        if blessed and blessed[0].id in candidate:
            blessings = [b for b in input_dict["model_blessing"]
                         if b.get_int_custom_property("current_model_id") == blessed[0].id]
            judged_by = _producer_inputs(store, max(b.id for b in blessings)) if blessings else {}
            blessed = [_to_tfx(a, blessed[0]) for a in judged_by.get("baseline_model", [])]
        result["model"] = blessed
        return result


def _producer_inputs(store, artifact_id: int) -> Dict[str, list]:
    """The MLMD input artifacts, by event key, of the execution that produced `artifact_id`."""
    from ml_metadata.proto import metadata_store_pb2

    outputs = [e for e in store.get_events_by_artifact_ids([artifact_id])
               if e.type == metadata_store_pb2.Event.OUTPUT]
    if not outputs:
        return {}
    producer = min(e.execution_id for e in outputs)  # later OUTPUT events are cache hits re-linking it
    events = [e for e in store.get_events_by_execution_ids([producer])
              if e.type == metadata_store_pb2.Event.INPUT]
    by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    result: Dict[str, list] = {}
    for e in events:
        key = e.path.steps[0].key if e.path.steps else ""
        result.setdefault(key, []).append(by_id[e.artifact_id])
    return result


def _to_tfx(mlmd_artifact, like: tfx.types.Artifact) -> tfx.types.Artifact:
    """Wraps an MLMD artifact proto in the TFX class of `like` (same artifact type)."""
    artifact = type(like)()
    artifact.set_mlmd_artifact_type(like.artifact_type)
    artifact.set_mlmd_artifact(mlmd_artifact)
    return artifact


def example_gen_inputs(data: DataSource) -> tuple[str, str, str]:
    """(input_base, annotations pattern relative to it, images folder) for the ImageExampleGen.

    With `{SPAN}` in the annotations path, input_base is the folder above the first
    path part holding `{SPAN}`; the images folder is made relative to the
    annotations' folder when it holds `{SPAN}` too (each span a self-contained drop).
    """
    annotations, images = _absolute(data.annotations), _absolute(data.images)
    parts = annotations.split("/")
    first = next((i for i, p in enumerate(parts) if "{SPAN}" in p), len(parts) - 1)
    input_base, pattern = "/".join(parts[:first]), "/".join(parts[first:])
    folder = os.path.dirname(annotations)
    if "{SPAN}" in images and images.startswith(folder + "/"):
        images = images[len(folder) + 1:]
    return input_base, pattern, images


def _absolute(path: str) -> str:
    """An absolute local path; URIs (gs://, s3://) unchanged."""
    return path.rstrip("/") if "://" in path else os.path.abspath(path)


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data: DataSource,
    pipeline_config_path: str,
    label_map_path: str,
    base_checkpoint: str,
    push_destination: str,
    min_map: float,
    max_regression: float = configs.MAX_REGRESSION,
    warm_start: bool = False,
    beam_pipeline_args: Optional[List[str]] = None,
    metadata_path: Optional[str] = None,
    enable_cache: bool = True,
    num_steps: Optional[int] = None,
    batch_size: Optional[int] = None,
    freeze_backbone: bool = True,
    stage_inputs: bool = True,
    portable: bool = False,
    tflite: Sequence[str] = (),
    max_quantization_drop: Optional[float] = None,
    representative_size: Optional[int] = None,
) -> tfx.dsl.Pipeline:
    """Builds the detflow pipeline. `metadata_path` defaults to `<root>/metadata.sqlite`.

    `min_map` is the COCO mAP a model must reach to be blessed and pushed: there is
    no default, so no caller pushes a model of any quality unasked.

    `base_checkpoint` is the fine-tune checkpoint folder (imported as a `Model`);
    with `warm_start` the Trainer starts from the latest blessed model instead
    when there is one. `num_steps`/`batch_size` override the pipeline.config;
    `freeze_backbone=False` fine-tunes the backbone too.
    `stage_inputs=False` imports config and label map from where they are (for
    a compiled pipeline that runs elsewhere); `portable=True` uses only TFX's own
    resolver strategies (what the Kubeflow v2 compiler supports).

    `tflite` lists TFLite quantize modes (none, float16, int8): the Trainer writes one
    .tflite each beside the SavedModel (int8 calibrated on `representative_size`
    train images), the Evaluator measures each on the eval split, and the Pusher
    pushes them. `max_quantization_drop` blesses only when the int8 model's mAP is at
    most that below the SavedModel's (it needs "int8" in `tflite`).
    """
    if max_quantization_drop is not None and "int8" not in tflite:
        raise ValueError("max_quantization_drop needs an int8 TFLite model: add 'int8' to tflite")
    from tfx.types.standard_artifacts import Model, ModelBlessing

    from components.artifact_types import LabelMapFile, PipelineConfigFile
    from components.evaluator.component import Evaluator
    from components.pusher.component import Pusher
    from components.example_gen.component import ImageExampleGen
    from components.label_map_validator.component import LabelMapValidator
    from components.trainer.component import DetectionTrainer

    if stage_inputs:
        config_uri, config_sha = stage_input(pipeline_root, pipeline_config_path, "pipeline.config")
        label_map_uri, label_map_sha = stage_input(pipeline_root, label_map_path, "label_map.pbtxt")
        label_map_file = os.path.join(label_map_uri, "label_map.pbtxt")
    else:
        config_uri, config_sha = pipeline_config_path, _hash_if_local(pipeline_config_path)
        label_map_uri, label_map_sha = label_map_path, _hash_if_local(label_map_path)
        label_map_file = label_map_path
    versions = dict(process_code_versions())
    checkpoint_uri = base_checkpoint if "://" in base_checkpoint else os.path.abspath(base_checkpoint)
    nodes: Dict[str, object] = {}

    nodes[PIPELINE_CONFIG_IMPORTER] = tfx.dsl.Importer(
        source_uri=config_uri, artifact_type=PipelineConfigFile,
        custom_properties=_sha_props(config_sha)).with_id(PIPELINE_CONFIG_IMPORTER)
    nodes[LABEL_MAP_IMPORTER] = tfx.dsl.Importer(
        source_uri=label_map_uri, artifact_type=LabelMapFile,
        custom_properties=_sha_props(label_map_sha)).with_id(LABEL_MAP_IMPORTER)
    nodes[CHECKPOINT_IMPORTER] = tfx.dsl.Importer(
        source_uri=checkpoint_uri, artifact_type=Model,
        custom_properties=_sha_props(_hash_if_local(checkpoint_uri))).with_id(CHECKPOINT_IMPORTER)

    input_base, pattern, images = example_gen_inputs(data)
    example_gen = with_code_version(ImageExampleGen(
        input_base=input_base, annotation_format=data.format, annotations=pattern, images_dir=images,
        label_map_path=label_map_file, eval_percent=data.eval_percent, strict=data.strict),
        versions["example_gen"])
    examples = example_gen.outputs["examples"]
    nodes["ImageExampleGen"] = example_gen
    nodes["StatisticsGen"] = tfx.components.StatisticsGen(examples=examples)

    validator = with_code_version(LabelMapValidator(
        label_map=nodes[LABEL_MAP_IMPORTER].outputs["result"],
        pipeline_config=nodes[PIPELINE_CONFIG_IMPORTER].outputs["result"],
        examples=examples, max_dropped_box_share=data.max_dropped_box_share,
        allow_empty_classes=data.allow_empty_classes), versions["label_map_validator"])
    nodes["LabelMapValidator"] = validator
    label_map = validator.outputs["validated_label_map"]

    start_model = nodes[CHECKPOINT_IMPORTER].outputs["result"]
    if warm_start:
        nodes[WARM_START_RESOLVER] = tfx.dsl.Resolver(
            strategy_class=LatestBlessedModelStrategy if portable else WarmStartStrategy,
            model=tfx.dsl.Channel(type=Model), model_blessing=tfx.dsl.Channel(type=ModelBlessing),
            **({} if portable else {"checkpoint": start_model, "examples": examples}),
        ).with_id(WARM_START_RESOLVER)
        start_model = nodes[WARM_START_RESOLVER].outputs["model"]
    custom_config = {"code_version": versions["trainer"]}
    if num_steps is not None:
        custom_config["num_steps"] = int(num_steps)
    if batch_size is not None:
        custom_config["batch_size"] = int(batch_size)
    if not freeze_backbone:
        custom_config["freeze_backbone"] = False
    if tflite:
        custom_config["tflite"] = list(tflite)
        if representative_size is not None:
            custom_config["tflite_representative_size"] = int(representative_size)
    trainer = DetectionTrainer(
        examples=examples, pipeline_config=nodes[PIPELINE_CONFIG_IMPORTER].outputs["result"],
        label_map=label_map, base_model=start_model, custom_config=custom_config)
    nodes["DetectionTrainer"] = trainer

    nodes[BASELINE_RESOLVER] = tfx.dsl.Resolver(
        strategy_class=LatestBlessedModelStrategy if portable else BaselineStrategy,
        model=tfx.dsl.Channel(type=Model), model_blessing=tfx.dsl.Channel(type=ModelBlessing),
        **({} if portable else {"candidate": trainer.outputs["model"]}),
    ).with_id(BASELINE_RESOLVER)
    evaluator = with_code_version(Evaluator(
        examples=examples, model=trainer.outputs["model"],
        baseline_model=nodes[BASELINE_RESOLVER].outputs["model"], label_map=label_map,
        min_map=float(min_map), max_regression=float(max_regression),
        max_quantization_drop=max_quantization_drop), versions["evaluator"])
    nodes["Evaluator"] = evaluator
    # The standard Pusher (blessing check, versioned folder, saved_model.pb last) plus metrics.json.
    nodes["Pusher"] = with_code_version(Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=push_destination))),
        versions["pusher"])
    return _assemble(pipeline_name, pipeline_root, nodes, enable_cache, metadata_path, beam_pipeline_args, portable)


def _hash_if_local(path: str) -> str:
    return "" if "://" in path or not os.path.exists(path) else content_hash(path)


def _sha_props(sha: str) -> dict:
    return {"sha256": sha} if sha else {}


def _assemble(pipeline_name, pipeline_root, nodes, enable_cache, metadata_path, beam_pipeline_args, portable):
    metadata_path = metadata_path or os.path.join(pipeline_root, configs.METADATA_FILE)
    # A compiled pipeline gets its ML Metadata from the orchestrator (Kubeflow's MLMD service).
    metadata = None if portable else tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=list(nodes.values()),
        enable_cache=enable_cache,
        metadata_connection_config=metadata,
        beam_pipeline_args=beam_pipeline_args or configs.default_beam_args(),
    )
