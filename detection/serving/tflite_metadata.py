"""TFLite model metadata for object detectors, written in pure Python (what the TFLite Task Library reads).

The metadata is the flatbuffer the TFLite Support library's object-detector
writer makes (`tflite_support.metadata_writers.object_detector`): an RGB image
input with its normalisation (mean, std), the four outputs location
(ymin, xmin, ymax, xmax as ratios), category, score and number of detections
grouped as `detection_result`, and the label file as an associated file. It is
stored in the model's `TFLITE_METADATA` buffer and the label file is zipped
onto the end of the .tflite file, as the TFLite Support populator does.

Only the generated flatbuffer bindings of `tflite-support` are used (pure
Python): its populator loads a native library that needs the system's libusb
and clashes with TensorFlow's in one process.
"""

from __future__ import annotations

import io
import zipfile
from typing import Sequence

import flatbuffers
from tensorflow_lite_support.metadata import metadata_schema_py_generated as md
from tensorflow_lite_support.metadata import schema_py_generated as tfl

METADATA_NAME = "TFLITE_METADATA"
LABEL_FILE = "labels.txt"
# The subgraph output order the Task Library expects (location, category, score, number), by signature name.
OUTPUT_ORDER = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")
# A CenterNet keypoint model's two more outputs, after those four (as the OD API's `include_keypoints` export).
KEYPOINT_OUTPUTS = ("detection_keypoints", "detection_keypoint_scores")
# What tflite-support 0.4.4's MetadataPopulator computes for exactly these fields (a test checks it);
# the Task Library refuses metadata newer than it reads.
MIN_PARSER_VERSION = "1.2.0"


def _tensor(name: str, description: str, content_type, properties=None, minimum=None, maximum=None):
    tensor = md.TensorMetadataT()
    tensor.name, tensor.description = name, description
    content = md.ContentT()
    content.contentPropertiesType = content_type
    content.contentProperties = properties if properties is not None else md.FeaturePropertiesT()
    tensor.content = content
    stats = md.StatsT()
    stats.min, stats.max = minimum, maximum
    tensor.stats = stats
    return tensor


def _range(tensor) -> None:
    value_range = md.ValueRangeT()
    value_range.min = value_range.max = 2   # detections are along the tensor's second dimension
    tensor.content.range = value_range


def object_detector_metadata(mean: Sequence[float], std: Sequence[float], uint8_input: bool, name: str,
                             description: str, keypoints: bool = False) -> bytes:
    """The ModelMetadata flatbuffer (file identifier M001) of a 4-output detector; with `keypoints`, the two
    keypoint outputs described after them."""
    image_props = md.ImagePropertiesT()
    image_props.colorSpace = md.ColorSpaceType.RGB
    if uint8_input:
        minimum, maximum = [0.0], [255.0]
    else:
        minimum = [float(0.0 - m) / s for m, s in zip(mean, std)]
        maximum = [float(255.0 - m) / s for m, s in zip(mean, std)]
    image = _tensor("image", "Input image to be detected.", md.ContentProperties.ImageProperties, image_props,
                    minimum, maximum)
    normalization = md.ProcessUnitT()
    normalization.optionsType = md.ProcessUnitOptions.NormalizationOptions
    normalization.options = md.NormalizationOptionsT()
    normalization.options.mean, normalization.options.std = list(mean), list(std)
    image.processUnits = [normalization]

    box_props = md.BoundingBoxPropertiesT()
    box_props.index = [1, 0, 3, 2]
    box_props.type = md.BoundingBoxType.BOUNDARIES
    box_props.coordinateType = md.CoordinateType.RATIO
    location = _tensor("location", "The locations of the detected boxes.",
                       md.ContentProperties.BoundingBoxProperties, box_props)
    _range(location)
    category = _tensor("category", "The categories of the detected boxes.", md.ContentProperties.FeatureProperties)
    label_file = md.AssociatedFileT()
    label_file.name, label_file.description = LABEL_FILE, "Labels for categories that the model can recognize."
    label_file.type = md.AssociatedFileType.TENSOR_VALUE_LABELS
    category.associatedFiles = [label_file]
    _range(category)
    score = _tensor("score", "The scores of the detected boxes.", md.ContentProperties.FeatureProperties,
                    minimum=[0.0], maximum=[1.0])
    _range(score)
    number = _tensor("number of detections", "The number of the detected boxes.",
                     md.ContentProperties.FeatureProperties)

    group = md.TensorGroupT()
    group.name, group.tensorNames = "detection_result", ["location", "category", "score"]
    subgraph = md.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = [location, category, score, number]
    if keypoints:
        subgraph.outputTensorMetadata += [
            _tensor("keypoints", "Each detection's keypoints: normalised y, x.", md.ContentProperties.FeatureProperties),
            _tensor("keypoint scores", "Each detection's keypoint scores.", md.ContentProperties.FeatureProperties,
                    minimum=[0.0], maximum=[1.0])]
    subgraph.outputTensorGroups = [group]
    model = md.ModelMetadataT()
    model.name, model.description = name, description
    model.subgraphMetadata = [subgraph]
    model.minParserVersion = MIN_PARSER_VERSION
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"M001")
    return bytes(builder.Output())


