"""The detflow DAG: importers → ExampleGen → StatisticsGen → LabelMapValidator → Trainer → Evaluator → Pusher.

Only the wiring is here. Caching is made correct (TFX hashes neither custom code
nor files named only by path): the inputs are content-addressed
(`pipeline_inputs.py`), every custom node carries the hash of the project code it
runs as an extra parameter (`code_versions.py`), and the resolver strategies
(`resolvers.py`) keep an unchanged re-run's inputs unchanged. Anything that
changes therefore changes the cache key of the nodes that depend on it, and
nothing else.
"""

from __future__ import annotations

import os
import pathlib
from typing import Dict, List, Optional, Sequence

from tfx import v1 as tfx
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy

from components.names import CODE_VERSION_KEY, LABEL_MAP_FILE, PIPELINE_CONFIG_FILE
from pipelines import configs
from pipelines.code_versions import process_code_versions
from pipelines.pipeline_inputs import DataSource, example_gen_inputs, hash_if_local, sha_props, stage_input
from pipelines.resolvers import BaselineStrategy, WarmStartStrategy

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent

# Node ids, one name for each node in the CLI output, MLMD and the compiled specs.
PIPELINE_CONFIG_IMPORTER = "pipeline_config_importer"
LABEL_MAP_IMPORTER = "label_map_importer"
CHECKPOINT_IMPORTER = "checkpoint_importer"
WARM_START_RESOLVER = "warm_start_resolver"
BASELINE_RESOLVER = "baseline_model_resolver"


def with_code_version(component, version: str):
    """Adds the code version as a parameter of `component`, so it is part of its cache key."""
    component.spec.exec_properties[CODE_VERSION_KEY] = version
    return component


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
    from components.trainer.component import DetectionTrainer, TrainerParameters

    if stage_inputs:
        config_uri, config_sha = stage_input(pipeline_root, pipeline_config_path, PIPELINE_CONFIG_FILE)
        label_map_uri, label_map_sha = stage_input(pipeline_root, label_map_path, LABEL_MAP_FILE)
        label_map_file = os.path.join(label_map_uri, LABEL_MAP_FILE)
    else:
        config_uri, config_sha = pipeline_config_path, hash_if_local(pipeline_config_path)
        label_map_uri, label_map_sha = label_map_path, hash_if_local(label_map_path)
        label_map_file = label_map_path
    versions = dict(process_code_versions())
    checkpoint_uri = base_checkpoint if "://" in base_checkpoint else os.path.abspath(base_checkpoint)
    nodes: Dict[str, object] = {}

    nodes[PIPELINE_CONFIG_IMPORTER] = tfx.dsl.Importer(
        source_uri=config_uri, artifact_type=PipelineConfigFile,
        custom_properties=sha_props(config_sha)).with_id(PIPELINE_CONFIG_IMPORTER)
    nodes[LABEL_MAP_IMPORTER] = tfx.dsl.Importer(
        source_uri=label_map_uri, artifact_type=LabelMapFile,
        custom_properties=sha_props(label_map_sha)).with_id(LABEL_MAP_IMPORTER)
    nodes[CHECKPOINT_IMPORTER] = tfx.dsl.Importer(
        source_uri=checkpoint_uri, artifact_type=Model,
        custom_properties=sha_props(hash_if_local(checkpoint_uri))).with_id(CHECKPOINT_IMPORTER)

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
    trainer = DetectionTrainer(
        examples=examples, pipeline_config=nodes[PIPELINE_CONFIG_IMPORTER].outputs["result"],
        label_map=label_map, base_model=start_model, parameters=TrainerParameters(
            num_steps=num_steps, batch_size=batch_size, freeze_backbone=freeze_backbone, tflite=tuple(tflite),
            tflite_representative_size=representative_size, code_version=versions["trainer"]))
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
