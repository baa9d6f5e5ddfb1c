"""The embedded sample dataset (see `generate`): seeded, nothing downloaded.

Used by the demo, the base-checkpoint script, the benchmarks and the tests; no
pipeline node imports it.
"""

from sample_data.generate import (DEMO_CLASSES, KEYPOINT_FLIP_PERMUTATION, KEYPOINT_NAMES, PRETRAIN_CLASSES, ImageMix,
                                  SampleDataset, generate, generate_span, label_map_text, main)

__all__ = ["DEMO_CLASSES", "KEYPOINT_FLIP_PERMUTATION", "KEYPOINT_NAMES", "PRETRAIN_CLASSES", "ImageMix",
           "SampleDataset", "generate", "generate_span", "label_map_text", "main"]
