"""The settings of one pipeline, built once per command and passed down: CLI → `PipelineSettings` → `create_pipeline`.

As with Ultralytics' `get_cfg(cfg, overrides)`, the caller (the CLI, the Airflow
DAG file, `detflow compile`, a test) fills one frozen object, and nothing below
it reads the command line. The CLI leaves the label map and the fine-tune
checkpoint unset when the pipeline.config names them; it resolves them (reading
that config at most once) before `create_pipeline` is called, which requires
every path to be set.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from components.evaluator.component import EvaluatorParameters
from components.trainer.component import TrainerParameters
from pipelines import configs
from pipelines.pipeline_inputs import DataSource


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    """Everything the detflow DAG is built from.

    root: the pipeline root (ML Metadata, artifacts, the run lock).
    data: where the images and annotations are.
    config_path / label_map_path / base_checkpoint: the pipeline.config, the label
      map and the fine-tune checkpoint folder (imported as a `Model`); the CLI
      fills the last two from the config when they are None.
    push_to: the push destination (default `<root>/serving_model`).
    evaluation: the Evaluator's gate (`blessing_gate`); it has no default, so no
      caller pushes a model of any quality unasked.
    training: the Trainer's parameters (steps, batch size, frozen backbone, TFLite
      variants); the code version is added by `create_pipeline`.
    warm_start: start from the latest blessed model when there is one.
    beam_args: the Beam-based nodes' args (default: `configs.default_beam_args()`).
    metadata_path: default `<root>/metadata.sqlite`.
    portable: True for a compiled pipeline that runs elsewhere: config and label map
      are imported from where they are (not staged under the root), only TFX's own
      resolver strategies are used (what the Kubeflow v2 compiler supports) and ML
      Metadata is left to the orchestrator.
    champion: a model from outside the pipeline (a SavedModel or OD API export folder,
      a .tflite file: what is in production, a colleague's) imported as a Model; the
      Evaluator scores it on the same split and blesses no candidate worse than it.
    """

    root: str
    data: DataSource
    config_path: str
    evaluation: EvaluatorParameters
    training: TrainerParameters = TrainerParameters()
    label_map_path: Optional[str] = None
    base_checkpoint: Optional[str] = None
    push_to: Optional[str] = None
    name: str = configs.PIPELINE_NAME
    warm_start: bool = False
    enable_cache: bool = True
    beam_args: Tuple[str, ...] = ()
    metadata_path: Optional[str] = None
    portable: bool = False
    champion: Optional[str] = None

    def check(self) -> None:
        """ValueError naming what is missing or inconsistent before a DAG is built."""
        unset = [name for name in ("label_map_path", "base_checkpoint", "push_to") if not getattr(self, name)]
        if unset:
            raise ValueError(f"PipelineSettings: {', '.join(unset)} not set")
        if self.evaluation.max_quantization_drop is not None and "int8" not in self.training.tflite:
            raise ValueError("max_quantization_drop needs an int8 TFLite model: add 'int8' to tflite")


def blessing_gate(min_map: float, max_regression: Optional[float] = None,
                  max_quantization_drop: Optional[float] = None, metric: Optional[str] = None) -> EvaluatorParameters:
    """The pipeline's Evaluator parameters: `min_map` as given, `max_regression` default `configs.MAX_REGRESSION`,
    the metric judged default COCO mAP."""
    return EvaluatorParameters(
        min_map=float(min_map),
        max_regression=configs.MAX_REGRESSION if max_regression is None else float(max_regression),
        max_quantization_drop=max_quantization_drop,
        **({"metric": metric} if metric else {}))
