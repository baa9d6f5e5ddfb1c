"""COCO keypoint AP in the Evaluator: what `eval_config.parameterized_metric` asks for, as the OD API computes it.

The OD API's `eval_util.get_evaluators` makes one `CocoKeypointEvaluator` per
`parameterized_metric { coco_keypoint_metrics { class_label keypoint_label_to_sigmas } }`:
the label-map item named `class_label` (its display name, as the OD API's categories
use, else its name) gives the category id and its `keypoints { id label }`; the ids,
sorted, pick the keypoint columns of the ground truth and of the detections, and
each one's sigma is `keypoint_label_to_sigmas[label]`. Only that category's ground
truth and detections count (`KeypointAccumulator`); the numbers are
`coco_keypoints.evaluate`'s, equal to pycocotools' `COCOeval(iouType="keypoints")`.

Metric names are the OD API's, per class (`KeypointClass.metric_names`):
`Keypoints_Precision/mAP ByCategory/<class_label>`, `... mAP@.50IOU ...`, `... mAP@.75IOU ...`,
`... mAP (medium) ...`, `... mAP (large) ...`, `Keypoints_Recall/AR@1 ...` ... `AR@100 (large) ...`
(`coco_keypoints.KEYPOINT_STATS` says what pycocotools computes for each). They sit beside the
box metrics (`DetectionBoxes_Precision/mAP` ...) everywhere those are recorded, and any one of
them can be the blessing metric.

Where detflow differs from the OD API, it says so rather than guessing: a `class_label` the
label map lacks, a class without `keypoints`, a keypoint without a sigma or a sigma for a label
the class lacks are errors naming the field (the OD API skips the metric or stops with a
KeyError); with no sigmas at all COCO's 17 person sigmas are used for a 17-keypoint class
(the OD API uses 0.05 for every keypoint), and any other class needs its sigmas.

No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Sequence

import numpy as np

from components.evaluator import coco_keypoints
from components.evaluator.coco_fast import COCO_KEYPOINT_SIGMAS
from components.evaluator.coco_keypoints import BY_CATEGORY, STAT_NAMES, is_keypoint_metric
from components.evaluator.coco_metrics import Detections, GroundTruth, _to_xywh
from schemas.problems import problem

FIELD = "eval_config.parameterized_metric"
KEYPOINT_METRIC_PREFIX = "Keypoints_"


@dataclasses.dataclass(frozen=True)
class KeypointClass:
    """One class's keypoint metric: its label-map id, the name its metrics carry, its keypoints and sigmas."""

    category_id: int
    name: str
    keypoint_ids: tuple[int, ...]      # sorted: the columns of the data's and the model's keypoints
    labels: tuple[str, ...]            # the label of each of keypoint_ids
    sigmas: tuple[float, ...]          # the OKS sigma of each of keypoint_ids

    def metric_names(self) -> list[str]:
        """The 10 metric names of this class, in `coco_keypoints.KEYPOINT_STATS` order."""
        return [f"{stat}{BY_CATEGORY}{self.name}" for stat in STAT_NAMES]


@dataclasses.dataclass(frozen=True)
class KeypointSetup:
    """What a pipeline.config asks for: the classes to score and K, the keypoints per object in the records."""

    classes: tuple[KeypointClass, ...]
    num_keypoints: int
    config_path: str = ""

    def metric_names(self) -> list[str]:
        """Every keypoint metric name this setup gives."""
        return [name for klass in self.classes for name in klass.metric_names()]


def num_keypoints(proto) -> int:
    """K of the eval records: eval_input_reader[0].num_keypoints, else train_input_reader.num_keypoints."""
    readers = list(proto.eval_input_reader)
    if readers and readers[0].num_keypoints:
        return int(readers[0].num_keypoints)
    return int(proto.train_input_reader.num_keypoints)


