"""The one place a `tf.distribute` strategy is chosen for training.

Names (the DetectionTrainer's `strategy` parameter; "auto" elsewhere):
- "auto": MirroredStrategy over all GPUs when there are several, the one GPU
  when there is one, else TF's default strategy (the CPU);
- "mirrored": MirroredStrategy over all GPUs (the CPU when there are none);
- "one_device": the first GPU, else the CPU;
- "default": TF's default strategy.
"""

from __future__ import annotations

STRATEGIES = ("auto", "mirrored", "one_device", "default")


def check_strategy(name: str) -> None:
    """Raises ValueError unless `name` is one of STRATEGIES."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy = {name!r}: expected one of {', '.join(STRATEGIES)}")


def build_strategy(name: str = "auto"):
    """The tf.distribute strategy `name` stands for (see the module doc)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    check_strategy(name)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "one_device" or (name == "auto" and gpus):
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.get_strategy()
