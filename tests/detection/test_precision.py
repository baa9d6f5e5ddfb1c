"""Mixed precision (training/precision.py) and the TPU strategy's refusals, on CPU with real TensorFlow.

The policies run here as they would on a GPU or TPU, slower: the network computes in float16 / bfloat16
(its exported graph holds the casts), the variables, losses and outputs stay float32, float16 trains with
dynamic loss scaling. Speed on a GPU is bench/bench_precision.py's (run where one is lent).
"""
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from detection.architectures import registry
from detection.training import precision as precision_lib
from detection.training import strategy as strategy_lib
from detection.training import train_loop
from detection.training.train_settings import TrainJob
from tests.detection import records


def test_auto_is_bfloat16_only_on_a_tpu_and_only_when_the_config_asks():
    resolve = precision_lib.resolve
    assert resolve("auto", use_bfloat16=True, on_tpu=True).policy == "mixed_bfloat16"
    off_tpu = resolve("auto", use_bfloat16=True, on_tpu=False)
    assert off_tpu.policy == "float32" and "on a TPU only" in off_tpu.reason
    assert resolve("auto", use_bfloat16=False, on_tpu=True).policy == "float32"
    asked = resolve("mixed_float16", use_bfloat16=True, on_tpu=False)
    assert asked.policy == "mixed_float16" and asked.loss_scaling and "use_bfloat16 left aside" in asked.reason
    assert not resolve("mixed_bfloat16", use_bfloat16=False, on_tpu=False).loss_scaling
    with pytest.raises(ValueError, match="precision = 'float64': expected one of auto, float32"):
        resolve("float64", use_bfloat16=False, on_tpu=False)


