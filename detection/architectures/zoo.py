"""The 41 models of the TF2 Detection Zoo and what detflow does with each: the README's zoo table.

A model is built as the OD API's network when its meta-architecture is a registered family and that
family builds its feature extractor type (`registry.ARCHITECTURES`); otherwise the row says what
refuses it. `CHECKED` names the oracle fixture (tests/zoo) that checks a family member against the
OD API's own code, and at which input. `python -m detection.architectures.zoo` prints the table;
tests/zoo/test_zoo_table.py keeps the README's copy, the fixtures and the zoo configs in
tests/data/configs in step with it.
"""

from __future__ import annotations

import dataclasses

from detection.architectures import registry


@dataclasses.dataclass(frozen=True)
class ZooModel:
    """One zoo model: its name in the zoo's table, meta-architecture, feature extractor type and any other part
    detflow does not build."""

    name: str
    meta_architecture: str
    feature_extractor: str
    also_not_built: str = ""


def _centernet(name: str, extractor: str) -> ZooModel:
    return ZooModel(f"CenterNet {name}", "center_net", extractor)


# The fixture that checks the keypoint heads and post-processing of the CenterNet Keypoints models (their
# keypoint task is the same on every backbone: COCO's 17 person keypoints).
KEYPOINTS_CHECKED = ("center_net_resnet50_v1_fpn_kpts_128", "128 (its 512x512 Keypoints config as shipped)")


# Input sizes of EfficientDet D0..D7 in their zoo configs (configs/tf2/ssd_efficientdet_d*_*.config).
_EFFICIENTDET_SIZES = (512, 640, 768, 896, 1024, 1280, 1408, 1536)

MODELS: tuple[ZooModel, ...] = (
    *(_centernet(f"HourGlass104{kpts} {s}x{s}", "hourglass_104") for s in (512, 1024) for kpts in ("", " Keypoints")),
    _centernet("Resnet50 V1 FPN 512x512", "resnet_v1_50_fpn"),
    _centernet("Resnet50 V1 FPN Keypoints 512x512", "resnet_v1_50_fpn"),
    _centernet("Resnet101 V1 FPN 512x512", "resnet_v1_101_fpn"),
    _centernet("Resnet50 V2 512x512", "resnet_v2_50"),
    _centernet("Resnet50 V2 Keypoints 512x512", "resnet_v2_50"),
    _centernet("MobileNetV2 FPN 512x512", "mobilenet_v2_fpn_sep_conv"),
    _centernet("MobileNetV2 FPN Keypoints 512x512", "mobilenet_v2_fpn_sep_conv"),
    *(ZooModel(f"EfficientDet D{d} {s}x{s}", "ssd", f"ssd_efficientnet-b{min(d, 6)}_bifpn_keras")
      for d, s in enumerate(_EFFICIENTDET_SIZES)),
    ZooModel("SSD MobileNet v2 320x320", "ssd", "ssd_mobilenet_v2_keras"),
    ZooModel("SSD MobileNet V1 FPN 640x640", "ssd", "ssd_mobilenet_v1_fpn_keras"),
    ZooModel("SSD MobileNet V2 FPNLite 320x320", "ssd", "ssd_mobilenet_v2_fpn_keras"),
    ZooModel("SSD MobileNet V2 FPNLite 640x640", "ssd", "ssd_mobilenet_v2_fpn_keras"),
    *(ZooModel(f"SSD ResNet{d} V1 FPN {s}x{s} (RetinaNet{d})", "ssd", f"ssd_resnet{d}_v1_fpn_keras")
      for d in (50, 101, 152) for s in (640, 1024)),
    *(ZooModel(f"Faster R-CNN ResNet{d} V1 {size}", "faster_rcnn", f"faster_rcnn_resnet{d}_keras")
      for d in (50, 101, 152) for size in ("640x640", "1024x1024", "800x1333")),
    *(ZooModel(f"Faster R-CNN Inception ResNet V2 {s}x{s}", "faster_rcnn", "faster_rcnn_inception_resnet_v2_keras")
      for s in (640, 1024)),
    ZooModel("Mask R-CNN Inception ResNet V2 1024x1024", "faster_rcnn", "faster_rcnn_inception_resnet_v2_keras",
             "instance masks (`predict_instance_masks`)"),
)

