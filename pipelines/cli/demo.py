"""`detflow demo`: the sample data and the embedded checkpoint through the whole pipeline, in `--workdir`."""

from __future__ import annotations

import json
import os

from pipelines import configs
from pipelines.cli.errors import exit_on_user_error
from pipelines.cli.run import execute

DEMO_NUM_IMAGES = 1000
DEMO_IMAGE_SIZE = 128
DEMO_SEED = 0
# Learning rate and warm-up as `detflow init` writes them (pipelines/cli/init_config.py INIT_*);
# more images and steps than init's defaults, measured to reach the demo's mAP target.
DEMO_NUM_STEPS = 1000
DEMO_BATCH_SIZE = 16
# The demo data is small: training the backbone too generalises better than heads alone.
DEMO_TRAIN_BACKBONE = True
# The demo's blessing gate (COCO mAP@[.5:.95] on its eval split; it reaches about 0.38), so a
# run that trained badly is not pushed.
DEMO_MIN_MAP = 0.25


def prepare_demo(workdir: str, num_images: int = DEMO_NUM_IMAGES, image_size: int = DEMO_IMAGE_SIZE,
                 num_steps: int = DEMO_NUM_STEPS, batch_size: int = DEMO_BATCH_SIZE):
    """Generates the demo data (once: same seed, same bytes) and its config; returns (data dir, config path)."""
    import sample_data

    data_dir = os.path.join(workdir, "data")
    stamp = os.path.join(data_dir, "generated.json")
    recipe = {"num_images": num_images, "image_size": image_size, "seed": DEMO_SEED,
              "classes": list(sample_data.DEMO_CLASSES)}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == recipe):
        sample_data.generate(data_dir, num_images=num_images, image_size=(image_size, image_size),
                                       seed=DEMO_SEED)
        with open(stamp, "w") as fh:
            json.dump(recipe, fh)
    config_dir = os.path.join(workdir, "config")
    config = write_config(config_dir, sample_data.DEMO_CLASSES, num_steps=num_steps, batch_size=batch_size)
    return data_dir, config


def write_config(config_dir: str, classes, num_steps: int, batch_size: int) -> str:
    """Writes `pipeline.config` + `label_map.pbtxt` in `config_dir` fine-tuning the embedded checkpoint.

    Written only when the content changes, so an unchanged demo re-run keeps the file
    (and the pipeline's cache). Returns the config path.
    """
    import sample_data
    from components.trainer import base_checkpoint
    from pipelines.cli.init_config import INIT_LEARNING_RATE, INIT_WARMUP_STEPS

    os.makedirs(config_dir, exist_ok=True)
    label_map = os.path.join(config_dir, "label_map.pbtxt")
    text = base_checkpoint.render_config(base_checkpoint.ConfigOptions(
        num_classes=len(classes), label_map_path=label_map,
        train_input_path="(the pipeline feeds the ExampleGen's train split)",
        eval_input_path="(the pipeline feeds the ExampleGen's eval split)",
        num_steps=num_steps, batch_size=batch_size, learning_rate_base=INIT_LEARNING_RATE,
        warmup_steps=max(1, min(INIT_WARMUP_STEPS, num_steps // 10)), fine_tune_checkpoint=base_checkpoint.checkpoint_prefix(),
        comment="detflow demo: fine-tune the embedded checkpoint to the sample classes"))
    for path, content in ((label_map, sample_data.label_map_text(classes)),
                          (os.path.join(config_dir, "pipeline.config"), text)):
        if not (os.path.exists(path) and open(path).read() == content):
            with open(path, "w") as fh:
                fh.write(content)
    return os.path.join(config_dir, "pipeline.config")


@exit_on_user_error
def demo(args) -> int:
    """`detflow demo`: sample data + embedded checkpoint → the whole pipeline, in `--workdir`."""
    from components.trainer.component import TrainerParameters
    from detection.outputs import writable_dir
    from pipelines.pipeline_inputs import DataSource
    from pipelines.settings import PipelineSettings, blessing_gate

    workdir = writable_dir(args.workdir, "--workdir")
    def given(name, default):
        value = getattr(args, name, None)
        return default if value is None else value

    data_dir, config = prepare_demo(workdir, given("num_images", DEMO_NUM_IMAGES), given("image_size", DEMO_IMAGE_SIZE),
                                    given("num_steps", DEMO_NUM_STEPS))
    data = DataSource(format="coco", annotations=os.path.join(data_dir, "annotations.json"),
                      images=os.path.join(data_dir, "images"))
    label_map = os.path.join(os.path.dirname(config), "label_map.pbtxt")
    settings = PipelineSettings(
        root=workdir, data=data, config_path=config,
        label_map_path=label_map if os.path.exists(label_map) else None,
        push_to=os.path.join(workdir, configs.PUSH_DIR),
        evaluation=blessing_gate(DEMO_MIN_MAP if args.min_map is None else args.min_map,
                                 max_quantization_drop=args.max_quantization_drop),
        training=TrainerParameters(freeze_backbone=args.frozen_backbone or not DEMO_TRAIN_BACKBONE,
                                   tflite=tuple(args.tflite or ()),
                                   tflite_representative_size=args.representative_size,
                                   bn_reestimate=args.bn_reestimate,
                                   bn_reestimate_batches=args.bn_reestimate_batches))
    code, summary = execute(settings, runner=args.runner)
    if code == 0 and summary is not None and summary.pushed:
        print(f"\nthe fine-tuned detector: {summary.pushed}\n"
              f"  try: detflow predict --model {summary.pushed} {data_dir}/images/000000.png --out predictions")
    return code
