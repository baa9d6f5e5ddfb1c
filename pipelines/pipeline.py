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

import dataclasses
import os
from typing import Dict

from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.types.standard_artifacts import Model, ModelBlessing

from components.artifact_types import LabelMapFile, PipelineConfigFile
from components.evaluator.component import Evaluator
from components.example_gen.component import ImageExampleGen, RecordsOutput
from components.label_map_validator.component import LabelMapValidator
from components.names import CODE_VERSION_KEY, LABEL_MAP_FILE, PIPELINE_CONFIG_FILE
from components.pusher.component import Pusher
from components.trainer.component import DetectionTrainer
from pipelines import configs
from pipelines import tfx_api as tfx
from pipelines.code_versions import process_code_versions
from pipelines.pipeline_inputs import example_gen_inputs, hash_if_local, sha_props, stage_input
from pipelines.resolvers import BaselineStrategy, WarmStartStrategy
from pipelines.settings import PipelineSettings


# Node ids, one name for each node in the CLI output, MLMD and the compiled specs.
PIPELINE_CONFIG_IMPORTER = "pipeline_config_importer"
LABEL_MAP_IMPORTER = "label_map_importer"
CHECKPOINT_IMPORTER = "checkpoint_importer"
WARM_START_RESOLVER = "warm_start_resolver"
BASELINE_RESOLVER = "baseline_model_resolver"
CHAMPION_IMPORTER = "champion_importer"


def with_code_version(component, version: str):
    """Adds the code version as a parameter of `component`, so it is part of its cache key."""
    component.spec.exec_properties[CODE_VERSION_KEY] = version
    return component


def create_pipeline(settings: PipelineSettings) -> tfx.Pipeline:
    """Builds the detflow pipeline from `settings` (see `PipelineSettings`; every path must be set).

    The Trainer fine-tunes from `settings.base_checkpoint`, or with `warm_start`
    from the latest blessed model when there is one. With TFLite modes in
    `settings.training.tflite` the Trainer writes one .tflite each beside the
    SavedModel, the Evaluator measures each on the eval split (and with
    `evaluation.max_quantization_drop` gates on the int8 model's drop), and the
    Pusher pushes them.
    """
    settings.check()
    versions = dict(process_code_versions())
    data, portable = settings.data, settings.portable
    nodes, label_map_file = _input_importers(settings)

    input_base, pattern, images = example_gen_inputs(data)
    example_gen = with_code_version(ImageExampleGen(
        input_base=input_base, annotation_format=data.format, annotations=pattern, images_dir=images,
        label_map_path=label_map_file,
        output=RecordsOutput(eval_percent=data.eval_percent, strict=data.strict, compression=data.compression)),
        versions["example_gen"])
    examples = example_gen.outputs["examples"]
    nodes["ImageExampleGen"] = example_gen
    nodes["StatisticsGen"] = tfx.StatisticsGen(examples=examples)

    validator = with_code_version(LabelMapValidator(
        label_map=nodes[LABEL_MAP_IMPORTER].outputs["result"],
        pipeline_config=nodes[PIPELINE_CONFIG_IMPORTER].outputs["result"],
        examples=examples, max_dropped_box_share=data.max_dropped_box_share,
        allow_empty_classes=data.allow_empty_classes), versions["label_map_validator"])
    nodes["LabelMapValidator"] = validator
    label_map = validator.outputs["validated_label_map"]

    start_model = nodes[CHECKPOINT_IMPORTER].outputs["result"]
    if settings.warm_start:
        nodes[WARM_START_RESOLVER] = tfx.Resolver(
            strategy_class=LatestBlessedModelStrategy if portable else WarmStartStrategy,
            model=tfx.Channel(type=Model), model_blessing=tfx.Channel(type=ModelBlessing),
            **({} if portable else {"checkpoint": start_model, "examples": examples}),
        ).with_id(WARM_START_RESOLVER)
        start_model = nodes[WARM_START_RESOLVER].outputs["model"]
    trainer = DetectionTrainer(
        examples=examples, pipeline_config=nodes[PIPELINE_CONFIG_IMPORTER].outputs["result"],
        label_map=label_map, base_model=start_model,
        parameters=dataclasses.replace(settings.training, code_version=versions["trainer"]))
    nodes["DetectionTrainer"] = trainer

    nodes[BASELINE_RESOLVER] = tfx.Resolver(
        strategy_class=LatestBlessedModelStrategy if portable else BaselineStrategy,
        model=tfx.Channel(type=Model), model_blessing=tfx.Channel(type=ModelBlessing),
        **({} if portable else {"candidate": trainer.outputs["model"]}),
    ).with_id(BASELINE_RESOLVER)
    champion = None
    if settings.champion:
        nodes[CHAMPION_IMPORTER] = _champion_importer(settings.champion)
        champion = nodes[CHAMPION_IMPORTER].outputs["result"]
    evaluator = with_code_version(Evaluator(
        examples=examples, model=trainer.outputs["model"],
        baseline_model=nodes[BASELINE_RESOLVER].outputs["model"], label_map=label_map,
        parameters=settings.evaluation, champion_model=champion), versions["evaluator"])
    nodes["Evaluator"] = evaluator
    # The standard Pusher (blessing check, versioned folder, saved_model.pb last) plus metrics.json.
    nodes["Pusher"] = with_code_version(Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.PushDestination(
            filesystem=tfx.PushDestination.Filesystem(base_directory=settings.push_to))),
        versions["pusher"])
    return _assemble(settings, list(nodes.values()))


