"""What the learning tests share: the sample data as records, and the model a zoo fine-tune starts from."""
from __future__ import annotations

import tensorflow as tf
import tf_keras

import sample_data
from detection.architectures import registry
from detection.checkpoints import restore
from detection.serving import export
from pipelines import cli
from schemas.pipeline_config import load_pipeline_config
from tests.zoo.fixtures import fixture


def sample_records(root, num_images: int) -> tuple[str, str]:
    """`num_images` sample images at 128 px converted by `detflow convert`: (records folder, label map path)."""
    data = sample_data.generate(root / "data", num_images=num_images, image_size=(128, 128), seed=3)
    records = str(root / "records")
    assert cli.main(["convert", "--format", "coco", "--annotations", str(data.annotations), "--images",
                     str(data.images_dir), "--label-map", str(data.label_map), "--out", records]) == 0
    return records, str(data.label_map)


def start_detector(zoo: str, config_path: str):
    """The model training starts from: the zoo fixture restored with `detection`, as a detector for
    `model_eval.evaluate_exports(detectors=...)`: uint8 images [B, H, W, 3] -> the serving_default outputs.

    The export's own serving code (`export.DetectionModule`), traced but not saved: the same function as
    the SavedModel, without the seconds a save and a load of a large network take. Seeded as `train` seeds
    itself (TrainJob.seed 0), so the re-initialised class head is the one training starts from.
    """
    config = load_pipeline_config(config_path)
    tf_keras.utils.set_random_seed(0)
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(zoo)), "detection", pipeline_proto=config.proto)
    serve = tf.function(export.DetectionModule(bundle).serve_tensor)

    def detect(images):
        return {k: v.numpy() for k, v in serve(tf.constant(images)).items()}
    return detect
