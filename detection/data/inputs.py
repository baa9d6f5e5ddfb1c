"""tf.data input pipeline: OD API tf.Example TFRecords → (images, anchor targets).

Reads gzipped (or plain) TFRecord files with parallel interleaved reads,
shuffles the encoded records (so the shuffle buffer stays small), decodes and
augments in parallel, resizes to the model input with the export's geometry
(`resizing.resize_to_input`: fixed_shape_resizer, or keep-aspect + pad for
keep_aspect_ratio_resizer), normalises with the model's own
normalisation (`DetectorBundle.preprocess`), pads the ground truth to `max_number_of_boxes`, adds the
model's training targets (a `Targets` function; each architecture's task.py has the one per
meta-architecture), batches and prefetches.

Boxes beyond `max_number_of_boxes` are not dropped silently: each element
carries `boxes_dropped` (and `boxes_unknown_class` for label ids outside
1..num_classes) for the training loop to sum, log and record.

With `num_keypoints` K > 0 (train_input_reader.num_keypoints) each object's
keypoints go through the same steps as its box (augmentations, resize, the
boxes kept) and the labels gain `groundtruth_keypoints` [max_boxes, K, 2]
(normalised y,x in the network input, NaN where not visible, outside the
image after a crop, or padding) and `groundtruth_keypoint_visibilities`
[max_boxes, K] (1.0 visible, else 0), as the OD API's inputs give them.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Sequence

import tensorflow as tf

from detection.data import augmentations, resizing
from detection.data.tf_example import decode_example
from official.vision.ops import box_ops
from schemas.example_format import read_records, record_compression

log = logging.getLogger("detflow.train")

AUTOTUNE = tf.data.AUTOTUNE
# (pixel boxes [N,4] in the model input, label ids int32 [N]) -> per-example target tensors.
Targets = Callable[[tf.Tensor, tf.Tensor], dict]


@dataclasses.dataclass(frozen=True)
class InputOptions:
    """What the input pipeline needs from the config and the model spec."""

    input_height: int
    input_width: int
    num_classes: int                    # label-map classes; label ids 1..num_classes
    keep_aspect_ratio: bool = False
    max_number_of_boxes: int = 100
    min_dimension: int = 0               # keep_aspect_ratio_resizer
    max_dimension: int = 0
    normalize_before_resize: bool = False   # the family's order (InputSpec); it decides what the padding holds
    num_keypoints: int = 0               # train_input_reader.num_keypoints; 0: no keypoint labels

    @classmethod
    def from_spec(cls, spec, max_number_of_boxes: int = 100, num_keypoints: int = 0) -> "InputOptions":
        """Options from a networks.spec.ModelSpec (the anchors and targets are the task's) and the input
        reader's `num_keypoints`."""
        return cls(
            input_height=spec.input.height, input_width=spec.input.width, num_classes=spec.num_classes,
            keep_aspect_ratio=spec.input.keep_aspect_ratio, max_number_of_boxes=max_number_of_boxes,
            min_dimension=spec.input.min_dimension, max_dimension=spec.input.max_dimension,
            normalize_before_resize=spec.input.normalize_before_resize, num_keypoints=num_keypoints)


def expand_globs(patterns: str | Sequence[str]) -> list[str]:
    """Files matching comma-separated glob(s); ValueError naming the pattern if none match."""
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p]
    files: list[str] = []
    for pattern in patterns:
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise ValueError(f"no TFRecord files match {pattern!r}")
        files.extend(matched)
    return files


def check_records(files: Sequence[str]) -> None:
    """Reads the first record of each file: ValueError naming a file that is not OD API TFRecords.

    Caught before the model is built, so `--train 'images/*'` is one line, not a
    DataLossError trace minutes later. A `.gz` file must be gzipped TFRecords.
    """
    for path in files:
        compression = record_compression(path)
        try:
            first = next(iter(tf.data.TFRecordDataset(path, compression_type=compression).take(1)), None)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as error:
            kind = "gzipped TFRecords (its name ends in .gz)" if compression else "a TFRecord file"
            raise ValueError(f"{path}: not {kind}: {error.message.splitlines()[0]}") from None
        if first is None:
            continue
        example = tf.train.Example()
        try:
            example.ParseFromString(first.numpy())
        except Exception:  # protobuf's DecodeError; its module differs between implementations
            raise ValueError(f"{path}: its records are not tf.Example protos") from None
        if "image/encoded" not in example.features.feature:
            raise ValueError(f"{path}: its records are not OD API tf.Examples (no image/encoded)")