def _input_importers(settings: PipelineSettings) -> tuple[Dict[str, object], str]:
    """The config, label map and base-checkpoint Importers (config and label map staged under the root unless
    the pipeline is portable), and the label map's file."""
    if not settings.portable:
        config_uri, config_sha = stage_input(settings.root, settings.config_path, PIPELINE_CONFIG_FILE)
        label_map_uri, label_map_sha = stage_input(settings.root, settings.label_map_path, LABEL_MAP_FILE)
        label_map_file = os.path.join(label_map_uri, LABEL_MAP_FILE)
    else:
        config_uri, config_sha = settings.config_path, hash_if_local(settings.config_path)
        label_map_uri, label_map_sha = settings.label_map_path, hash_if_local(settings.label_map_path)
        label_map_file = settings.label_map_path
    checkpoint = settings.base_checkpoint
    checkpoint_uri = checkpoint if "://" in checkpoint else os.path.abspath(checkpoint)
    nodes: Dict[str, object] = {}
    nodes[PIPELINE_CONFIG_IMPORTER] = tfx.Importer(
        source_uri=config_uri, artifact_type=PipelineConfigFile,
        custom_properties=sha_props(config_sha)).with_id(PIPELINE_CONFIG_IMPORTER)
    nodes[LABEL_MAP_IMPORTER] = tfx.Importer(
        source_uri=label_map_uri, artifact_type=LabelMapFile,
        custom_properties=sha_props(label_map_sha)).with_id(LABEL_MAP_IMPORTER)
    nodes[CHECKPOINT_IMPORTER] = tfx.Importer(
        source_uri=checkpoint_uri, artifact_type=Model,
        custom_properties=sha_props(hash_if_local(checkpoint_uri))).with_id(CHECKPOINT_IMPORTER)
    return nodes, label_map_file


def _champion_importer(champion: str):
    """The Importer of an external model the candidate must not be worse than (`external` = 1)."""
    champion_uri = champion if "://" in champion else os.path.abspath(champion)
    return tfx.Importer(
        source_uri=champion_uri, artifact_type=Model,
        custom_properties={**sha_props(hash_if_local(champion_uri)), "external": 1}).with_id(CHAMPION_IMPORTER)


def _assemble(settings: PipelineSettings, nodes: list) -> tfx.Pipeline:
    metadata_path = settings.metadata_path or os.path.join(settings.root, configs.METADATA_FILE)
    # A compiled pipeline gets its ML Metadata from the orchestrator (Kubeflow's MLMD service).
    metadata = (None if settings.portable
                else tfx.sqlite_metadata_connection_config(metadata_path))
    return tfx.Pipeline(
        pipeline_name=settings.name,
        pipeline_root=settings.root,
        components=nodes,
        enable_cache=settings.enable_cache,
        metadata_connection_config=metadata,
        beam_pipeline_args=list(settings.beam_args) or configs.default_beam_args(),
    )
