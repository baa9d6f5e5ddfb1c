"""Tiny generated data and configs for the end-to-end pipeline tests, and a runner that captures output."""

from __future__ import annotations

import io
import os
import pathlib

import sample_data

from pipelines import commands
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
    config = commands.write_config(str(config_dir), sample_data.DEMO_CLASSES, num_steps=NUM_STEPS,
                                   batch_size=BATCH_SIZE)
    return config, os.path.join(str(config_dir), "label_map.pbtxt")


def span_source(data_root: pathlib.Path) -> DataSource:
    """The `{SPAN}` data source over `data_root`."""
    return DataSource(format="coco", annotations=str(data_root / "span-{SPAN}" / "annotations.json"),
                      images=str(data_root / "span-{SPAN}" / "images"))


def run(root, data, config, label_map, **kwargs):
    """`commands.execute` with in-process Beam unless told; returns (code, summary, printed text)."""
    out = io.StringIO()
    kwargs.setdefault("beam_args", IN_PROCESS_BEAM)
    kwargs.setdefault("min_map", 0.0)       # these tests push whatever the tiny runs train
    code, summary = commands.execute(str(root), data, config, label_map, None, out=out, **kwargs)
    return code, summary, out.getvalue()


def states(summary) -> dict:
    """node id -> state of one run."""
    return {n.node_id: n.state for n in summary.nodes}