def keypoint_setup(proto, label_map, config_path: str = "pipeline.config") -> Optional[KeypointSetup]:
    """The keypoint metrics `proto`'s eval_config asks for, against `label_map` (schemas.label_map.LabelMap).

    None when it asks for none. ProblemsError naming the config field for a class the label
    map lacks or that declares no keypoints, for sigmas that do not match its keypoints, and
    for keypoint ids the records (`num_keypoints`) do not hold.
    """
    metrics = [(i, m.coco_keypoint_metrics) for i, m in enumerate(proto.eval_config.parameterized_metric)
               if m.WhichOneof("parameterized_metric") == "coco_keypoint_metrics"]
    if not metrics:
        return None
    k = num_keypoints(proto)
    classes = []
    for index, metric in metrics:
        field = f"{FIELD}[{index}].coco_keypoint_metrics"
        item = _item(label_map, metric.class_label, field, config_path)
        ids = tuple(sorted(kid for kid, _ in item.keypoints))
        label_of = dict(item.keypoints)
        if ids[-1] >= k:
            raise problem(config_path, f"{field}.class_label: {item.name!r}'s keypoint ids in {label_map.path} go "
                                       f"up to {ids[-1]}, but the records carry {k} keypoints per object "
                                       "(eval_input_reader[0].num_keypoints, else train_input_reader.num_keypoints)")
        labels = tuple(label_of[kid] for kid in ids)
        classes.append(KeypointClass(item.id, metric.class_label, ids, labels,
                                     _sigmas(metric, labels, field, config_path)))
    names = [c.name for c in classes]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise problem(config_path, f"{FIELD}: two coco_keypoint_metrics have class_label {duplicated[0]!r}")
    return KeypointSetup(tuple(classes), k, config_path)


def _item(label_map, class_label: str, field: str, config_path: str):
    """The label-map item a coco_keypoint_metrics' class_label names (display name first, as the OD API)."""
    if not class_label:
        raise problem(config_path, f"{field}.class_label: is required (the label-map class whose keypoints count)")
    items = list(label_map.items)
    found = ([i for i in items if (i.display_name or i.name) == class_label]
             or [i for i in items if i.name == class_label])
    if not found:
        names = ", ".join(repr(i.display_name or i.name) for i in items)
        raise problem(config_path, f"{field}.class_label: {class_label!r} is not a class of the label map "
                                   f"{label_map.path} (its classes: {names})")
    if not found[0].keypoints:
        raise problem(config_path, f"{field}.class_label: the label map's item {found[0].name!r} ({label_map.path}, "
                                   f"line {found[0].line}) declares no `keypoints {{ id label }}`")
    return found[0]


def _sigmas(metric, labels: Sequence[str], field: str, config_path: str) -> tuple[float, ...]:
    """The OKS sigma of each keypoint (in `labels`' order) from keypoint_label_to_sigmas (see the module doc)."""
    given = dict(metric.keypoint_label_to_sigmas)
    where = f"{field}.keypoint_label_to_sigmas"
    if not given:
        if len(labels) == len(COCO_KEYPOINT_SIGMAS):
            return tuple(float(s) for s in COCO_KEYPOINT_SIGMAS)
        raise problem(config_path, f"{where}: is required for {metric.class_label!r}, whose {len(labels)} keypoints "
                                   f"({', '.join(labels)}) are not COCO's 17 person keypoints: give each one's sigma")
    missing = [label for label in labels if label not in given]
    unknown = sorted(set(given) - set(labels))
    if missing or unknown:
        said = ([f"no sigma for {', '.join(map(repr, missing))}"] if missing else []) + (
            [f"{', '.join(map(repr, unknown))} are not keypoints of {metric.class_label!r}"] if unknown else [])
        raise problem(config_path, f"{where}: {'; '.join(said)} (its keypoints: {', '.join(labels)})")
    bad = [label for label in labels if not given[label] > 0]
    if bad:
        raise problem(config_path, f"{where}: the sigma of {bad[0]!r} must be > 0 (got {given[bad[0]]:.7g})")
    return tuple(float(given[label]) for label in labels)


