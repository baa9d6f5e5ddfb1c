"""`detflow predict --model EXPORT_DIR|MODEL.tflite IMAGE... --out DIR [--min-score X]` (`trainer.predict`)."""

from __future__ import annotations

import sys

from detection.serving.predict import predict_images


def predict(args) -> int:
    """CLI handler: 0 when every image was processed, 1 when some could not be, 2 for a bad model."""
    result = predict_images(args.model, list(args.images), args.out, args.min_score, args.label_map)
    print(f"model: {result.model_kind}; class names: {result.labels}")
    for item in result.images:
        best = max(item["detections"], key=lambda d: d["score"], default=None)
        tail = f" (best: {best['display_name']} {best['score']:.2f})" if best else ""
        print(f"{item['image']}: {len(item['detections'])} detections >= {args.min_score}{tail} -> {item['output']}")
    for item in result.failed:
        print(f"skipped {item['image']}: {item['error']}", file=sys.stderr)
    print(f"{len(result.images)} images processed, {len(result.failed)} skipped; detections in {result.json_path}")
    return 1 if result.failed else 0
