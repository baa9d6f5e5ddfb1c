"""The orchestrators detflow runs on: LocalDagRunner, BeamDagRunner, and a Kubeflow Pipelines v2 compile."""

from __future__ import annotations

import os

from pipelines import configs
from pipelines import tfx_api as tfx

RUNNERS = ("local", "beam")


def run(pipeline: tfx.Pipeline, runner: str = "local") -> None:
    """Runs `pipeline` to completion with the named runner; a failed node raises.

    `local`: TFX's LocalDagRunner (nodes in order, in this process).
    `beam`: TFX's BeamDagRunner, each node a Beam step; the Beam-based components'
    own work uses the pipeline's beam args (by default the DirectRunner in
    multi-processing mode, see `configs.default_beam_args`).
    """
    if runner == "local":
        tfx.LocalDagRunner().run(pipeline)
    elif runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        BeamDagRunner().run(pipeline)
    else:
        raise ValueError(f"unknown runner {runner!r}; choose one of {', '.join(RUNNERS)}")


def compile_kubeflow_v2(pipeline: tfx.Pipeline, out_file: str,
                        image: str = configs.PIPELINE_IMAGE) -> str:
    """Writes the Kubeflow Pipelines v2 pipeline-spec JSON of `pipeline` to `out_file`; returns its path.

    Every node runs in `image` (infra/container/Dockerfile). Nothing is submitted:
    upload the JSON with the KFP client or the Vertex AI Pipelines console.
    """
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    out_file = os.path.abspath(out_file)
    os.makedirs(os.path.dirname(out_file), exist_ok=True)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(out_file),
        output_filename=os.path.basename(out_file))
    runner.run(pipeline, write_out=True)
    return out_file