@pytest.mark.parametrize("policy, compute", [("mixed_float16", tf.float16), ("mixed_bfloat16", tf.bfloat16)])
def test_the_detector_computes_in_16_bits_and_hands_on_float32(tmp_path, policy, compute):
    config = records.tiny_config(str(tmp_path), "unused")
    with precision_lib.building_under(policy):
        bundle = registry.build_detector(config.proto)
    assert tf_keras.mixed_precision.global_policy().name == "float32"        # put back after the build
    convs = [layer for layer in bundle.model.submodules if isinstance(layer, tf_keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == compute.name for layer in convs)
    assert all(v.dtype == tf.float32 for v in bundle.model.variables)
    images = bundle.preprocess(tf.random.uniform([2, 64, 64, 3], 0, 255))
    out = bundle.model(images, training=False)
    assert out["feature_maps"][0].dtype == compute
    assert out["box_encodings"].dtype == tf.float32 and out["class_predictions_with_background"].dtype == tf.float32
    detections = bundle.model.postprocess(out)
    assert detections["detection_boxes"].dtype == tf.float32


def test_faster_rcnn_crops_and_second_stage_run_in_float16_and_hand_on_float32():
    """The zoo's 640 config at 128 px (its matmul crops take the conv4 map's dtype)."""
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel
    proto = load_pipeline_config("tests/data/configs/faster_rcnn_resnet50_v1_640x640.config").proto
    resizer = proto.model.faster_rcnn.image_resizer.keep_aspect_ratio_resizer
    resizer.min_dimension = resizer.max_dimension = 128
    assert proto.model.faster_rcnn.use_matmul_crop_and_resize
    with precision_lib.building_under("mixed_float16"):
        bundle = registry.build_detector(proto)
    images = bundle.preprocess(tf.random.uniform([1, 128, 128, 3], 0, 255))
    out = bundle.model(images, training=False)
    assert out["rpn_features_to_crop"].dtype == tf.float16 and out["box_classifier_features"].dtype == tf.float16
    assert {out[k].dtype for k in ("rpn_box_encodings", "rpn_objectness_predictions_with_background",
                                   "refined_box_encodings", "class_predictions_with_background")} == {tf.float32}
    assert bundle.model.postprocess(out)["detection_scores"].dtype == tf.float32


def test_loss_scaling_is_on_for_float16_only():
    optimizer = tf_keras.optimizers.SGD(0.1)
    scaled = precision_lib.loss_scale_optimizer(optimizer, precision_lib.Precision("mixed_float16", ""))
    assert isinstance(scaled, tf_keras.mixed_precision.LossScaleOptimizer) and scaled.dynamic
    assert precision_lib.loss_scale_optimizer(optimizer, precision_lib.Precision("mixed_bfloat16", "")) is None


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return root, records.write_records(str(root / "rec"), num_images=8, size=64, boxes_per_image=(3, 4), seed=0)


def _graph_dtypes(export_dir: str) -> set:
    """The dtypes the exported serving function's ops compute in (its Cast ops' targets)."""
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    graph = serving.graph.as_graph_def()
    functions = [graph.node] + [f.node_def for f in graph.library.function]
    return {tf.dtypes.as_dtype(node.attr["DstT"].type).name for nodes in functions for node in nodes
            if node.op == "Cast"}


@pytest.mark.parametrize("policy, compute", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_a_mixed_precision_run_trains_and_exports_float32_outputs(data, policy, compute):
    root, pattern = data
    config = records.tiny_config(str(root), pattern, num_steps=12, learning_rate_base=0.02)
    lines = []
    result = train_loop.train(config, TrainJob(pattern, None, str(root / policy), freeze_backbone=False,
                                               log_every=6), on_log=lines.append, precision=policy)
    assert result.distribution.precision == policy
    assert f"precision {policy}: asked for" + (" (dynamic loss scaling)" if policy == "mixed_float16" else "") \
        in lines
    # Learns as float32 does (tests/detection/test_train_loop.py: 0.57-0.65 of the first loss after 12 steps).
    assert np.isfinite(result.losses.final_loss) and result.losses.final_loss < 0.85 * result.losses.first_loss, \
        (result.losses.first_loss, result.losses.final_loss)
    reader = tf.train.load_checkpoint(result.paths.checkpoint)
    assert {reader.get_variable_to_dtype_map()[k] for k in reader.get_variable_to_shape_map()
            if k.startswith("model/")} == {tf.float32}                       # checkpoints hold float32
    assert compute in _graph_dtypes(result.paths.export_dir)                  # the export computes in 16 bits...
    serving = tf.saved_model.load(result.paths.export_dir).signatures["serving_default"]
    out = serving(tf.zeros([1, 64, 64, 3], tf.uint8))
    assert {k: v.dtype for k, v in out.items() if v.dtype.is_floating} == {   # ...and answers in float32
        k: tf.float32 for k, v in out.items() if v.dtype.is_floating}
    assert out["detection_scores"].dtype == tf.float32


def test_use_bfloat16_off_a_tpu_trains_in_float32_and_says_why(data):
    root, pattern = data
    config = records.tiny_config(str(root), pattern, num_steps=2, warmup_steps=1)
    config.proto.train_config.use_bfloat16 = True
    lines = []
    result = train_loop.train(config, TrainJob(pattern, None, str(root / "bf16-config"), export=False),
                              on_log=lines.append)
    assert result.distribution.precision == "float32"
    assert any(line.startswith("precision float32: train_config.use_bfloat16 applies on a TPU only") for line in lines)


def test_a_tpu_that_cannot_be_reached_is_named():
    with pytest.raises(ValueError, match=r"--tpu grpc://127.0.0.1:1: no TPU answers at 127.0.0.1:1"):
        strategy_lib.build_strategy("auto", tpu="grpc://127.0.0.1:1")
    # A name is looked up in the Cloud TPU API; here nothing answers.
    with pytest.raises(ValueError, match="--tpu no-such-tpu: no TPU of that name could be found"):
        strategy_lib.build_strategy("tpu", tpu="no-such-tpu")
    with pytest.raises(ValueError, match="name the TPU"):
        strategy_lib.build_strategy("tpu")
    with pytest.raises(ValueError, match="strategy mirrored with a TPU"):
        strategy_lib.build_strategy("mirrored", tpu="local")


def test_detflow_train_refuses_an_unreachable_tpu_in_one_line(tmp_path, capsys):
    from pipelines import cli  # pylint: disable=import-outside-toplevel
    pattern = records.write_records(str(tmp_path / "records"), num_images=1, shards=1)
    config = records.tiny_config(str(tmp_path), pattern).path
    assert cli.main(["train", "--config", config, "--model-dir", str(tmp_path / "m"),
                     "--tpu", "grpc://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "error: --tpu grpc://127.0.0.1:1: no TPU answers at 127.0.0.1:1" in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "m" / "train_result.json")


def test_the_trainer_parameters_carry_tpu_and_precision():
    from components.trainer.component import TrainerParameters  # pylint: disable=import-outside-toplevel
    parameters = TrainerParameters(tpu="grpc://10.0.0.2:8470", precision="mixed_bfloat16")
    parameters.check()
    assert TrainerParameters.from_exec_properties(parameters.to_exec_properties()) == parameters
    with pytest.raises(ValueError, match="precision = 'half'"):
        TrainerParameters(precision="half").check()
    with pytest.raises(ValueError, match="strategy = 'tpu': name the TPU"):
        TrainerParameters(strategy="tpu").check()
