"""Training numerics, whole: two steps of `detflow train` equal two steps of the OD API's own train step.

The oracle ran `model_lib_v2.eager_train_step` twice from the FPN-lite 320 fixture's checkpoint on a
fixed two-image batch, with the optimizer and learning-rate schedule of the fixture's zoo config (its
rates scaled down: the fixture's weights are made for forward parity, and at the zoo's rate they jump;
tools/oracle/make_zoo_fixtures.py `write_train_step_reference`), and saved the weights after each step. Here `train_loop.train` — the entry point of `detflow train` and of the pipeline's Trainer — runs
the same two steps from records of the same two images (augmentation off, the backbone trained as the
OD API trains it, a `full` start), and every variable after each step must equal the OD API's: the
losses, the regularization, the set of trainable variables, the gradients, the optimizer's update and
the batch-norm statistics' update together.
"""
import numpy as np
import pytest
import tensorflow as tf

from detection.training import train_loop
from detection.training.train_settings import TrainJob
from schemas.pipeline_config import load_pipeline_config
from tests.detection import records
from tests.zoo.fixtures import fixture

ZOO = "ssd_mobilenet_v2_fpnlite_320"
# |ours - OD API| per variable <= RELATIVE x the OD API's change to it + FLOOR x the largest change to a
# variable of its kind (kernel, beta, moving_mean, ...) + ULPS float32 ulps of its value. A wrong
# learning rate or momentum, a missing gradient, a frozen variable differ by the whole change. FLOOR:
# some batch-norm offsets get a gradient that is a sum over 2 x 320 x 320 positions cancelling to
# ~1e-6 of the others', whose rounding differs between TF versions (measured: 3e-5 of a beta's largest
# change at most; the rest agree to 1e-5 of their change).
RELATIVE = 0.1
FLOOR = 1e-3
ULPS = 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """detflow's checkpoints after steps 1 and 2, the OD API's, and the start."""
    out = fixture(ZOO) / "train_step"
    batch = np.load(out / "batch.npz")
    work = tmp_path_factory.mktemp("train_step")
    with tf.io.TFRecordWriter(str(work / "train.tfrecord")) as writer:
        for i, n in enumerate(batch["num"]):
            writer.write(records.example(batch["images"][i], batch["boxes"][i, :n], batch["classes"][i, :n],
                                         f"image{i}.png"))
    config = load_pipeline_config(str(out / "pipeline.config"))
    train_config = config.proto.train_config
    del train_config.data_augmentation_options[:]
    train_config.fine_tune_checkpoint = str(fixture(ZOO) / "checkpoint" / "ckpt-0")
    train_config.fine_tune_checkpoint_type = "full"
    result = train_loop.train(config, TrainJob(train_files=str(work / "train.tfrecord"), eval_files=None,
                                      model_dir=str(work / "model"), num_steps=2, batch_size=len(batch["num"]),
                                      freeze_backbone=False, checkpoint_every=1, export=False, log_every=1))
    return {"first_losses": result.losses.first_losses,"ours": [tf.train.load_checkpoint(str(work / "model" / f"ckpt-{k}")) for k in (1, 2)],
            "od_api": [tf.train.load_checkpoint(str(out / f"step-{k}")) for k in (1, 2)],
            "start": tf.train.load_checkpoint(str(fixture(ZOO) / "checkpoint" / "ckpt-0")),
            "losses": batch["losses"]}


def test_the_first_step_losses_equal_the_od_api(trained):
    ours = trained["first_losses"]
    classification, localization, regularization, total = trained["losses"][0]
    np.testing.assert_allclose(ours["cls_loss"], classification, rtol=1e-4)
    np.testing.assert_allclose(ours["box_loss"], localization, rtol=1e-4)
    np.testing.assert_allclose(ours["loss"], total, rtol=1e-5)
    # The total is ~3000x the regularization: it is its own check (the l2 weights halved, every layer's).
    np.testing.assert_allclose(ours["loss"] - ours["cls_loss"] - ours["box_loss"], regularization, atol=2e-3)


def _model_keys(reader) -> list[str]:
    return sorted(k for k in reader.get_variable_to_shape_map()
                  if k.startswith("model/") and k.endswith("/.ATTRIBUTES/VARIABLE_VALUE")
                  and "_training_step" not in k)


def _kind(key: str) -> str:
    return key.split("/.ATTRIBUTES")[0].rsplit("/", 1)[-1]


@pytest.mark.parametrize("step", [1, 2])
def test_every_variable_after_a_detflow_step_equals_the_od_api_step(trained, step):
    ours, ref, start = trained["ours"][step - 1], trained["od_api"][step - 1], trained["start"]
    keys = _model_keys(ref)
    assert keys == _model_keys(ours)
    changes = {key: float(np.abs(ref.get_tensor(key) - start.get_tensor(key)).max()) for key in keys}
    largest: dict = {}
    for key, change in changes.items():
        largest[_kind(key)] = max(largest.get(_kind(key), 0.0), change)
    moved, worst = 0, (0.0, "")
    for key in keys:
        want, got, change = ref.get_tensor(key), ours.get_tensor(key), changes[key]
        diff = float(np.abs(got - want).max())
        rounding = ULPS * float(np.spacing(np.abs(want).astype(np.float32)).max()) + FLOOR * largest[_kind(key)]
        if change == 0.0:
            assert diff <= rounding, f"{key}: the OD API's step left it, detflow's moved it by {diff:.3g}"
            continue
        moved += 1
        worst = max(worst, (diff / (change + rounding), key))
        assert diff <= RELATIVE * change + rounding, (f"step {step}, {key}: |detflow - OD API| {diff:.3g} against the OD API's "
                                           f"change {change:.3g}")
    assert moved > 0.9 * len(keys), f"only {moved} of {len(keys)} variables changed"
    print(f"step {step}: {moved} of {len(keys)} variables changed; worst {worst[0]:.3g} of the change ({worst[1]})")