def resize(image, boxes, options: InputOptions):
    """Resizes to the model input as the export does; returns (image, boxes normalised to it, valid hw)."""
    size = (options.input_height, options.input_width)
    image, valid_hw = resizing.resize_to_input(image, *size, options.keep_aspect_ratio,
                                               options.min_dimension, options.max_dimension)
    if options.keep_aspect_ratio:
        boxes = resizing.resize_boxes(boxes, valid_hw, *size)
    return image, boxes, valid_hw


def resize_keypoints(keypoints, valid_hw, options: InputOptions):
    """Normalised keypoints [N,K,2] of the image `resize` resized → normalised to the model input, as its boxes."""
    if not options.keep_aspect_ratio:
        return keypoints
    return resizing.resize_keypoints(keypoints, valid_hw, options.input_height, options.input_width)


def pad_to(tensor, length, value=0):
    """Pads (or cuts) the first dimension of `tensor` to `length` with `value`."""
    tensor = tensor[:length]
    paddings = [[0, length - tf.shape(tensor)[0]]] + [[0, 0]] * (len(tensor.shape) - 1)
    return tf.pad(tensor, paddings, constant_values=value)


def keypoint_labels(keypoints, max_boxes: int) -> dict:
    """The keypoint labels of the kept boxes' keypoints [n<=max_boxes,K,2]: `groundtruth_keypoints` float32
    [max_boxes,K,2] (NaN where not visible and in padding rows) and `groundtruth_keypoint_visibilities` float32
    [max_boxes,K] (1.0 visible, else 0).

    A keypoint is visible when its coordinates are not NaN: the decoder made the unlabelled ones NaN, the crops
    those outside (the OD API's set_keypoint_visibilities after its crops)."""
    num_keypoints = keypoints.shape[1]
    visible = tf.reduce_all(tf.math.is_finite(keypoints), axis=-1)
    keypoints = tf.where(visible[..., None], keypoints, tf.constant(float("nan")))
    return {
        "groundtruth_keypoints": tf.ensure_shape(pad_to(keypoints, max_boxes, float("nan")),
                                                 [max_boxes, num_keypoints, 2]),
        "groundtruth_keypoint_visibilities": tf.ensure_shape(pad_to(tf.cast(visible, tf.float32), max_boxes),
                                                             [max_boxes, num_keypoints]),
    }


def _augment(augment, image, boxes, classes, keypoints):
    """The augmentations in order, keypoints carried along when there are any (None: none)."""
    for op in augment:
        if keypoints is None:
            image, boxes, classes = op(image, boxes, classes)
        else:
            image, boxes, classes, keypoints = op(image, boxes, classes, keypoints)
    return image, boxes, classes, keypoints


def make_parser(options: InputOptions, normalize: Callable[[tf.Tensor], tf.Tensor],
                augment: Sequence[augmentations.Op] = (), targets: Targets | None = None) -> Callable:
    """serialized tf.Example → (normalised image, labels dict) for one example.

    `targets` adds the model's training targets (tasks.DetectorTask.targets); none without it. With
    options.num_keypoints > 0 the labels hold the keypoints too (`keypoint_labels`).
    """
    targets = targets or (lambda pixel_boxes, classes: {})
    max_boxes = options.max_number_of_boxes
    with_keypoints = options.num_keypoints > 0

    def parse(serialized):
        data = decode_example(serialized, options.num_keypoints)
        labels = tf.cast(data["labels"], tf.int32)
        known = tf.logical_and(labels >= 1, labels <= options.num_classes)
        unknown = tf.reduce_sum(tf.cast(tf.logical_not(known), tf.int32))
        boxes, classes = tf.boolean_mask(data["boxes"], known), tf.boolean_mask(labels, known)
        # A keypoint's visibility travels as its NaN coordinates (the decoder's rule) through what follows.
        keypoints = tf.boolean_mask(data["keypoints"], known) if with_keypoints else None
        image = tf.image.convert_image_dtype(data["image"], tf.float32)
        image, boxes, classes, keypoints = _augment(augment, image, boxes, classes, keypoints)
        if options.normalize_before_resize:
            image, boxes, valid_hw = resize(normalize(image * 255.0), boxes, options)
        else:
            image, boxes, valid_hw = resize(image, boxes, options)
            image = normalize(image * 255.0)
        image = tf.ensure_shape(image, [options.input_height, options.input_width, 3])

        pixel = box_ops.denormalize_boxes(boxes, [options.input_height, options.input_width])
        nonempty = box_ops.get_non_empty_box_indices(pixel)
        pixel, boxes, classes = (tf.gather(pixel, nonempty), tf.gather(boxes, nonempty),
                                 tf.gather(classes, nonempty))
        dropped = tf.maximum(tf.shape(classes)[0] - max_boxes, 0)
        pixel, boxes, classes = pixel[:max_boxes], boxes[:max_boxes], classes[:max_boxes]
        kept_keypoints = {}
        if with_keypoints:
            keypoints = tf.gather(resize_keypoints(keypoints, valid_hw, options), nonempty)[:max_boxes]
            kept_keypoints = keypoint_labels(keypoints, max_boxes)
        return image, {
            **targets(pixel, classes),
            **kept_keypoints,
            "groundtruth_boxes": tf.ensure_shape(pad_to(boxes, max_boxes), [max_boxes, 4]),
            "groundtruth_classes": tf.ensure_shape(pad_to(classes, max_boxes, -1), [max_boxes]),
            "num_groundtruth": tf.shape(classes)[0],
            "image_shape": tf.ensure_shape(valid_hw, [2]),
            "boxes_dropped": dropped,
            "boxes_unknown_class": unknown,
            "source_id": data["source_id"],
        }
    return parse