def with_metadata(model: bytes, metadata: bytes, labels: Sequence[str]) -> bytes:
    """The .tflite bytes with `metadata` in its TFLITE_METADATA buffer and the label file zipped on.

    The subgraph's outputs are put in OUTPUT_ORDER (the converter orders them as it
    likes; the Task Library reads them by position), found by their signature names; a
    keypoint model's KEYPOINT_OUTPUTS follow.
    """
    parsed = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(bytearray(model), 0))
    by_name = {m.name.decode(): m.tensorIndex for m in parsed.signatureDefs[0].outputs}
    parsed.subgraphs[0].outputs = [by_name[name] for name in OUTPUT_ORDER + KEYPOINT_OUTPUTS if name in by_name]
    buffer = tfl.BufferT()
    buffer.data = list(metadata)
    parsed.buffers = (parsed.buffers or []) + [buffer]
    entry = tfl.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(parsed.buffers) - 1
    parsed.metadata = [m for m in (parsed.metadata or []) if m.name != METADATA_NAME.encode()] + [entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(parsed.Pack(builder), file_identifier=b"TFL3")
    out = io.BytesIO(bytes(builder.Output()))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr(LABEL_FILE, "".join(f"{label}\n" for label in labels))
    return out.getvalue()


def read_metadata(model: bytes):
    """The ModelMetadataT in a .tflite's TFLITE_METADATA buffer, or None when it has none."""
    parsed = tfl.Model.GetRootAsModel(bytearray(model), 0)
    for i in range(parsed.MetadataLength()):
        entry = parsed.Metadata(i)
        if entry.Name() != METADATA_NAME.encode():
            continue
        data = parsed.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
        return md.ModelMetadataT.InitFromObj(md.ModelMetadata.GetRootAsModelMetadata(data, 0))
    return None


def _subgraph(meta):
    return meta.subgraphMetadata[0] if meta is not None and meta.subgraphMetadata else None


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def normalization_of(meta) -> tuple[list[float], list[float]] | None:
    """(mean, std) of the input's NormalizationOptions in the metadata, or None."""
    subgraph = _subgraph(meta)
    if subgraph is None or not subgraph.inputTensorMetadata:
        return None
    for unit in subgraph.inputTensorMetadata[0].processUnits or []:
        if unit.optionsType == md.ProcessUnitOptions.NormalizationOptions:
            return [float(v) for v in unit.options.mean], [float(v) for v in unit.options.std]
    return None


def written_by_detflow(meta) -> bool:
    """True for the metadata `object_detector_metadata` writes (its model name starts with "detflow")."""
    return meta is not None and _text(meta.name).startswith("detflow")


def output_names(meta) -> list[str]:
    """The output tensors' names in the metadata, in the subgraph's output order ([] without metadata)."""
    subgraph = _subgraph(meta)
    return [_text(t.name) for t in (subgraph.outputTensorMetadata or [])] if subgraph is not None else []


def label_file_name(meta) -> str | None:
    """The name of the TENSOR_VALUE_LABELS file associated with an output (the class labels), or None."""
    subgraph = _subgraph(meta)
    for tensor in (subgraph.outputTensorMetadata or []) if subgraph is not None else []:
        for associated in tensor.associatedFiles or []:
            if associated.type == md.AssociatedFileType.TENSOR_VALUE_LABELS:
                return _text(associated.name)
    return None


def read_labels(model: bytes, name: str | None = None) -> list[str]:
    """The label file zipped onto a .tflite file (`name`, else LABEL_FILE; [] when there is none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as archive:
            return archive.read(name or LABEL_FILE).decode("utf-8").splitlines()
    except (zipfile.BadZipFile, KeyError):
        return []

