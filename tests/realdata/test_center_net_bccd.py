"""CenterNet on real images from real ImageNet weights: BCCD (../shared/realdata) and `detflow train`.

The zoo's CenterNet MobileNetV2 FPN config at depth 0.35 (the OD API's MobileNetV2 is Keras' at alpha 0.35, so
the Teachable Machine Keras file fills it: `classification`), its keep_aspect_ratio_resizer at 160 (BCCD's
640x480 images become 160x120, padded), batch 8, its Adam and cosine schedule over 300 steps, the backbone
frozen (detflow's default), the FPN and heads training. The same recipe from random initialisation, the
backbone training too, is the baseline: both exports are scored on the same held-out 20 % of BCCD. `make
test-long` runs it.
"""
from __future__ import annotations

import json
import os

import pytest
from google.protobuf import text_format

from bench import realdata
from components.evaluator import model_eval
from pipelines import cli
from schemas.protos import pipeline_pb2, train_pb2
from tests.realdata.paths import require

MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"
STEPS = 300
CONFIG = os.path.join(os.path.dirname(__file__), "..", "data", "configs", "centernet_mobilenetv2_fpn_512x512.config")
pytestmark = [pytest.mark.slow, pytest.mark.long]


def _config(root, data: dict, start: str) -> str:
    proto = pipeline_pb2.TrainEvalPipelineConfig()
    with open(CONFIG, encoding="utf-8") as f:
        text_format.Merge(f.read(), proto)
    cn = proto.model.center_net
    cn.num_classes = 3
    cn.feature_extractor.depth_multiplier = 0.35
    cn.image_resizer.keep_aspect_ratio_resizer.min_dimension = 160
    cn.image_resizer.keep_aspect_ratio_resizer.max_dimension = 160
    cn.object_center_params.max_box_predictions = 100          # BCCD's slides hold up to ~30 cells
    tc = proto.train_config
    tc.batch_size, tc.num_steps = 8, STEPS
    cosine = tc.optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate
    cosine.total_steps, cosine.warmup_steps = STEPS, 30
    tc.fine_tune_checkpoint, tc.fine_tune_checkpoint_type = start, "classification"
    tc.fine_tune_checkpoint_version = train_pb2.V2
    for reader, pattern in ((proto.train_input_reader, data["train"]), (proto.eval_input_reader[0], data["eval"])):
        reader.label_map_path = data["label_map"]
        del reader.tf_record_input_reader.input_path[:]
        reader.tf_record_input_reader.input_path.append(pattern)
    path = root / f"{'imagenet' if start else 'random'}.config"
    path.write_text(text_format.MessageToString(proto))
    return str(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{imagenet|random: (train result, COCO metrics on the eval split)}."""
    require("bccd", "Annotations")
    weights = str(require("weights", realdata.IMAGENET_WEIGHTS.name))
    root = tmp_path_factory.mktemp("center_net_bccd")
    data = realdata.convert(realdata.DATASETS["bccd"], root / "records")
    out = {}
    # From random initialisation the backbone trains too: frozen at random, detflow's health check finds the
    # export collapsed (every image the same scores) and exits 1 naming that cause.
    for name, start, flags in (("imagenet", weights, []), ("random", "", ["--train-backbone"])):
        model_dir = root / name
        assert cli.main(["train", "--config", _config(root, data, start), "--model-dir", str(model_dir),
                         *flags]) == 0
        result = json.loads((model_dir / "train_result.json").read_text())
        out[name] = (result, model_eval.score_model(str(model_dir / "export"), data["eval"]).result.metrics)
    return out


def test_center_net_learns_bccd_from_imagenet_weights_with_its_backbone_frozen(runs):
    (result, metrics), (_, random_metrics) = runs["imagenet"], runs["random"]
    report = result["restore_report"]
    assert report["layout"] == "keras_weights" and len(report["layers"]["loaded"]) == 102
    assert result["meta_architecture"] == "center_net" and result["steps"] == STEPS
    assert result["final_losses"]["loss"] < result["first_losses"]["loss"]
    print(f"CenterNet MobileNetV2 0.35 FPN on BCCD, mAP@.50IOU: ImageNet start {metrics[MAP50]:.3f}, random start "
          f"{random_metrics[MAP50]:.3f}; mAP {metrics['DetectionBoxes_Precision/mAP']:.3f}, "
          f"{random_metrics['DetectionBoxes_Precision/mAP']:.3f}")
    # Measured (2026-12-07): mAP@.50IOU 0.770 from ImageNet with the backbone frozen, 0.737 from random
    # initialisation with every layer training (COCO mAP 0.330 from ImageNet). BCCD's cells are easy for
    # CenterNet's heatmaps at 300 steps: the pretrained start matches the full from-scratch run while training
    # only its FPN and heads, rather than leaving it far behind.
    assert metrics[MAP50] > 0.6 and random_metrics[MAP50] > 0.5, (metrics, random_metrics)
    assert metrics[MAP50] > random_metrics[MAP50] - 0.05, (metrics, random_metrics)
