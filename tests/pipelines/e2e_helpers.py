"""Tiny generated data and configs for the end-to-end pipeline tests, and a runner that captures output."""

from __future__ import annotations

import dataclasses
import io
import os
import pathlib

import sample_data

from components.trainer.component import TrainerParameters
from pipelines.cli.demo import write_config
from pipelines.cli.run import execute
from pipelines.settings import PipelineSettings, blessing_gate
from pipelines.pipeline_inputs import DataSource

IN_PROCESS_BEAM = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
NUM_IMAGES = 24
IMAGE_SIZE = 64
NUM_STEPS = 2
BATCH_SIZE = 2
SYSTEM_NODES = {"pipeline_config_importer", "label_map_importer", "checkpoint_importer",
                "warm_start_resolver", "baseline_model_resolver"}


def make_span(data_root: pathlib.Path, span: int) -> sample_data.SampleDataset:
    """Writes data drop `span` (24 images of 64 px) under `data_root/span-<span>/`."""
    return sample_data.generate_span(data_root, span, num_images=NUM_IMAGES,
                                     image_size=(IMAGE_SIZE, IMAGE_SIZE), seed=1)


def make_config(config_dir: pathlib.Path) -> tuple[str, str]:
    """A 2-step, batch-2 config fine-tuning the embedded checkpoint; returns (config, label map)."""
    config = write_config(str(config_dir), sample_data.DEMO_CLASSES, num_steps=NUM_STEPS,
                                   batch_size=BATCH_SIZE)
    return config, os.path.join(str(config_dir), "label_map.pbtxt")


def span_source(data_root: pathlib.Path) -> DataSource:
    """The `{SPAN}` data source over `data_root`."""
    return DataSource(format="coco", annotations=str(data_root / "span-{SPAN}" / "annotations.json"),
                      images=str(data_root / "span-{SPAN}" / "images"))


def run(root, data, config, label_map, runner="local", min_map=0.0, beam_args=IN_PROCESS_BEAM, **options):
    """`pipelines.cli.run.execute` with in-process Beam unless told; returns (code, summary, printed text).

    `min_map` defaults to 0 (these tests push whatever the tiny runs train); `options`
    are PipelineSettings fields, or TrainerParameters fields (num_steps, tflite, ...),
    or `max_regression` / `max_quantization_drop`.
    """
    gate = {k: options.pop(k) for k in ("max_regression", "max_quantization_drop", "metric") if k in options}
    trainer = {f.name: options.pop(f.name) for f in dataclasses.fields(TrainerParameters) if f.name in options}
    if "representative_size" in options:
        trainer["tflite_representative_size"] = options.pop("representative_size")
    trainer["tflite"] = tuple(trainer.get("tflite", ()))
    settings = PipelineSettings(root=str(root), data=data, config_path=config, label_map_path=label_map,
                                evaluation=blessing_gate(min_map, **gate), training=TrainerParameters(**trainer),
                                beam_args=tuple(beam_args or ()), **options)
    out = io.StringIO()
    code, summary = execute(settings, runner=runner, out=out)
    return code, summary, out.getvalue()


def states(summary) -> dict:
    """node id -> state of one run."""
    return {n.node_id: n.state for n in summary.nodes}


def assert_pushed_model_is_audited(root, pushed: str) -> dict:
    """The lineage audit of a pushed model: blessed, its config, label map and imported fine-tune checkpoint
    hashed, its evaluation's metrics recorded; returns the audit."""
    from pipelines.metadata import lineage, lineage_audit, run_summary  # pylint: disable=import-outside-toplevel
    store = run_summary.open_store(str(root))
    audit = lineage_audit.audit(lineage.trace(store, lineage.find_artifact(store, pushed), lineage.UPSTREAM))
    assert audit["blessing"]["blessed"] is True
    assert audit["pipeline_config"]["sha256"] and audit["label_map"]["sha256"]
    assert audit["fine_tune_checkpoint"]["imported"] and audit["fine_tune_checkpoint"]["sha256"]
    assert "DetectionBoxes_Precision/mAP@.50IOU" in audit["evaluation"]["metrics"]
    return audit


def run_fine_tune_to_push(root, data_root: pathlib.Path, config: str, label_map: str, **options) -> tuple:
    """`run` of the spans under `data_root` with min_map 0 that must train, bless and push: (the run summary,
    the Trainer's train_result.json as a dict)."""
    import glob  # pylint: disable=import-outside-toplevel
    import json  # pylint: disable=import-outside-toplevel
    code, summary, text = run(root, span_source(data_root), config, label_map, min_map=0.0, **options)
    assert code == 0, text
    assert states(summary)["DetectionTrainer"] == "ran", text
    assert summary.blessed is True and summary.pushed, text
    [result_file] = glob.glob(str(pathlib.Path(root) / "**" / "train_result.json"), recursive=True)
    with open(result_file, encoding="utf-8") as f:
        return summary, json.load(f)