@dataclasses.dataclass
class _ClassImage:
    """One image's instances of one keypoint class (normalised coordinates, the class's keypoint columns)."""

    gt_boxes: np.ndarray           # [n, 4] yxyx
    gt_is_crowd: np.ndarray        # [n]
    gt_area: np.ndarray            # [n], <= 0: the box's area
    gt_keypoints: np.ndarray       # [n, k, 2] y, x
    gt_labelled: np.ndarray        # [n, k] bool
    det_scores: np.ndarray         # [m]
    det_keypoints: np.ndarray      # [m, k, 2] y, x
    det_keypoint_scores: np.ndarray  # [m, k]


class KeypointAccumulator:
    """Collects, image by image, the keypoint classes' ground truth and detections; then their keypoint metrics."""

    def __init__(self, classes: Sequence[KeypointClass]):
        self.classes = tuple(classes)
        self.sizes: list[tuple[int, int]] = []
        self.images: list[dict[int, _ClassImage]] = []      # per image: category id -> its instances

    def add_image(self, height: int, width: int, gt: GroundTruth, gt_keypoints, gt_labelled,
                  detections: Detections, det_keypoints, det_keypoint_scores=None) -> None:
        """Adds one image: ground truth boxes and classes with keypoints [n, K, 2] (normalised y, x) and
        labelled flags [n, K]; detections with keypoints [m, K', 2] and their scores [m, K'] (ones when None).

        Keeps each keypoint class's instances only, at its keypoint columns. ValueError when the
        detections' keypoints lack a column a class's keypoint ids name.
        """
        n, m = len(np.asarray(gt.classes).reshape(-1)), len(np.asarray(detections.scores).reshape(-1))
        gt_points = self._rows(gt_keypoints, n, (2,))
        labelled = self._rows(gt_labelled, n, ()).astype(bool) & np.isfinite(gt_points).all(axis=2)
        det_points = self._rows(det_keypoints, m, (2,))
        det_point_scores = (np.ones(det_points.shape[:2]) if det_keypoint_scores is None
                            else self._rows(det_keypoint_scores, m, ()))
        gt_classes = np.asarray(gt.classes, dtype=np.int64).reshape(n)
        det_classes = np.rint(np.asarray(detections.classes, dtype=np.float64)).astype(np.int64).reshape(m)
        image = {}
        for klass in self.classes:
            ids = list(klass.keypoint_ids)
            if det_points.shape[1] <= ids[-1]:
                raise ValueError(f"the detections carry {det_points.shape[1]} keypoints each, but class "
                                 f"{klass.name!r}'s keypoint ids go up to {ids[-1]}")
            g, d = gt_classes == klass.category_id, det_classes == klass.category_id
            image[klass.category_id] = _ClassImage(
                gt_boxes=np.asarray(gt.boxes, dtype=np.float64).reshape(n, 4)[g],
                gt_is_crowd=_optional(gt.is_crowd, n, np.int64)[g], gt_area=_optional(gt.area, n, np.float64)[g],
                gt_keypoints=gt_points[g][:, ids], gt_labelled=labelled[g][:, ids],
                det_scores=np.asarray(detections.scores, dtype=np.float64).reshape(m)[d],
                det_keypoints=det_points[d][:, ids], det_keypoint_scores=det_point_scores[d][:, ids])
        self.sizes.append((int(height), int(width)))
        self.images.append(image)

    def _rows(self, values, rows: int, tail: tuple) -> np.ndarray:
        """`values` as [rows, K, *tail] floats; with no rows, K is the most columns the classes need."""
        array = np.asarray(values, dtype=np.float64)
        if rows == 0 or array.size == 0:
            return np.zeros((rows, 1 + max(c.keypoint_ids[-1] for c in self.classes)) + tail)
        return array.reshape((rows, -1) + tail)

    def to_coco(self, klass: KeypointClass) -> tuple[dict, list]:
        """One class's collected instances as COCO keypoints ground truth and results (absolute pixels).

        Ground truth: [x, y, v]*k with v 2 where labelled, else 0 at (0, 0); `num_keypoints` the
        labelled count; `area` the stored area, else the box's. Results: [x, y, keypoint score]*k
        with the detection's score.
        """
        images, annotations, results = [], [], []
        for index, ((height, width), image) in enumerate(zip(self.sizes, self.images), start=1):
            images.append({"id": index, "height": height, "width": width})
            rec = image[klass.category_id]
            for box, crowd, area, points, labelled in zip(_to_xywh(rec.gt_boxes, height, width), rec.gt_is_crowd,
                                                          rec.gt_area, rec.gt_keypoints, rec.gt_labelled):
                annotations.append({
                    "id": len(annotations) + 1, "image_id": index, "category_id": klass.category_id, "bbox": box,
                    "area": float(area) if area > 0 else box[2] * box[3], "iscrowd": int(crowd),
                    "keypoints": _flat(points, np.where(labelled, 2.0, 0.0), height, width, labelled),
                    "num_keypoints": int(np.count_nonzero(labelled))})
            for score, points, point_scores in zip(rec.det_scores, rec.det_keypoints, rec.det_keypoint_scores):
                results.append({"image_id": index, "category_id": klass.category_id, "score": float(score),
                                "keypoints": _flat(points, point_scores, height, width)})
        categories = [{"id": klass.category_id, "name": klass.name, "keypoints": list(klass.labels)}]
        return {"images": images, "annotations": annotations, "categories": categories}, results

    def result(self) -> dict[str, float]:
        """Every keypoint class's 10 metrics by name (-1 where no ground truth counts, as pycocotools)."""
        metrics = {}
        for klass in self.classes:
            gt, dt = self.to_coco(klass)
            metrics.update(coco_keypoints.evaluate(gt, dt, klass.sigmas).metrics)
        return metrics


