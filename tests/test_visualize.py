"""Pictures: detections drawn where they belong, plots written and not blank, confusion counts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from detection import visualize

NAMES = {1: "hex_nut", 2: "washer", 3: "bolt"}
EMPTY_BOXES = np.zeros((0, 4))
EMPTY = np.zeros((0,))


def _png(path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def test_draws_box_and_label_in_class_colour_and_drops_low_scores():
    image = np.zeros((64, 64, 3), np.uint8)
    boxes = np.array([[0.25, 0.25, 0.75, 0.75], [0.05, 0.8, 0.2, 0.95]])
    out = visualize.draw_detections(image, boxes, [1, 2], [0.9, 0.1], NAMES, min_score=0.3)
    assert out.width == visualize.MIN_DRAW_SIDE and out.height > visualize.MIN_DRAW_SIDE  # legend below
    pixels = np.asarray(out)
    side = out.width - 1
    assert tuple(pixels[int(0.5 * side), int(0.25 * side)]) == visualize.class_colour(1)  # left edge
    assert tuple(pixels[int(0.5 * side), int(0.75 * side)]) == visualize.class_colour(1)  # right edge
    # The 0.1 detection is not drawn: nothing of its colour near where it would be.
    region = pixels[int(0.05 * side):int(0.2 * side), int(0.8 * side):int(0.95 * side)]
    assert not (region == visualize.class_colour(2)).all(axis=-1).any()
    # The label tag sits above the box, filled with the class colour, with text in it.
    tag = pixels[int(0.25 * side) - 12:int(0.25 * side) - 2, int(0.25 * side):int(0.25 * side) + 60]
    assert (tag == visualize.class_colour(1)).all(axis=-1).mean() > 0.4
    assert (tag != visualize.class_colour(1)).any(axis=-1).any()


def test_ground_truth_is_dashed_and_zero_detections_still_draw():
    image = Image.new("RGB", (400, 400), (90, 90, 90))
    gt = np.array([[0.1, 0.1, 0.9, 0.9]])
    out = visualize.draw_detections(image, EMPTY_BOXES, EMPTY, EMPTY, NAMES, gt_boxes=gt, gt_classes=[3])
    assert out.width == 400  # large enough: not upscaled
    pixels = np.asarray(out)
    top_edge = pixels[int(0.1 * 399), int(0.1 * 399):int(0.9 * 399)]
    coloured = (top_edge == visualize.class_colour(3)).all(axis=-1)
    assert 0.3 < coloured.mean() < 0.8  # dashes and gaps
    legend = pixels[400:]
    assert legend.shape[0] > 10 and (legend < 128).any()  # legend text drawn on white

    nothing = visualize.draw_detections(np.full((32, 48), 0.5), EMPTY_BOXES, EMPTY, EMPTY, NAMES)
    assert nothing.height >= visualize.MIN_DRAW_SIDE and nothing.width == 480
    assert np.asarray(nothing)[:320].std() < 1  # the grey image, untouched


def test_unknown_class_id_is_labelled_by_id():
    out = visualize.draw_detections(np.zeros((320, 320, 3), np.uint8), [[0.2, 0.2, 0.6, 0.6]], [9], [0.8], NAMES)
    assert isinstance(out, Image.Image)


def test_keypoints_are_dots_above_the_score_threshold_joined_by_the_edges_between_drawn_ones():
    box = [[0.1, 0.1, 0.9, 0.9]]
    # Keypoints 0, 1, 2 score high, 3 low, 4 is below the image; edges 0-1 (both drawn), 1-3 and 2-4 (3 and 4
    # are not), 2-7 (no keypoint 7).
    points = [[[0.3, 0.3], [0.3, 0.7], [0.7, 0.5], [0.7, 0.2], [1.4, 0.5]]]
    scores = [[0.9, 0.8, 0.6, 0.1, 0.9]]
    out = np.asarray(visualize.draw_predictions(np.zeros((320, 320, 3), np.uint8), box, [2], [0.9], NAMES,
                                                min_score=0.3, keypoints=visualize.Keypoints(
                                                    points, scores, [(0, 1), (1, 3), (2, 4), (2, 7)])))
    colour = visualize.class_colour(2)

    def coloured(y, x):  # within a pixel of the point
        row, col = round(y * 319), round(x * 319)
        return (out[row - 1:row + 2, col - 1:col + 2] == colour).all(-1).any()

    assert coloured(0.3, 0.3) and coloured(0.3, 0.7) and coloured(0.7, 0.5)      # the three dots
    assert not coloured(0.7, 0.2)                                                  # keypoint 3 scores 0.1
    assert coloured(0.3, 0.5)                                                      # edge 0-1
    assert not coloured(0.5, 0.45) and not coloured(0.7, 0.35)                     # no edge 1-3, none to 2
    assert not coloured(0.96, 0.5) and not coloured(0.999, 0.5)                    # nor to 4, nor 4 at the edge
    without = np.asarray(visualize.draw_predictions(np.zeros((320, 320, 3), np.uint8), box, [2], [0.9], NAMES,
                                                    min_score=0.3))
    assert (without[round(0.3 * 319), round(0.3 * 319)] == 0).all()                # keypoints only when given


def _hand_built_case():
    a = [0.0, 0.0, 0.4, 0.4]
    b = [0.5, 0.5, 0.9, 0.9]
    c = [0.0, 0.6, 0.3, 0.9]
    far = [0.6, 0.0, 0.7, 0.1]
    gt_boxes = [[a, b, c], [], [a]]
    gt_classes = [[1, 2, 1], [], [3]]
    det_boxes = [[a, b, far, c, a], [b], []]
    det_classes = [[1, 1, 2, 1, 1], [3], []]
    # image 1: TP hex_nut on a, washer on b called hex_nut, washer FP far away, a
    # low-score detection on c (ignored, so c is missed), a duplicate on a (FP).
    det_scores = [[0.9, 0.8, 0.7, 0.2, 0.6], [0.95], []]
    return gt_boxes, gt_classes, det_boxes, det_classes, det_scores


def test_confusion_matrix_counts_tp_misclassification_fp_and_fn():
    matrix = visualize.confusion_matrix(*_hand_built_case(), num_classes=3)
    expected = np.zeros((4, 4), int)
    expected[0, 0] = 1  # hex_nut found as hex_nut
    expected[1, 0] = 1  # washer called hex_nut
    expected[3, 1] = 1  # washer detected on background
    expected[3, 0] = 1  # duplicate hex_nut on an already-matched box
    expected[3, 2] = 1  # bolt detected in an image with no ground truth
    expected[0, 3] = 1  # hex_nut on c missed (its only detection is below threshold)
    expected[2, 3] = 1  # bolt missed, no detections at all
    np.testing.assert_array_equal(matrix, expected)
    lower = visualize.confusion_matrix(*_hand_built_case(), num_classes=3, score_threshold=0.1)
    assert lower[0, 0] == 2 and lower[0, 3] == 0


def test_confusion_matrix_prefers_own_class_and_checks_ids():
    gt = [[[0.0, 0.0, 0.5, 0.5], [0.0, 0.05, 0.5, 0.55]]]
    # The detection overlaps the washer box best, but also the hex_nut box above 0.5.
    det = [[[0.0, 0.04, 0.5, 0.54]]]
    matrix = visualize.confusion_matrix(gt, [[1, 2]], det, [[1]], [[0.9]], num_classes=2)
    assert matrix[0, 0] == 1 and matrix[1, 2] == 1 and matrix.sum() == 2
    with pytest.raises(ValueError, match="1..2"):
        visualize.confusion_matrix(gt, [[1, 3]], det, [[1]], [[0.9]], num_classes=2)
    with pytest.raises(ValueError, match="length"):
        visualize.confusion_matrix(gt, [[1, 2]], det, [[1]], [], num_classes=2)


def test_plot_confusion_matrix_writes_a_readable_png(tmp_path):
    matrix = visualize.confusion_matrix(*_hand_built_case(), num_classes=3)
    path = tmp_path / "confusion.png"
    visualize.plot_confusion_matrix(matrix, list(NAMES.values()), path)
    pixels = _png(path)
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 400 and path.stat().st_size > 10_000
    assert pixels.std() > 20
    with pytest.raises(ValueError, match="expected"):
        visualize.plot_confusion_matrix(matrix, ["only", "two"], tmp_path / "bad.png")


def test_plot_pr_curves_handles_absent_and_nan_classes(tmp_path):
    recall = np.linspace(0, 1, 101)
    precision = {"hex_nut": 1 - recall ** 2, "washer": np.full(101, -1.0), "bolt": np.full(101, np.nan)}
    precision["hex_nut"][80:] = -1  # pycocotools marks unreached recall as -1 too
    path = tmp_path / "pr.png"
    visualize.plot_pr_curves(precision, recall, {"hex_nut": 0.61, "washer": -1.0, "bolt": float("nan")}, path)
    pixels = _png(path)
    assert pixels.shape[1] >= 500 and pixels.std() > 20
    # The first class's colour is on the plot: the curve was drawn.
    assert (np.abs(pixels.astype(int) - visualize.class_colour(1)).sum(axis=-1) < 30).sum() > 200

    empty = tmp_path / "empty.png"
    visualize.plot_pr_curves({}, recall, {}, empty)
    assert _png(empty).std() > 5
    with pytest.raises(ValueError, match="points"):
        visualize.plot_pr_curves({"x": np.ones(5)}, recall, {}, tmp_path / "bad.png")


def test_contact_sheet_tiles_images(tmp_path):
    images = [Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("RGB", (20, 50), (0, 255, 0)),
              Image.new("RGB", (40, 50), (0, 0, 255))]
    path = tmp_path / "sheet" / "sheet.png"
    visualize.contact_sheet(images, path, columns=2)
    pixels = _png(path)
    assert pixels.shape[:2] == (2 * 54 + 4, 2 * 44 + 4)
    for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255)):
        assert (pixels == colour).all(axis=-1).sum() >= 600
    with pytest.raises(ValueError):
        visualize.contact_sheet([], tmp_path / "none.png")
