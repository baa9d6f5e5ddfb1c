"""Pictures of detections and metrics: boxes on images, PR curves, confusion matrices.

Used by `detflow predict` and the Evaluator. numpy, PIL and matplotlib only (the
Agg canvas, never pyplot, so no display and no global backend state).

Boxes are the OD API's: normalised `[ymin, xmin, ymax, xmax]`; class ids are 1-based; keypoints are the
OD API's `detection_keypoints`: normalised `[y, x]`, K per detection.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MIN_DRAW_SIDE = 320  # smaller images are upscaled so labels stay readable

# Distinct colours (tab10 first, then lighter/darker companions), indexed by class id.
_PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
)


def class_colour(class_id: int) -> tuple[int, int, int]:
    """The colour every picture uses for a 1-based class id."""
    return _PALETTE[(int(class_id) - 1) % len(_PALETTE)]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _text_colour(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]
    return (0, 0, 0) if luminance > 150 else (255, 255, 255)


def _as_rgb(image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    array = np.asarray(image)
    if array.dtype != np.uint8:
        scale = 255.0 if array.size and float(np.nanmax(array)) <= 1.0 else 1.0
        array = np.clip(np.nan_to_num(array.astype(np.float64)) * scale, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return Image.fromarray(array).convert("RGB")


def _dashed_rectangle(draw: ImageDraw.ImageDraw, box, fill, width: int, dash: int) -> None:
    x0, y0, x1, y1 = box
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)),
                               ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = math.hypot(bx - ax, by - ay)
        steps = max(1, int(length // (2 * dash)))
        for k in range(steps + 1):
            t0, t1 = min(1.0, 2 * k * dash / max(length, 1)), min(1.0, (2 * k + 1) * dash / max(length, 1))
            if t1 > t0:
                draw.line([(ax + (bx - ax) * t0, ay + (by - ay) * t0), (ax + (bx - ax) * t1, ay + (by - ay) * t1)],
                          fill=fill, width=width)


def _label(draw: ImageDraw.ImageDraw, xy, text: str, fill, font, bounds) -> None:
    """A filled tag with `text`, above the point if there is room, kept inside `bounds`."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 6, bottom - top + 4
    x = min(max(xy[0], 0), max(bounds[0] - w, 0))
    y = xy[1] - h if xy[1] - h >= 0 else xy[1]
    y = min(y, max(bounds[1] - h, 0))
    draw.rectangle([x, y, x + w, y + h], fill=fill)
    draw.text((x + 3 - left, y + 2 - top), text, fill=_text_colour(fill), font=font)


def _to_pixels(boxes, width: int, height: int) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ymin, xmin, ymax, xmax = (np.clip(boxes[:, i], 0.0, 1.0) for i in range(4))
    return np.stack([xmin * (width - 1), ymin * (height - 1), xmax * (width - 1), ymax * (height - 1)], axis=1)


@dataclasses.dataclass(frozen=True)
class Keypoints:
    """Keypoints to draw, one row per box: `points` [N, K, 2] normalised (y, x), the OD API's
    `detection_keypoints`; `scores` [N, K] (None: all 1); `edges` (start, end) keypoint indices to join."""

    points: Any
    scores: Any = None
    edges: Sequence[tuple[int, int]] = ()


def draw_detections(image, boxes, classes, scores, id_to_name: Mapping[int, str], min_score: float = 0.3,
                    gt_boxes=None, gt_classes=None) -> Image.Image:
    """Draws detections (solid, 'name 0.87' tags) and ground truth (dashed) on a copy of `image`.

    `image` is a PIL image or an HxW[x3] array (uint8, or floats in [0, 1]); boxes are
    normalised [ymin, xmin, ymax, xmax]; classes are 1-based ids. Detections below
    `min_score` are left out. Images under MIN_DRAW_SIDE pixels are upscaled first, and a
    legend strip below the image names the classes shown and the two line styles.
    """
    return _draw((image, boxes, classes, scores), id_to_name, min_score, (gt_boxes, gt_classes), None)


