"""The real data of ../shared/realdata and the one fine-tuning recipe the real-data benchmark and tests use.

Real labelled images and pretrained weights made by others live beside the repository, never in it
(`REALDATA`, or `$DETFLOW_REALDATA`): BCCD blood cells and the playing cards of the OD API tutorial
(Pascal VOC), and an ImageNet MobileNetV2 0.35 in a Keras file. `convert` turns a dataset into OD API
TFRecords with `detflow convert`; `recipe_config` writes the zoo's SSD MobileNetV2 FPN-lite config at
depth 0.35 / min_depth 8 (where the OD API's MobileNetV2 is Keras' at alpha 0.35) with the recipe.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from google.protobuf import text_format

REPO = pathlib.Path(__file__).resolve().parents[1]
REALDATA = pathlib.Path(os.environ.get("DETFLOW_REALDATA", REPO.parent / "shared" / "realdata"))
ZOO_CONFIG = REPO / "tests" / "data" / "configs" / "ssd_mobilenet_v2_fpnlite_320x320.config"
IMAGENET_WEIGHTS = REALDATA / "weights" / "mobilenet_v2_035_224_teachable_machine.h5"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A real VOC dataset: annotation and image folders (relative to REALDATA) and its classes in id order."""

    name: str
    classes: tuple[str, ...]
    parts: tuple[tuple[str, str, int], ...]    # (annotations, images, eval percent) converted one by one

    def label_map_text(self) -> str:
        """The StringIntLabelMap of the classes, ids from 1."""
        return "".join(f'item {{ id: {i} name: "{name}" }}\n' for i, name in enumerate(self.classes, 1))


DATASETS = {
    # 364 images; the split: 20 % by TFX's hash of the file name (288 train / 76 eval).
    "bccd": Dataset("bccd", ("RBC", "WBC", "Platelets"), (("bccd/Annotations", "bccd/JPEGImages", 20),)),
    # The tutorial's own split: train/ (296) for training, test/ (67) for evaluation.
    "cards": Dataset("cards", ("nine", "ten", "jack", "queen", "king", "ace"),
                     (("cards/train", "cards/train", 0), ("cards/test", "cards/test", 100))),
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How the real-data runs train (the same for detflow and the OD API)."""

    steps: int = 400
    batch_size: int = 8
    learning_rate: float = 0.02
    warmup_steps: int = 50
    warmup_learning_rate: float = 0.005
    input_size: int = 320
    batch_norm_decay: float = 0.997         # the zoo config's
    fine_tune_checkpoint: str = ""          # "" trains from random initialisation
    fine_tune_checkpoint_type: str = "classification"


def available() -> bool:
    """True when ../shared/realdata (or $DETFLOW_REALDATA) holds the datasets and the weights."""
    return IMAGENET_WEIGHTS.exists() and all((REALDATA / d.parts[0][1]).exists() for d in DATASETS.values())


def convert(dataset: Dataset, out: pathlib.Path, compression: str = "none") -> dict[str, str]:
    """Converts the dataset with `detflow convert` into out/<part>/; {"train": glob, "eval": glob, "label_map": path}."""
    from pipelines import cli  # pylint: disable=import-outside-toplevel

    out.mkdir(parents=True, exist_ok=True)
    label_map = out / "label_map.pbtxt"
    label_map.write_text(dataset.label_map_text())
    train, evaluation = [], []
    for i, (annotations, images, eval_percent) in enumerate(dataset.parts):
        part = out / f"part{i}"
        code = cli.main(["convert", "--format", "voc", "--annotations", str(REALDATA / annotations),
                         "--images", str(REALDATA / images), "--label-map", str(label_map), "--out", str(part),
                         "--eval-percent", str(eval_percent), "--compression", compression])
        if code != 0:
            raise RuntimeError(f"detflow convert of {annotations} exited {code}")
        if eval_percent < 100:
            train.append(str(part / "Split-train" / "*"))
        if eval_percent > 0:
            evaluation.append(str(part / "Split-eval" / "*"))
    return {"train": ",".join(train), "eval": ",".join(evaluation), "label_map": str(label_map)}


def recipe_config(num_classes: int, recipe: Recipe, train: str, evaluation: str, label_map: str) -> str:
    """The zoo FPN-lite config at depth 0.35 / min_depth 8 with the recipe, as pipeline.config text."""
    from schemas.protos import pipeline_pb2  # pylint: disable=import-outside-toplevel
    proto = pipeline_pb2.TrainEvalPipelineConfig()
    text_format.Merge(ZOO_CONFIG.read_text(), proto)
    ssd = proto.model.ssd
    ssd.num_classes = num_classes
    ssd.image_resizer.fixed_shape_resizer.height = ssd.image_resizer.fixed_shape_resizer.width = recipe.input_size
    ssd.feature_extractor.depth_multiplier, ssd.feature_extractor.min_depth = 0.35, 8
    for hyperparams in (ssd.feature_extractor.conv_hyperparams,
                        ssd.box_predictor.weight_shared_convolutional_box_predictor.conv_hyperparams):
        hyperparams.batch_norm.decay = recipe.batch_norm_decay
    train_config = proto.train_config
    train_config.batch_size, train_config.num_steps = recipe.batch_size, recipe.steps
    cosine = train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate
    cosine.learning_rate_base, cosine.total_steps = recipe.learning_rate, recipe.steps
    cosine.warmup_learning_rate, cosine.warmup_steps = recipe.warmup_learning_rate, recipe.warmup_steps
    train_config.fine_tune_checkpoint = recipe.fine_tune_checkpoint
    train_config.fine_tune_checkpoint_type = recipe.fine_tune_checkpoint_type
    for reader, pattern in ((proto.train_input_reader, train), (proto.eval_input_reader[0], evaluation)):
        reader.label_map_path = label_map
        del reader.tf_record_input_reader.input_path[:]
        reader.tf_record_input_reader.input_path.extend(pattern.split(","))
    return text_format.MessageToString(proto)
