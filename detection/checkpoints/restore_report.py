"""What a restore did (`RestoreReport`): per module what was restored, re-initialised and why, what was unused.

Written by `restore.restore` (TF2 checkpoints) and `keras_weights.restore_backbone` (Keras files),
recorded on the Model artifact and in `train_result.json`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_SHOWN = 5


@dataclasses.dataclass
class RestoreReport:
    """What a restore did: counts per module, every variable not restored and every checkpoint value not used."""

    checkpoint: str
    checkpoint_type: str
    layout: str
    restored: dict[str, int] = dataclasses.field(default_factory=dict)
    reinitialized: list[dict[str, str]] = dataclasses.field(default_factory=list)
    unused: list[dict[str, str]] = dataclasses.field(default_factory=list)
    network_check: str = ""
    # Per layer, for a start from a Keras file (keras_weights): {"loaded": [...], "left_initialised": [...]}.
    layers: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_restored(self) -> int:
        """Variables taken from the checkpoint."""
        return sum(self.restored.values())

    def reinitialized_by_module(self) -> dict[str, int]:
        """Count of variables left as initialised, by module."""
        return _count(self.reinitialized)

    def unused_by_module(self) -> dict[str, int]:
        """Count of checkpoint values not restored, by module."""
        return _count(self.unused)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (to record on the model artifact)."""
        return {"checkpoint": self.checkpoint, "checkpoint_type": self.checkpoint_type,
                "layout": self.layout, "restored": dict(self.restored),
                "num_restored": self.num_restored,
                "reinitialized_by_module": self.reinitialized_by_module(),
                "reinitialized": list(self.reinitialized),
                "unused_by_module": self.unused_by_module(), "unused": list(self.unused),
                "network_check": self.network_check, **({"layers": self.layers} if self.layers else {})}

    def summary(self) -> str:
        """One line for the log."""
        restored = ", ".join(f"{k} {v}" for k, v in sorted(self.restored.items()))
        reinit = ", ".join(f"{k} {v}" for k, v in sorted(self.reinitialized_by_module().items()))
        unused = ", ".join(f"{k} {v}" for k, v in sorted(self.unused_by_module().items()))
        return (f"restored {self.num_restored} variables from {self.checkpoint} "
                f"({self.checkpoint_type}): {restored or 'none'}; re-initialised: {reinit or 'none'}"
                + (f"; not used from the checkpoint: {unused}" if unused else "")
                + (self._layers_line() if self.layers else "")
                + (f"; {self.network_check}" if self.network_check else ""))

    def _layers_line(self) -> str:
        loaded, left = self.layers.get("loaded", []), self.layers.get("left_initialised", [])
        shown = "; ".join(f"{item['layer']} ({item['reason']})" for item in left[:_SHOWN])
        return (f"; backbone layers loaded {len(loaded)} of {self.layers.get('backbone_layers', '?')}"
                + (f", left initialised: {shown}" + (", ..." if len(left) > _SHOWN else "") if left else ""))


def _count(items: list[dict[str, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item["module"]] = out.get(item["module"], 0) + 1
    return out
