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


def sample_records(root, num_images: int, **generate) -> tuple[str, str]:
    """`num_images` sample images at 128 px (`generate`: more of sample_data.generate's arguments) converted by
    `detflow convert`: (records folder, label map path)."""
    data = sample_data.generate(root / "data", num_images=num_images, image_size=(128, 128), seed=3, **generate)
    records = str(root / "records")
    assert cli.main(["convert", "--format", "coco", "--annotations", str(data.annotations), "--images",
                     str(data.images_dir), "--label-map", str(data.label_map), "--out", records]) == 0
    return records, str(data.label_map)


def fine_tune_and_score(root, zoo: str, config: str, records: str, label_map: str,
                        extra_args: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """`detflow train` of `config` on the records' train split into root/model, and the start (the zoo fixture
    restored, `start_detector`) and the fine-tuned export scored on the eval split: (train result,
    {"start" | "trained": COCO metrics})."""
    import json  # pylint: disable=import-outside-toplevel

    from components import names  # pylint: disable=import-outside-toplevel
    from components.evaluator import model_eval  # pylint: disable=import-outside-toplevel
    from components.evaluator import keypoint_metrics  # pylint: disable=import-outside-toplevel
    from schemas.label_map import load_label_map  # pylint: disable=import-outside-toplevel
    start = start_detector(zoo, config)
    model_dir = root / "model"
    assert cli.main(["train", "--config", config, "--train", f"{records}/Split-train/*", *extra_args,
                     "--model-dir", str(model_dir)]) == 0
    result = json.loads((model_dir / names.TRAIN_RESULT_FILE).read_text())
    # The keypoint metrics the config asks for (eval_config.parameterized_metric), if any.
    keypoints = keypoint_metrics.keypoint_setup(load_pipeline_config(config).proto, load_label_map(label_map))
    accumulators, _ = model_eval.evaluate_exports(
        model_eval.split_files(records, "eval"), {"start": "the zoo fixture restored", "trained": result["export_dir"]},
        model_eval.read_label_map(label_map), detectors={"start": start}, keypoints=keypoints)
    return result, {k: a.result().metrics for k, a in accumulators.items()}


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
    return _Served(serve)


class _Served:
    """A traced serving function as a detector: uint8 images → numpy outputs; `keys` names them (the
    Evaluator collects keypoints from a detector whose keys have them)."""

    def __init__(self, serve):
        self._serve = serve.get_concrete_function(tf.TensorSpec([None, None, None, 3], tf.uint8))
        self.keys = tuple(self._serve.structured_outputs)

    def __call__(self, images):
        return {k: v.numpy() for k, v in self._serve(tf.constant(images)).items()}