# Feature extractor type → the oracle fixture that checks it against the OD API, and the input it is checked at.
CHECKED = {
    "ssd_mobilenet_v2_keras": (("ssd_mobilenet_v2_320",), "320x320 (as shipped)"),
    "ssd_mobilenet_v2_fpn_keras": (("ssd_mobilenet_v2_fpnlite_320",),
                                   "320x320 as shipped (the 640 config is the same network at 640)"),
    "ssd_mobilenet_v1_fpn_keras": (("ssd_mobilenet_v1_fpn_320",), "320x320 (640x640 config)"),
    "ssd_resnet50_v1_fpn_keras": (("ssd_resnet50_v1_fpn_320",), "320x320"),
    "ssd_resnet101_v1_fpn_keras": (("ssd_resnet101_v1_fpn_256",), "256x256"),
    # RetinaNet-152: its FPN is ResNet-101's code, its backbone the OD API's resnet_v1_152 that Faster R-CNN
    # ResNet-152 builds too.
    "ssd_resnet152_v1_fpn_keras": (("ssd_resnet101_v1_fpn_256", "faster_rcnn_resnet152_v1_96x160"),
                                   "256x256 (the FPN by ResNet-101's, the ResNet-152 backbone by Faster R-CNN's)"),
    "faster_rcnn_resnet50_keras": (("faster_rcnn_resnet50_v1_256",), "256 (640x640 config)"),
    "faster_rcnn_resnet101_keras": (("faster_rcnn_resnet101_v1_128",), "128x128 (1024x1024 config)"),
    "faster_rcnn_resnet152_keras": (("faster_rcnn_resnet152_v1_96x160",), "96..160 (800x1333 config)"),
    "ssd_efficientnet-b0_bifpn_keras": (("ssd_efficientdet_d0_256",), "256 (512x512 config)"),
    # D1..D5: Model Garden's EfficientNet by name (the OD API's own backbone code) and the BiFPN and head at
    # their widths; D0's fixture checks that code, D7's (on demand) the widest backbone and the `sum` combine.
    **{f"ssd_efficientnet-b{i}_bifpn_keras": (("ssd_efficientdet_d0_256", "ssd_efficientdet_d7_256"),
                                              "256 (D0's and D7's configs; D7's on demand, `make zoo-large`): the "
                                              "same EfficientNet and BiFPN code at other widths")
       for i in range(1, 6)},
    # D6 and D7: EfficientNet-b6, BiFPN with the `sum` combine; D7's config at 256, on demand.
    "ssd_efficientnet-b6_bifpn_keras": (("ssd_efficientdet_d7_256",), "256 (D7's 1536 config; on demand, "
                                        "`make zoo-large`: too large for `make test`)"),
    "resnet_v1_101_fpn": (("center_net_resnet101_v1_fpn_128",), "128 (512x512 config)"),
    "resnet_v2_50": (("center_net_resnet50_v2_128",), "128 (512x512 config)"),
    "mobilenet_v2_fpn_sep_conv": (("center_net_mobilenet_v2_fpn_128",), "128 (512x512 model, from its Keypoints "
                                  "config without the keypoint task)"),
    "hourglass_104": (("center_net_hourglass20_128", "center_net_hourglass104_256"),
                      "128 and 256 (512x512 config): its blocks and stages by the OD API's `hourglass_20` type at 128, "
                      "the two stacks as shipped at 256, on demand (`make zoo-large`: 188M variables)"),
    # The same FPN and heads over Keras' ResNet50, whose blocks are ResNet101's code at other repeats.
    "resnet_v1_50_fpn": (("center_net_resnet101_v1_fpn_128",), "128 (ResNet-101's 512x512 config: the same FPN "
                         "and heads over Keras' ResNet50, built by the same Keras code as its ResNet101)"),
}
# What a feature extractor type that no family builds is (the start of the type → the words).
_NOT_BUILT = {"faster_rcnn_inception_resnet_v2": "Inception-ResNet-v2 is not built"}


def verdict(model: ZooModel) -> tuple[bool, str]:
    """(built as the OD API's network?, what detflow does with it, in one line)."""
    if model.meta_architecture not in registry.ARCHITECTURES:
        return False, f"refused: `{model.meta_architecture}` is not a detflow architecture yet"
    if model.feature_extractor not in registry.architecture(model.meta_architecture).feature_extractors:
        why = next((w for prefix, w in _NOT_BUILT.items() if model.feature_extractor.startswith(prefix)),
                   "this feature extractor is not built")
        also = f"; nor are {model.also_not_built}" if model.also_not_built else ""
        return False, f"refused: {why}{also}"
    if model.also_not_built:
        return False, f"refused: {model.also_not_built} are not built yet"
    fixtures, size = CHECKED[model.feature_extractor]
    line = f"the OD API's network; checked against it by {' and '.join(f'`{f}`' for f in fixtures)} at {size}"
    if "Keypoints" in model.name:
        line += f"; its keypoint task by `{KEYPOINTS_CHECKED[0]}` at {KEYPOINTS_CHECKED[1]}"
    return True, line


def markdown() -> str:
    """The zoo table in Markdown, one row per zoo model in the zoo's order, and the count built."""
    rows = [(m, *verdict(m)) for m in MODELS]
    lines = [f"{sum(built for _, built, _ in rows)} of the zoo's {len(rows)} models are built as the OD API's "
             "network and take their config as shipped:", "",
             "| zoo model | feature extractor | detflow |", "| --- | --- | --- |"]
    lines += [f"| {m.name} | `{m.feature_extractor}` | {line} |" for m, _, line in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
