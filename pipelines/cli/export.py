"""`detflow export`: a trained model as a SavedModel (re-exported from its checkpoint) or a .tflite file."""

from __future__ import annotations

import os

from pipelines.cli.train import setup_logging
from schemas.problems import Problem, ProblemsError


def export(args) -> int:
    """Handler of `detflow export`: a SavedModel (re-exported from the checkpoint) or a .tflite file."""
    setup_logging()
    from detection.outputs import writable_dir, writable_file  # pylint: disable=import-outside-toplevel
    from detection.serving import tflite_export  # pylint: disable=import-outside-toplevel
    if args.format == "tflite":
        if args.quantize == "int8" and not args.representative_data:
            raise ProblemsError([Problem("--representative-data", "int8 needs images to calibrate on: give "
                                         "TFRecords of the train split")])
        out = writable_file(args.out, "--out")
        result = tflite_export.export_tflite(args.model, out, args.quantize, args.representative_data,
                                             args.representative_size)
        calibrated = f", calibrated on {result.representative_images} images" if result.quantize == "int8" else ""
        print(f"wrote {result.path} ({result.quantize}{calibrated}; {result.size_bytes / 1e6:.2f} MB; input "
              f"{result.input_dtype} {result.input_shape})")
        for note in result.notes:
            print(f"note: {note}")
        return 0
    if args.quantize != "none":
        raise ProblemsError([Problem("--quantize", "quantization is for --format tflite")])
    from detection.checkpoints import restore  # pylint: disable=import-outside-toplevel
    from detection.serving import export as export_lib  # pylint: disable=import-outside-toplevel
    writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")
    bundle, text = tflite_export.load_export(args.model)
    out = export_lib.export_saved_model(bundle, export_lib.find_label_map(args.model), text,
                                        restore.find_checkpoint(args.model), args.out)
    print(f"wrote {out}")
    return 0
