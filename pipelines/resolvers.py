"""The pipeline's resolver strategies: which start checkpoint the Trainer gets, which baseline the Evaluator.

Both keep an unchanged re-run's inputs unchanged, so it is served from the cache.
"""

from __future__ import annotations

from typing import Dict, List

from tfx.dsl.components.common import resolver as resolver_lib
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.types.artifact import Artifact

from components.names import CURRENT_MODEL_ID_PROPERTY


class WarmStartStrategy(resolver_lib.ResolverStrategy):
    """The checkpoint the Trainer starts from: the latest blessed model, else the imported one.

    Inputs: `model`/`model_blessing` (all of them), `checkpoint` (imported) and
    `examples` (this run's). When the latest blessed model was itself trained on
    these examples, the model *it* started from is returned instead, so an
    unchanged re-run gives the Trainer the same inputs and is served from the cache.
    """

    def resolve_artifacts(self, store, input_dict: Dict[str, List[Artifact]]):
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

    def resolve_artifacts(self, store, input_dict: Dict[str, List[Artifact]]):
        """Returns `input_dict` with `model` set to the baseline (empty when there is none)."""
        result = dict(input_dict, model_blessing=[])
        blessed = LatestBlessedModelStrategy()._resolve(input_dict, "model", "model_blessing")["model"]
        candidate = {a.id for a in input_dict.get("candidate", [])}
        if blessed and blessed[0].id in candidate:
            blessings = [b for b in input_dict["model_blessing"]
                         if b.get_int_custom_property(CURRENT_MODEL_ID_PROPERTY) == blessed[0].id]
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


def _to_tfx(mlmd_artifact, like: Artifact) -> Artifact:
    """Wraps an MLMD artifact proto in the TFX class of `like` (same artifact type)."""
    artifact = type(like)()
    artifact.set_mlmd_artifact_type(like.artifact_type)
    artifact.set_mlmd_artifact(mlmd_artifact)
    return artifact
