"""The TFX names detflow's pipelines use, imported from the modules that define them.

`from tfx import v1` imports every TFX extension with it: Google Cloud AI Platform's client alone
was 11 s of a 30 s import, paid by every `detflow run` and every test process. These are the same
classes `tfx.v1.dsl`, `tfx.v1.orchestration`, `tfx.v1.components` and `tfx.v1.proto` export.
"""

from tfx.components.pusher.component import Pusher
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.dsl.components.common.importer import Importer
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.metadata import sqlite_metadata_connection_config
from tfx.orchestration.pipeline import Pipeline
from tfx.proto.pusher_pb2 import PushDestination
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact
from tfx.types.channel import Channel

__all__ = ["Artifact", "Channel", "Importer", "LatestBlessedModelStrategy", "LocalDagRunner", "Pipeline", "Pusher",
           "PushDestination", "Resolver", "StatisticsGen", "sqlite_metadata_connection_config", "standard_artifacts"]