def _optional(values, n: int, dtype) -> np.ndarray:
    """A per-box optional feature (crowd flags, areas): zeros when absent."""
    if values is None or len(values) == 0:
        return np.zeros(n, dtype)
    return np.asarray(values, dtype=dtype).reshape(n)


def _flat(points: np.ndarray, third: np.ndarray, height: int, width: int,
          keep: Optional[np.ndarray] = None) -> list[float]:
    """[k, 2] normalised (y, x) → COCO's [x, y, third]*k in pixels; points not in `keep` become (0, 0)."""
    x, y = points[:, 1] * width, points[:, 0] * height
    if keep is not None:
        x, y = np.where(keep, x, 0.0), np.where(keep, y, 0.0)
    return np.stack([x, y, np.asarray(third, dtype=np.float64)], axis=1).ravel().tolist()


def metrics_by_class(metrics: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """The keypoint metrics among `metrics`, by class: {class: {stat name: value}}, in stats order."""
    found: dict[str, dict[str, float]] = {}
    for name, value in metrics.items():
        if is_keypoint_metric(name):
            stat, _, label = name.partition(BY_CATEGORY)
            found.setdefault(label, {})[stat] = float(value)
    return {label: {s: stats[s] for s in STAT_NAMES if s in stats} for label, stats in found.items()}


def check_blessing_metric(metric: str, setup: Optional[KeypointSetup], gives_keypoints: bool, model: str) -> None:
    """ValueError when `metric` is a keypoint metric the model cannot give: its pipeline.config asks for no
    keypoint metric of that class (`setup`), or its outputs hold no keypoints (`gives_keypoints`)."""
    if not is_keypoint_metric(metric):
        return
    ask = ("eval_config { parameterized_metric { coco_keypoint_metrics { class_label: \"<class>\" "
           "keypoint_label_to_sigmas { key: \"<keypoint>\" value: <sigma> } } } }")
    if setup is None:
        raise ValueError(f"the blessing metric {metric!r} is a keypoint metric, but the model {model} has no "
                         f"keypoint metrics: its pipeline.config asks for none ({ask})")
    if not gives_keypoints:
        raise ValueError(f"the blessing metric {metric!r} is a keypoint metric, but the model {model} gives no "
                         "keypoints: its serving_default has no detection_keypoints (a CenterNet with a "
                         "keypoint_estimation_task has)")
    if metric not in setup.metric_names():
        classes = ", ".join(repr(c.name) for c in setup.classes)
        raise ValueError(f"the blessing metric {metric!r} is not among the model's keypoint metrics: its "
                         f"pipeline.config ({setup.config_path}) asks for those of {classes} "
                         f"(e.g. {setup.classes[0].metric_names()[0]!r})")
