"""`detflow checkpoint convert`: a Keras weights file as the OD API's classification checkpoint (`keras_weights`)."""

from __future__ import annotations

import json
import os

REPORT_FILE = "restore_report.json"


def convert(args) -> int:
    """Handler: builds the config's detector, loads its backbone from --weights, writes the checkpoint to --out."""
    from detection.architectures import registry  # pylint: disable=import-outside-toplevel
    from detection.checkpoints import keras_weights  # pylint: disable=import-outside-toplevel
    from detection.outputs import writable_dir  # pylint: disable=import-outside-toplevel
    from schemas.pipeline_config import load_pipeline_config  # pylint: disable=import-outside-toplevel
    config = load_pipeline_config(args.config)
    out = writable_dir(args.out, "--out")
    bundle = registry.build_detector(config.proto)
    report = keras_weights.restore_backbone(bundle.model, args.weights, "classification")
    prefix = keras_weights.write_classification_checkpoint(bundle.model, out)
    with open(os.path.join(out, REPORT_FILE), "w", encoding="utf-8") as f:
        json.dump(report.to_dict(), f, indent=1)
    layers = report.layers
    print(f"loaded {len(layers['loaded'])} of the backbone's {layers['backbone_layers']} layers from {args.weights}")
    for item in layers["left_initialised"]:
        print(f"  left initialised: {item['layer']}: {item['reason']}")
    print(f"wrote {prefix} (the OD API's classification layout: feature_extractor/...) and "
          f"{os.path.join(out, REPORT_FILE)}")
    print(f'use it with: fine_tune_checkpoint: "{prefix}"  fine_tune_checkpoint_type: "classification"')
    return 0