def draw_predictions(image, boxes, classes, scores, id_to_name: Mapping[int, str], min_score: float = 0.3,
                     keypoints: Keypoints | None = None) -> Image.Image:
    """What `detflow predict` draws: `draw_detections` without ground truth and, given `keypoints`, each
    shown detection's keypoints that lie inside the image and score above `min_score` as dots in its class
    colour (the OD API's drawing keeps keypoints scoring above its one threshold, that of the boxes too),
    and a line for each of `keypoints.edges` whose two keypoints are drawn."""
    return _draw((image, boxes, classes, scores), id_to_name, min_score, (None, None), keypoints)


def _draw(detections, id_to_name: Mapping[int, str], min_score: float, ground_truth,
          keypoints: Keypoints | None) -> Image.Image:
    """(image, boxes, classes, scores) and (gt_boxes, gt_classes) drawn (see `draw_detections`), with keypoints."""
    image, boxes, classes, scores = detections
    gt_boxes, gt_classes = ground_truth
    picture = _as_rgb(image)
    scale = max(1.0, MIN_DRAW_SIDE / max(1, min(picture.size)))
    if scale > 1.0:
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.BILINEAR)
    width, height = picture.size
    font_size = max(11, min(width, height) // 28)
    font, line = _font(font_size), max(2, min(width, height) // 160)
    draw = ImageDraw.Draw(picture)
    shown: dict[int, None] = {}

    if gt_boxes is not None and len(gt_boxes):
        gt_classes = np.zeros(len(gt_boxes), int) if gt_classes is None else np.asarray(gt_classes).reshape(-1)
        for box, cls in zip(_to_pixels(gt_boxes, width, height), gt_classes):
            _dashed_rectangle(draw, box + [1, 1, 1, 1], (0, 0, 0), max(1, line - 1), 3 * line)
            _dashed_rectangle(draw, box, class_colour(cls) if cls else (255, 255, 255), max(1, line - 1), 3 * line)
            if cls:
                shown[int(cls)] = None

    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    classes = np.asarray(classes).reshape(-1).astype(int)
    pixel_boxes = _to_pixels(boxes, width, height)
    keep = [i for i in np.argsort(scores, kind="stable") if scores[i] >= min_score]  # best drawn last, on top
    for i in keep:
        colour = class_colour(classes[i])
        draw.rectangle(list(pixel_boxes[i]), outline=colour, width=line)
    if keypoints is not None:
        point_scores = np.ones(np.shape(keypoints.points)[:2]) if keypoints.scores is None else keypoints.scores
        _draw_keypoints(draw, [(classes[i], keypoints.points[i], point_scores[i]) for i in keep], keypoints.edges,
                        min_score, line, (width, height))
    for i in keep:
        name = id_to_name.get(int(classes[i]), f"id {classes[i]}")
        x0, y0 = pixel_boxes[i][:2]
        _label(draw, (x0, y0), f"{name} {scores[i]:.2f}", class_colour(classes[i]), font, (width, height))
        shown[int(classes[i])] = None

    return _with_legend(picture, shown, id_to_name, font, len(keep), min_score, gt_boxes is not None)


def _draw_keypoints(draw: ImageDraw.ImageDraw, detections, edges, min_score: float, line: int, size) -> None:
    """Each (class id, keypoints [K, 2], scores [K]): the edges between drawn keypoints, then their dots."""
    width, height = size
    radius = line + 1
    for cls, points, scores in detections:
        points = np.asarray(points, np.float64).reshape(-1, 2)
        xy = np.stack([points[:, 1] * (width - 1), points[:, 0] * (height - 1)], 1)
        inside = np.isfinite(points).all(1) & (points >= 0).all(1) & (points <= 1).all(1)
        kept = inside & (np.asarray(scores, np.float64).reshape(-1) > min_score)
        colour = class_colour(cls)
        for start, end in edges:
            if 0 <= start < len(kept) and 0 <= end < len(kept) and kept[start] and kept[end]:
                draw.line([tuple(xy[start]), tuple(xy[end])], fill=colour, width=line)
        for x, y in xy[kept]:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=(0, 0, 0))


def _with_legend(picture: Image.Image, shown, id_to_name, font, count: int, min_score: float,
                 has_gt: bool) -> Image.Image:
    width = picture.width
    pad = 6
    row_h = font.getbbox("Ag")[3] + pad
    entries = [(class_colour(c), id_to_name.get(c, f"id {c}")) for c in sorted(shown)]
    summary = f"{count} detection{'s' if count != 1 else ''} >= {min_score:.2f}"
    if has_gt:
        summary += "   solid: predicted   dashed: ground truth"
    # Lay the class entries out left to right, wrapping to new rows as needed.
    rows, x = [[]], pad
    for colour, name in entries:
        w = row_h + font.getlength(name) + 3 * pad
        if x + w > width and rows[-1]:
            rows.append([])
            x = pad
        rows[-1].append((x, colour, name))
        x += w
    legend_h = row_h * (1 + len([r for r in rows if r])) + pad
    out = Image.new("RGB", (width, picture.height + legend_h), (255, 255, 255))
    out.paste(picture, (0, 0))
    draw = ImageDraw.Draw(out)
    y = picture.height + pad // 2
    draw.text((pad, y), summary, fill=(0, 0, 0), font=font)
    for row in rows:
        if not row:
            continue
        y += row_h
        for x, colour, name in row:
            draw.rectangle([x, y + 2, x + row_h - 6, y + row_h - 4], fill=colour, outline=(0, 0, 0))
            draw.text((x + row_h, y), name, fill=(0, 0, 0), font=font)
    return out


def _clean_curve(values) -> np.ndarray:
    curve = np.asarray(values, dtype=np.float64).reshape(-1).copy()
    curve[curve < 0] = np.nan  # pycocotools writes -1 where a class has no ground truth
    return curve


def _ap_text(ap) -> str:
    return "n/a" if ap is None or not np.isfinite(ap) or ap < 0 else f"{ap:.3f}"


def _figure(size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_pr_curves(precision_by_class: Mapping[str, np.ndarray], recall_points: np.ndarray,
                   ap_by_class: Mapping[str, float], path, title: str = "Precision-recall at IoU 0.5") -> None:
    """Writes one PNG with one precision-recall curve per class, its AP in the legend.

    Precision values that are NaN or negative (pycocotools' -1 for a class without
    ground truth) are not drawn; such a class is listed with 'n/a'. Classes keep the
    colours `draw_detections` gives them (by their order, as 1-based ids).
    """
    recall = np.asarray(recall_points, dtype=np.float64).reshape(-1)
    fig = _figure((7.0, 5.0))
    ax = fig.add_subplot(1, 1, 1)
    for index, (name, values) in enumerate(precision_by_class.items(), start=1):
        curve = _clean_curve(values)
        colour = tuple(c / 255 for c in class_colour(index))
        label = f"{name} (AP {_ap_text(ap_by_class.get(name))})"
        if curve.size != recall.size:
            raise ValueError(f"precision for {name!r} has {curve.size} points, recall_points has {recall.size}")
        if np.isfinite(curve).any():
            ax.plot(recall, curve, color=colour, linewidth=2, label=label)
        else:
            ax.plot([], [], color=colour, linewidth=2, linestyle=":", label=label)
    if not precision_by_class:
        ax.text(0.5, 0.5, "no classes to plot", ha="center", va="center", transform=ax.transAxes)
    valid = [ap for ap in ap_by_class.values() if ap is not None and np.isfinite(ap) and ap >= 0]
    if valid:
        title += f"\nmean AP {np.mean(valid):.3f} over {len(valid)} class{'es' if len(valid) != 1 else ''}"
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
    ax.grid(True, alpha=0.3)
    if precision_by_class:
        ax.legend(loc="lower left", fontsize=9, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(str(path), format="png")


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], path,
                          title: str = "Confusion matrix (IoU 0.5)") -> None:
    """Writes a PNG of a `confusion_matrix` result: counts in each cell, colour by row share.

    `class_names` are the C class names; the last row is labelled 'background (false
    positive)' and the last column 'missed (false negative)'.
    """
    matrix = np.asarray(matrix)
    n = len(class_names) + 1
    if matrix.shape != (n, n):
        raise ValueError(f"matrix is {matrix.shape}, expected ({n}, {n}) for {len(class_names)} classes")
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=np.float64), where=rows > 0)
    side = max(4.5, 0.7 * n + 2.5)
    fig = _figure((side + 1.0, side))
    ax = fig.add_subplot(1, 1, 1)
    shown = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="share of the row")
    for r in range(n):
        for c in range(n):
            if r == n - 1 and c == n - 1:
                continue  # background never meets missed
            ax.text(c, r, f"{matrix[r, c]:g}", ha="center", va="center", fontsize=10,
                    color="white" if share[r, c] > 0.55 else "black")
    ax.set_xticks(range(n), list(class_names) + ["missed\n(false neg.)"], rotation=40, ha="right")
    ax.set_yticks(range(n), list(class_names) + ["background\n(false pos.)"])
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.tight_layout()
    fig.savefig(str(path), format="png")


