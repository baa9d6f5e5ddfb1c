"""`detflow evaluate --model M --data RECORDS [--label-map F] [--out DIR] [--json]`: COCO metrics of any detector.

Any model `predict` reads (detflow and OD API SavedModel exports, TFLite detectors), scored on OD API
TFRecords by the Evaluator's own code (`model_eval.score_model`): the 12 COCO metrics, per-class AP,
and with --out the metrics.json, PR curves, confusion matrix and drawn examples.
"""

from __future__ import annotations

import json
import os

from pipelines.cli.coco_eval import format_table

METRICS_FILE = "metrics.json"


def evaluate(args) -> int:
    """Handler of `detflow evaluate`; 0 when scored, 2 for a model, data or label map that cannot be used."""
    from components.evaluator import model_eval, report  # pylint: disable=import-outside-toplevel
    from detection.outputs import writable_dir  # pylint: disable=import-outside-toplevel
    out = writable_dir(args.out, "--out") if args.out else None
    score = model_eval.score_model(args.model, args.data, args.label_map, batch_size=args.batch_size,
                                   keep_images=args.num_images_drawn if out else 0)
    document = score.document()
    if out:
        with open(os.path.join(out, METRICS_FILE), "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
        report.write_plots(out, score.result, score.accumulator, score.categories, score.drawn)
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    print(f"model: {score.model_kind}; class names: {score.label_map}; {score.num_images} images")
    print(format_table(score.result))
    if score.accumulator.dropped_detections:
        print(f"note: {score.accumulator.dropped_detections} detections had class ids the label map lacks "
              "(left out, as the OD API does)")
    if out:
        print(f"metrics, PR curves, confusion matrix and examples in {out}")
    return 0