SHUFFLE_BUFFER = 256   # decoded examples shuffled across, after the file-level shuffle


def _records(files: list[str], training: bool, seed: int | None) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

    return ds.interleave(lambda path: read_records(path, buffer_size=1 << 20), cycle_length=min(len(files), 8), block_length=1,
                         num_parallel_calls=AUTOTUNE, deterministic=not training)


@dataclasses.dataclass(frozen=True)
class ExampleTransform:
    """What happens to each decoded example: the network's normalisation, the augmentations (in
    training only) and the model's training targets (see `make_parser`)."""

    normalize: Callable[[tf.Tensor], tf.Tensor]
    augment: Sequence[augmentations.Op] = ()
    targets: Targets | None = None


def build_dataset(files: Sequence[str], options: InputOptions, batch_size: int, transform: ExampleTransform, *,
                  training: bool = True, seed: int | None = None,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """The batched dataset of (images [B,H,W,3] float32, labels dict).

    training: shuffle + repeat forever + augment + drop the last partial batch;
    otherwise one pass in file order without augmentation. `input_context`
    (from `strategy.distribute_datasets_from_function`) gives each input
    pipeline (worker) its share, by file or by record, and sets the
    per-replica batch size.
    """
    files = list(files)
    if not files:
        raise ValueError("no input files")
    record_shard = None
    if input_context is not None:
        # One pipeline per worker feeds all of that worker's replicas, each a per-replica batch. Each worker
        # reads its share: whole files when there are at least as many as workers, else every n-th record.
        n, i = input_context.num_input_pipelines, input_context.input_pipeline_id
        if n > 1 and len(files) >= n:
            log.info(f"input pipeline {i} of {n} reads {len(files[i::n])} of the {len(files)} files (sharded "
                     "by file)")
            files = files[i::n]
        elif n > 1:
            log.info(f"input pipeline {i} of {n} reads every {n}th record of the {len(files)} file(s) (sharded "
                     f"by record: fewer files than the {n} input pipelines)")
            record_shard = (n, i)
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    # Sharded by record: read in one fixed order, so that the workers' shares neither overlap nor miss a record.
    ds = _records(files, training, seed) if record_shard is None else _records(files, False, None).shard(*record_shard)
    if training:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True).repeat()
    parser = make_parser(options, transform.normalize, transform.augment if training else (), transform.targets)
    # AutoGraph off, as for the network and the train step: decoding, augmentations and targets (Model
    # Garden's matcher and labeler included) branch with tf.cond / tf.where, never on a tensor in Python,
    # and converting them took a third of the parser's tracing, again for every dataset.
    ds = ds.map(tf.autograph.experimental.do_not_convert(parser), num_parallel_calls=AUTOTUNE,
                deterministic=not training)
    ds = ds.batch(batch_size, drop_remainder=training)
    # Autotuning off (AUTOTUNE then means one parallel call per core): its background thread
    # sleeps up to 60 s between optimisations and the iterator's teardown waited for it, a
    # 0-60 s stall at the end of training (49 s measured after the demo's 1000 steps).
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(AUTOTUNE).with_options(options)
