"""What the learning tests share: the sample data as records, and the model a zoo fine-tune starts from."""
from __future__ import annotations

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


def start_export(zoo: str, config_path: str, label_map: str, out: str) -> str:
    """The model training starts from: the zoo fixture restored with `detection`, exported.

    Seeded as `train` seeds itself (TrainJob.seed 0), so the re-initialised class head is the one
    training starts from.
    """
    config = load_pipeline_config(config_path)
    tf_keras.utils.set_random_seed(0)
    bundle = registry.build_detector(config.proto)
    restore.restore(bundle.model, str(fixture(zoo)), "detection", pipeline_proto=config.proto)
    return export.export_saved_model(bundle, label_map, config.text, None, out)