def _iou(box, boxes: np.ndarray) -> np.ndarray:
    y0 = np.maximum(box[0], boxes[:, 0])
    x0 = np.maximum(box[1], boxes[:, 1])
    y1 = np.minimum(box[2], boxes[:, 2])
    x1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def confusion_matrix(gt_boxes_per_image, gt_classes_per_image, det_boxes_per_image, det_classes_per_image,
                     det_scores_per_image, num_classes: int, iou_threshold: float = 0.5,
                     score_threshold: float = 0.5) -> np.ndarray:
    """Counts detections against ground truth: an int array of shape (C+1, C+1).

    Rows are the true class, columns the predicted class, both indexed by class id - 1.
    The last row ('background') counts false positives: detections that match no
    ground truth. The last column ('missed') counts false negatives: ground truth that
    no detection matched. So the diagonal holds true positives and other cells in the
    first C rows and columns hold misclassifications.

    Per image, detections with score >= `score_threshold` are matched greedily, best
    score first, to the unmatched ground-truth box of highest IoU >= `iou_threshold`,
    preferring a box of the detection's own class; each box matches at most once.
    Boxes are [ymin, xmin, ymax, xmax] in any one coordinate system; ids are 1-based.
    """
    per_image = (gt_boxes_per_image, gt_classes_per_image, det_boxes_per_image, det_classes_per_image,
                 det_scores_per_image)
    if len({len(x) for x in per_image}) != 1:
        raise ValueError(f"per-image sequences differ in length: {[len(x) for x in per_image]}")
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    background = missed = num_classes
    for gt_boxes, gt_classes, det_boxes, det_classes, det_scores in zip(*per_image):
        gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
        gt_index = _class_index(gt_classes, num_classes)
        det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
        det_index = _class_index(det_classes, num_classes)
        det_scores = np.asarray(det_scores, dtype=np.float64).reshape(-1)
        matched = np.zeros(len(gt_boxes), dtype=bool)
        for d in np.argsort(-det_scores, kind="stable"):
            if det_scores[d] < score_threshold:
                continue
            ious = _iou(det_boxes[d], gt_boxes) if len(gt_boxes) else np.zeros(0)
            candidates = (~matched) & (ious >= iou_threshold)
            own = candidates & (gt_index == det_index[d])
            pool = own if own.any() else candidates
            if pool.any():
                g = int(np.argmax(np.where(pool, ious, -1.0)))
                matched[g] = True
                matrix[gt_index[g], det_index[d]] += 1
            else:
                matrix[background, det_index[d]] += 1
        for g in np.flatnonzero(~matched):
            matrix[gt_index[g], missed] += 1
    return matrix


def _class_index(classes, num_classes: int) -> np.ndarray:
    ids = np.asarray(classes).reshape(-1).astype(np.int64)
    bad = ids[(ids < 1) | (ids > num_classes)]
    if bad.size:
        raise ValueError(f"class ids must be in 1..{num_classes}, got {sorted(set(bad.tolist()))}")
    return ids - 1


def contact_sheet(images: Sequence[Image.Image], path, columns: int = 4) -> None:
    """Writes the images as one PNG grid, `columns` wide, each centred in a cell of the largest size."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    images = [_as_rgb(im) for im in images]
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    cell_w = max(im.width for im in images)
    cell_h = max(im.height for im in images)
    gap = 4
    sheet = Image.new("RGB", (columns * (cell_w + gap) + gap, rows * (cell_h + gap) + gap), (255, 255, 255))
    for k, im in enumerate(images):
        r, c = divmod(k, columns)
        x = gap + c * (cell_w + gap) + (cell_w - im.width) // 2
        y = gap + r * (cell_h + gap) + (cell_h - im.height) // 2
        sheet.paste(im, (x, y))
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(str(path), format="PNG")
