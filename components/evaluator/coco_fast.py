"""pycocotools' box and keypoint evaluation (evaluate + accumulate + summarize), vectorised with numpy.

Same algorithm, same floating-point operations in the same order, so the same
numbers (tests/evaluator checks them against pycocotools on randomised sets).
What makes it fast: every (image, category) pair is matched at once, one
detection rank at a time, for all 4 area ranges and 10 IoU thresholds together.

pycocotools' greedy matching, restated so it can run on arrays: detections in
descending score order (ties in input order) take, among still-free ground
truth with IoU >= the threshold, the one of highest IoU — preferring ground
truth that is not ignored (crowd, or outside the area range) — and on equal
IoU the last one in input order. Crowd ground truth is never used up.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# pycocotools.cocoeval.Params.setDetParams, verbatim.
IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
MAX_DETS = [1, 10, 100]
AREA_RNG = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
AREA_LBL = ["all", "small", "medium", "large"]
# pycocotools.cocoeval.Params.setKpParams: the COCO person keypoints' OKS sigmas, and its ranges.
COCO_KEYPOINT_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87,
                                 .89, .89]) / 10.0


@dataclasses.dataclass(frozen=True)
class Params:
    """The area ranges and detection limits of one evaluation (pycocotools' Params)."""

    max_dets: tuple
    area_rng: tuple
    area_lbl: tuple


BOX_PARAMS = Params(tuple(MAX_DETS), tuple(map(tuple, AREA_RNG)), tuple(AREA_LBL))
KEYPOINT_PARAMS = Params((20,), ((0 ** 2, 1e5 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e5 ** 2)),
                         ("all", "medium", "large"))


@dataclasses.dataclass
class Boxes:
    """Column arrays of boxes: image and category as indices into the sorted id lists."""

    image: np.ndarray      # int64 [n]
    category: np.ndarray   # int64 [n]
    box: np.ndarray        # float64 [n, 4] x, y, w, h (keypoints: [n, F], see oks)
    area: np.ndarray       # float64 [n]
    score: np.ndarray      # float64 [n] (detections)
    crowd: np.ndarray      # bool [n] (ground truth)
    ident: np.ndarray      # int64 [n] ground-truth ids (0 = pycocotools' "unmatched")


@dataclasses.dataclass(frozen=True)
class _Matching:
    """What the matchers share: ground truth and detections in sorted order, and the results they fill in.

    g_ig is [n_gt, A] (ignored per area range); dtm and dt_ig are the [n_dt, A, T]
    outputs (matched to a ground truth with a nonzero id; ignored).
    """

    g_box: np.ndarray
    g_crowd: np.ndarray
    g_id: np.ndarray
    g_ig: np.ndarray
    d_box: np.ndarray
    dtm: np.ndarray
    dt_ig: np.ndarray
    similarity: object      # (d [..., D, F], g [..., G, F'], crowd [..., G]) -> [..., D, G]: IoU or OKS


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """Start offsets of runs of equal keys in a sorted array, plus the end."""
    change = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    return np.concatenate([[0], change, [len(keys)]]).astype(np.int64)


def _iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """maskApi.c bbIou on [..., D, 4] x [..., G, 4] boxes, same operations."""
    dx, dy, dw, dh = (d[..., :, None, i] for i in range(4))
    gx, gy, gw, gh = (g[..., None, :, i] for i in range(4))
    da, ga = dw * dh, gw * gh
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    union = np.where(crowd[..., None, :], da, da + ga - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / union
    return np.where((w > 0) & (h > 0), out, 0.0)


def oks(sigmas: np.ndarray):
    """pycocotools' computeOks as a similarity: gt rows [x(K), y(K), v(K), bbox x, y, w, h, area], detection rows
    [x(K), y(K)]; a ground truth without labelled keypoints is compared through its box, grown by its size on
    each side. Crowd plays no part (as in pycocotools)."""
    variances = (sigmas * 2) ** 2
    k = len(sigmas)

    def similarity(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
        del crowd
        xd, yd = d[..., :, None, 0:k], d[..., :, None, k:2 * k]                  # [..., D, 1, K]
        xg, yg, vg = g[..., None, :, 0:k], g[..., None, :, k:2 * k], g[..., None, :, 2 * k:3 * k]
        bx, by, bw, bh, area = (g[..., None, :, 3 * k + i, None] for i in range(5))
        labelled = vg > 0
        k1 = np.count_nonzero(labelled, axis=-1)[..., None]                       # [..., 1, G, 1]
        x0, x1, y0, y1 = bx - bw, bx + bw * 2, by - bh, by + bh * 2
        zero = np.zeros(1)
        dx = np.where(k1 > 0, xd - xg, np.maximum(zero, x0 - xd) + np.maximum(zero, xd - x1))
        dy = np.where(k1 > 0, yd - yg, np.maximum(zero, y0 - yd) + np.maximum(zero, yd - y1))
        e = (dx ** 2 + dy ** 2) / variances / (area + np.spacing(1)) / 2
        used = np.where(k1 > 0, labelled, True)
        return np.sum(np.where(used, np.exp(-e), 0.0), axis=-1) / np.where(k1 > 0, k1, k)[..., 0]
    return similarity


def evaluate(num_images: int, num_categories: int, gt: Boxes, dt: Boxes, params: Params = BOX_PARAMS,
             similarity=_iou, ignore: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Returns pycocotools' eval['precision'] [T,R,K,A,M] and eval['recall'] [T,K,A,M].

    `params`, `similarity`: BOX_PARAMS and IoU (the default), or KEYPOINT_PARAMS and `oks(sigmas)`.
    `ignore` [n_gt]: ground truth ignored besides crowd (keypoints: none labelled).
    """
    T, R, K, A, M = len(IOU_THRS), len(REC_THRS), num_categories, len(params.area_rng), len(params.max_dets)
    area_lo = np.array([a[0] for a in params.area_rng])
    area_hi = np.array([a[1] for a in params.area_rng])

    g_order = np.lexsort((np.arange(len(gt.image)), gt.image, gt.category))
    g_key = gt.category[g_order] * num_images + gt.image[g_order]
    g_box, g_crowd, g_id = gt.box[g_order], gt.crowd[g_order], gt.ident[g_order]
    g_area = gt.area[g_order]
    # [n_gt, A]: ignored for this area range (crowd, or area outside it).
    g_ig = g_crowd[:, None] | (g_area[:, None] < area_lo) | (g_area[:, None] > area_hi)
    if ignore is not None:
        g_ig |= ignore[g_order][:, None]

    d_order = np.lexsort((np.arange(len(dt.image)), -dt.score, dt.image, dt.category))
    d_key_all = dt.category[d_order] * num_images + dt.image[d_order]
    starts = _group_starts(d_key_all)
    rank_all = np.arange(len(d_order)) - np.repeat(starts[:-1], np.diff(starts))
    keep = rank_all < params.max_dets[-1]
    d_order, d_key, rank = d_order[keep], d_key_all[keep], rank_all[keep]
    d_box, d_score, d_area = dt.box[d_order], dt.score[d_order], dt.area[d_order]
    n_dt = len(d_order)
    # pycocotools' dtMatches != 0: matched to a ground truth whose id is not 0.
    dtm = np.zeros((n_dt, A, T), dtype=bool)
    dt_ig = np.zeros((n_dt, A, T), dtype=bool)

    _match_all(g_key, d_key, _Matching(g_box, g_crowd, g_id, g_ig, d_box, dtm, dt_ig, similarity))
    d_out = (d_area[:, None] < area_lo) | (d_area[:, None] > area_hi)     # [n_dt, A]
    dt_ig |= ~dtm & d_out[:, :, None]

    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    g_cat = gt.category[g_order]
    d_cat = d_key // num_images
    npig_all = np.stack([np.bincount(g_cat[~g_ig[:, a]], minlength=K) for a in range(A)], axis=1)
    d_bounds = np.searchsorted(d_cat, np.arange(K + 1))
    # Detections last, so each per-category slice below is contiguous: [A, T, n_dt].
    dtm_t = np.ascontiguousarray(dtm.transpose(1, 2, 0))
    dt_ig_t = np.ascontiguousarray(dt_ig.transpose(1, 2, 0))
    for k in range(K):
        lo, hi = d_bounds[k], d_bounds[k + 1]
        areas = [a for a in range(A) if npig_all[k, a] > 0]
        for m, max_det in enumerate(params.max_dets):
            if not areas:
                break
            sel = np.flatnonzero(rank[lo:hi] < max_det) + lo
            rows = sel[np.argsort(-d_score[sel], kind="mergesort")]
            for a in areas:
                recall[:, k, a, m], precision[:, :, k, a, m] = _pr_curve(
                    dtm_t[a], dt_ig_t[a], rows, int(npig_all[k, a]))
    return precision, recall


def _pr_curve(matched_all: np.ndarray, ignored_all: np.ndarray, rows: np.ndarray,
              npig: int) -> tuple[np.ndarray, np.ndarray]:
    """pycocotools' accumulate for one category, area range and maxDets: recall [T], precision [T, R].

    `rows` are the detections in descending score order. Those ignored at every
    threshold are dropped first: they add neither a true nor a false positive,
    so every rc/pr entry they would hold repeats its predecessor's (or is a
    leading zero), and no recall threshold's first reaching index, envelope
    value or final recall changes.
    """
    T, R = len(IOU_THRS), len(REC_THRS)
    ignored = ignored_all[:, rows]
    keep = ~ignored.all(axis=0)
    rows, ignored = rows[keep], ignored[:, keep]
    nd = len(rows)
    if nd == 0:
        return np.zeros(T), np.zeros((T, R))
    matched = matched_all[:, rows]
    tps = np.logical_and(matched, np.logical_not(ignored))
    fps = np.logical_and(np.logical_not(matched), np.logical_not(ignored))
    # pycocotools: np.cumsum(...).astype(float); the same integer counts (int32 is faster).
    tp_int = np.cumsum(tps.view(np.int8), axis=-1, dtype=np.int32)
    tp_sum = tp_int.astype(float)
    fp_sum = np.cumsum(fps.view(np.int8), axis=-1, dtype=np.int32).astype(float)
    rc = tp_sum / npig
    pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    pr = np.maximum.accumulate(pr[:, ::-1], axis=-1)[:, ::-1]
    at = _first_reaching(tp_int[None], np.array([npig]), nd)[0]                    # [T, R]
    q = np.take_along_axis(pr, np.minimum(at, nd - 1), axis=1)
    return rc[:, -1], np.where(at < nd, q, 0.0)


def _first_reaching(tp_int: np.ndarray, npig: np.ndarray, nd: int) -> np.ndarray:
    """pycocotools' np.searchsorted(rc, recThrs, side='left') for every [area, threshold] row at once.

    rc = tp/npig rises with the integer count tp, so rc >= r exactly when
    tp >= need(r), the least c with c/npig >= r (the same float division). The
    rows of integers are then stacked with exact integer offsets into one sorted
    array, so a single searchsorted answers them all.
    """
    n_area, n_thr = tp_int.shape[:2]
    need = np.stack([np.searchsorted(np.arange(n + 1) / n, REC_THRS, side="left") for n in npig.tolist()])
    big = max(nd, int(npig.max()) + 1) + 1
    offsets = (np.arange(n_area * n_thr, dtype=np.int64) * big).reshape(n_area, n_thr, 1)
    flat = (tp_int + offsets).ravel()
    queries = need[:, None, :] + offsets                                      # [A', T, R]
    starts = (np.arange(n_area * n_thr, dtype=np.int64) * nd).reshape(n_area, n_thr, 1)
    return np.searchsorted(flat, queries.ravel(), side="left").reshape(queries.shape) - starts


def _match_all(g_key: np.ndarray, d_key: np.ndarray, m: _Matching) -> None:
    """Greedy matching of every (category, image) pair that has both gt and detections."""
    g_starts = _group_starts(g_key) if len(g_key) else np.zeros(1, np.int64)
    d_starts = _group_starts(d_key) if len(d_key) else np.zeros(1, np.int64)
    g_keys, d_keys = g_key[g_starts[:-1]], d_key[d_starts[:-1]]
    common, gi, di = np.intersect1d(g_keys, d_keys, assume_unique=True, return_indices=True)
    if not len(common):
        return
    g0, ng = g_starts[gi], np.diff(g_starts)[gi]
    d0, nd = d_starts[di], np.diff(d_starts)[di]
    # Buckets by ground-truth count keep the padding small.
    bucket = np.ceil(np.log2(np.maximum(ng, 1))).astype(int)
    for b in np.unique(bucket):
        pairs = np.flatnonzero(bucket == b)
        pairs = pairs[np.argsort(-nd[pairs], kind="stable")]     # active pairs form a prefix
        match = _match_single if b == 0 else _match_bucket
        match(g0[pairs], ng[pairs], d0[pairs], nd[pairs], m)


def _match_single(g0, ng, d0, nd, m: _Matching) -> None:
    """Pairs with exactly one ground truth, without a loop: it is the only candidate in every
    area range, so the first detection reaching the threshold takes it (all of them, if crowd)."""
    g_box, g_crowd, g_id, g_ig, d_box, dtm, dt_ig = m.g_box, m.g_crowd, m.g_id, m.g_ig, m.d_box, m.dtm, m.dt_ig
    pair = np.repeat(np.arange(len(g0)), nd)                       # detections in rank order, by pair
    rows = np.repeat(d0 - np.concatenate([[0], np.cumsum(nd)[:-1]]), nd) + np.arange(int(nd.sum()))
    g = g0[pair]
    crowd = g_crowd[g]
    ious = m.similarity(d_box[rows][:, None, :], g_box[g][:, None, :], crowd[:, None])[:, 0, 0]
    ok = ious[:, None] >= np.minimum(IOU_THRS, 1 - 1e-10)          # [n, T]
    count = np.cumsum(ok, axis=0)
    before = np.concatenate([np.zeros((1, ok.shape[1]), count.dtype), count[:-1]])
    group_start = np.concatenate([[0], np.cumsum(nd)[:-1]])
    in_pair = count - before[group_start][pair]                    # ok detections so far in this pair
    taken = ok & ((in_pair == 1) | crowd[:, None])
    matched = taken if g_id[g0].all() else taken & (g_id[g] != 0)[:, None]
    dtm[rows] = matched[:, None, :]
    dt_ig[rows] = taken[:, None, :] & g_ig[g][:, :, None]


def _match_bucket(g0, ng, d0, nd, m: _Matching) -> None:
    """Pairs with up to G ground truth, padded to [P, G] and [P, D]: one loop step per detection rank."""
    g_box, g_crowd, g_id, g_ig, d_box, dtm, dt_ig = m.g_box, m.g_crowd, m.g_id, m.g_ig, m.d_box, m.dtm, m.dt_ig
    P, G, D = len(g0), int(ng.max()), int(nd.max())
    A, T = dtm.shape[1], dtm.shape[2]
    g_idx = g0[:, None] + np.arange(G)
    g_valid = np.arange(G) < ng[:, None]
    g_idx = np.where(g_valid, g_idx, g0[:, None])
    d_idx = d0[:, None] + np.arange(D)
    d_valid = np.arange(D) < nd[:, None]
    d_idx = np.where(d_valid, d_idx, d0[:, None])
    crowd = g_crowd[g_idx] & g_valid                         # [P, G]
    ious = m.similarity(d_box[d_idx], g_box[g_idx], crowd)   # [P, D, G]
    ig = np.transpose(g_ig[g_idx], (0, 2, 1))[:, :, None, :]  # [P, A, 1, G]
    nonzero_id = (g_id[g_idx] != 0)[:, None, None, :]
    all_nonzero = bool(nonzero_id.all())
    reg = ~ig
    thr = np.minimum(IOU_THRS, 1 - 1e-10)[None, :, None]
    iou_ok = (ious[:, :, None, :] >= thr) & g_valid[:, None, None, :]       # [P, D, T, G]
    avail = np.ones((P, A, T, G), dtype=bool)
    reusable = crowd[:, None, None, :]
    slots = np.arange(G)
    for r in range(D):
        n = int(np.count_nonzero(nd > r))
        cand = iou_ok[:n, r][:, None] & avail[:n]            # [n, A, T, G]
        cand_reg = cand & reg[:n]
        has_reg = cand_reg.any(-1)                           # a non-ignored gt is available
        use = np.where(has_reg[..., None], cand_reg, cand)   # else any (only ignored ones left)
        hit = has_reg | cand.any(-1)
        val = np.where(use, ious[:n, r][:, None, None, :], -1.0)
        last = G - 1 - np.argmax(val[..., ::-1], axis=-1)    # last index of the maximum
        chosen = (slots == last[..., None]) & hit[..., None]  # one-hot [n, A, T, G]
        rows = d_idx[:n, r]
        dtm[rows] = hit if all_nonzero else (chosen & nonzero_id[:n]).any(-1)
        dt_ig[rows] = hit & ~has_reg
        avail[:n] &= ~chosen | reusable[:n]


def summarize_keypoints(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """pycocotools COCOeval.summarize() for keypoints (_summarizeKps): the 10 stats, at maxDets 20."""
    lbl = KEYPOINT_PARAMS.area_lbl

    def one(ap=1, iou_thr=None, area="all"):
        s = precision if ap == 1 else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == IOU_THRS)[0]]
        aind = [i for i, a in enumerate(lbl) if a == area]
        s = s[:, :, :, aind, 0] if ap == 1 else s[:, :, aind, 0]
        return -1 if len(s[s > -1]) == 0 else np.mean(s[s > -1])

    return np.array([one(1), one(1, iou_thr=.5), one(1, iou_thr=.75), one(1, area="medium"), one(1, area="large"),
                     one(0), one(0, iou_thr=.5), one(0, iou_thr=.75), one(0, area="medium"),
                     one(0, area="large")], dtype=float)


def summarize(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """pycocotools COCOeval.summarize() for boxes: the 12 stats, same order and arithmetic."""
    def one(ap=1, iou_thr=None, area="all", max_dets=100):
        aind = [i for i, a in enumerate(AREA_LBL) if a == area]
        mind = [i for i, m in enumerate(MAX_DETS) if m == max_dets]
        if ap == 1:
            s = precision
            if iou_thr is not None:
                s = s[np.where(iou_thr == IOU_THRS)[0]]
            s = s[:, :, :, aind, mind]
        else:
            s = recall
            if iou_thr is not None:
                s = s[np.where(iou_thr == IOU_THRS)[0]]
            s = s[:, :, aind, mind]
        return -1 if len(s[s > -1]) == 0 else np.mean(s[s > -1])

    return np.array([
        one(1), one(1, iou_thr=.5), one(1, iou_thr=.75),
        one(1, area="small"), one(1, area="medium"), one(1, area="large"),
        one(0, max_dets=1), one(0, max_dets=10), one(0, max_dets=100),
        one(0, area="small"), one(0, area="medium"), one(0, area="large"),
    ], dtype=float)
