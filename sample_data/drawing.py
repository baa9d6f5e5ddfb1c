"""Drawing of the sample images: shapes, textures, backgrounds, clutter, placement, camera.

`render_image` draws one image from a seeded numpy RNG and returns its pixels and its
objects (class index, amodal bbox clipped to the image, visible pixel count);
`sample_data` turns those into files and COCO annotations. Every random draw comes
from the RNG passed in, in a fixed order, so output bytes depend only on it.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

_SUPERSAMPLE = 2
_MIN_VISIBLE_FRACTION = 0.45
# Long side of an object as a fraction of the image's short side, per size bucket:
# at 128 px, small is 14-30 px, medium 32-70 px, large 70-105 px.
_SIZE_BUCKETS = {"small": (0.11, 0.24), "medium": (0.25, 0.55), "large": (0.55, 0.82)}
_SIZE_WEIGHTS = (0.3, 0.5, 0.2)

# Per-class recipe: shape, texture and palette (RGB). `None` means any hue.
_METALS = ((160, 162, 168), (105, 110, 118), (190, 160, 80), (200, 200, 205), (184, 115, 60))
_PAINTS = ((190, 45, 40), (40, 80, 180), (50, 140, 65), (220, 140, 30), (230, 200, 40))
_CLASS_STYLE = {
    "hex_nut": ("hex_nut", "noise", _METALS[:3]),
    "washer": ("washer", "rings", _METALS[2:] + _METALS[:1]),
    "bolt": ("bolt", "stripes", _METALS[:2] + ((60, 60, 66),)),
    "bracket": ("bracket", "dots", _PAINTS),
    "gear": ("gear", "checker", _METALS[1:3] + ((80, 80, 92),)),
    "disc": ("disc", "dots", None),
    "bar": ("bar", "stripes", None),
    "triangle": ("triangle", "gradient", None),
    "cross": ("cross", "checker", None),
    "star": ("star", "noise", None),
}
_EXTRA_SHAPES = ("disc", "bar", "triangle", "cross", "star", "hex_nut", "washer", "gear")
_TEXTURES = ("noise", "rings", "stripes", "dots", "checker", "gradient")


def _regular(n: int, r: float, phase: float = 0.0, cx: float = 0.0, cy: float = 0.0) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(phase + 2 * math.pi * k / n), cy + r * math.sin(phase + 2 * math.pi * k / n))
            for k in range(n)]


def _circle(r: float, n: int = 40, cx: float = 0.0, cy: float = 0.0) -> list[tuple[float, float]]:
    return _regular(n, r, 0.0, cx, cy)


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _shape(name: str, rng: np.random.Generator):
    """Returns (filled polygons, hole polygons, aspect range) in unit coordinates."""
    if name == "hex_nut":
        return [_regular(6, 1.0)], [_circle(rng.uniform(0.38, 0.5))], (0.9, 1.1)
    if name == "washer":
        return [_circle(1.0)], [_circle(rng.uniform(0.35, 0.5))], (0.65, 1.0)
    if name == "bolt":
        head = _rect(-1.0, -0.45, -0.55, 0.45)
        shaft = _rect(-0.56, -0.2, 1.0, 0.2)
        return [head, shaft], [], (1.0, 1.0)
    if name == "bracket":
        t = rng.uniform(0.32, 0.42)
        outline = [(-1, -1), (-1 + t, -1), (-1 + t, 1 - t), (1, 1 - t), (1, 1), (-1, 1)]
        holes = [_circle(t * 0.28, 16, -1 + t / 2, -0.3), _circle(t * 0.28, 16, 0.3, 1 - t / 2)]
        return [outline], holes, (0.8, 1.2)
    if name == "gear":
        teeth = int(rng.integers(8, 13))
        pts = []
        for k in range(teeth * 4):
            a = 2 * math.pi * k / (teeth * 4)
            r = 1.0 if k % 4 in (1, 2) else 0.78
            pts.append((r * math.cos(a), r * math.sin(a)))
        return [pts], [_circle(rng.uniform(0.22, 0.32))], (0.95, 1.05)
    if name == "disc":
        return [_circle(1.0)], [], (0.75, 1.0)
    if name == "bar":
        return [_rect(-1.0, -0.3, 1.0, 0.3)], [], (0.6, 1.4)
    if name == "triangle":
        return [_regular(3, 1.0, -math.pi / 2)], [], (0.8, 1.2)
    if name == "cross":
        t = 0.32
        return [_rect(-1, -t, 1, t), _rect(-t, -1, t, 1)], [], (0.85, 1.15)
    if name == "star":
        pts = [(r * math.cos(a), r * math.sin(a)) for k in range(10)
               for a, r in [(-math.pi / 2 + math.pi * k / 5, 1.0 if k % 2 == 0 else 0.42)]]
        return [pts], [], (0.9, 1.1)
    raise ValueError(f"unknown shape {name!r}; known: {sorted(_CLASS_STYLE)}")


def styles(classes: Sequence[str]) -> dict[str, tuple[str, str, tuple | None]]:
    """The (shape, texture, palette) of each class; classes without a recipe get unused shapes."""
    found = {c: _CLASS_STYLE[c] for c in classes if c in _CLASS_STYLE}
    used = {s[0] for s in found.values()}
    free = [s for s in _EXTRA_SHAPES if s not in used] or list(_EXTRA_SHAPES)
    for k, name in enumerate(c for c in classes if c not in found):
        found[name] = (free[k % len(free)], _TEXTURES[k % len(_TEXTURES)], None)
    return found


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Cloud-like noise in [0, 1]: coarse random values upsampled bilinearly."""
    coarse = rng.random((max(2, h // cell + 2), max(2, w // cell + 2))).astype(np.float32)
    img = Image.fromarray((coarse * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def _texture(kind: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A brightness pattern in about [0.55, 1.15] over object coordinates u, v (unit radius)."""
    if kind == "stripes":
        f = rng.uniform(4.0, 6.0)
        return 0.8 + 0.25 * (np.sin(2 * math.pi * f * u) > 0)
    if kind == "checker":
        k = rng.uniform(2.5, 4.0)
        return 0.75 + 0.35 * ((np.floor(u * k) + np.floor(v * k)) % 2)
    if kind == "dots":
        k = rng.uniform(2.5, 3.5)
        du, dv = (u * k) % 1.0 - 0.5, (v * k) % 1.0 - 0.5
        return np.where(du * du + dv * dv < 0.06, 0.55, 1.05)
    if kind == "rings":
        r = np.sqrt(u * u + v * v)
        return 0.85 + 0.2 * np.cos(2 * math.pi * r * rng.uniform(2.5, 3.5))
    if kind == "gradient":
        return 0.65 + 0.5 * np.clip((u + 1) / 2, 0, 1)
    noise = _smooth_noise(rng, u.shape[0], u.shape[1], max(2, u.shape[0] // 6))
    return 0.7 + 0.45 * noise


def _object_colour(palette, rng: np.random.Generator) -> np.ndarray:
    if palette is None:
        hue = rng.random()
        rgb = np.array([abs(hue * 6 - 3) - 1, 2 - abs(hue * 6 - 2), 2 - abs(hue * 6 - 4)])
        return 60 + 170 * np.clip(rgb, 0, 1) * rng.uniform(0.7, 1.0)
    base = np.array(palette[int(rng.integers(len(palette)))], dtype=np.float64)
    return np.clip(base * rng.uniform(0.85, 1.15, 3) * rng.uniform(0.8, 1.15), 0, 255)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    # Muted colours, like benches, floors and walls: pull a random colour towards grey.
    base = rng.uniform(40, 215, 3)
    c0 = base.mean() + (base - base.mean()) * rng.uniform(0.15, 0.7)
    c1 = np.clip(c0 + rng.normal(0, 40, 3), 0, 255)
    kind = int(rng.integers(4))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:  # linear gradient at a random angle
        a = rng.uniform(0, 2 * math.pi)
        t = (math.cos(a) * xx / w + math.sin(a) * yy / h + 1) / 2
    elif kind == 1:  # cloudy noise
        t = _smooth_noise(rng, h, w, int(rng.integers(8, 32)))
    elif kind == 2:  # planks: bands with grain
        band = int(rng.integers(14, 36))
        shades = rng.random(h // band + 2)
        t = shades[(yy // band).astype(int)] * 0.6 + 0.4 * _smooth_noise(rng, h, w, 4)
        if rng.random() < 0.5:
            t = t.T if h == w else t
    else:  # large floor tiles
        tile = int(rng.integers(24, 56))
        t = (((xx // tile) + (yy // tile)) % 2) * 0.35 + 0.65 * _smooth_noise(rng, h, w, 16)
    return c0 * (1 - t[..., None]) + c1 * t[..., None]


def _clutter(rng: np.random.Generator, canvas: Image.Image) -> None:
    """Things that are not objects: lines, arcs, irregular blobs, specks."""
    w, h = canvas.size
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 7))):
        colour = tuple(int(c) for c in rng.uniform(20, 235, 3))
        kind = int(rng.integers(4))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 0:
            a, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 0.9) * w
            draw.line([(x, y), (x + length * math.cos(a), y + length * math.sin(a))],
                      fill=colour, width=int(rng.integers(1, 4)))
        elif kind == 1:
            r = rng.uniform(0.08, 0.3) * w
            start = rng.uniform(0, 360)
            draw.arc([x - r, y - r, x + r, y + r], start, start + rng.uniform(60, 200),
                     fill=colour, width=int(rng.integers(1, 3)))
        elif kind == 2:
            n, r = int(rng.integers(6, 11)), rng.uniform(0.04, 0.12) * w
            angles = np.sort(rng.uniform(0, 2 * math.pi, n))
            radii = r * rng.uniform(0.55, 1.0, n)
            draw.polygon([(x + q * math.cos(a), y + q * math.sin(a)) for a, q in zip(angles, radii)], fill=colour)
        else:
            for _ in range(int(rng.integers(5, 25))):
                px, py = rng.uniform(0, w), rng.uniform(0, h)
                draw.ellipse([px, py, px + 1.5, py + 1.5], fill=colour)


def _render_object(style, long_side: float, rng: np.random.Generator):
    """Returns (alpha float32 HxW in [0, 1], rgb float32 HxWx3) of one object, tight around it."""
    shape, texture, palette = style
    fills, holes, (a_lo, a_hi) = _shape(shape, rng)
    aspect = rng.uniform(a_lo, a_hi)
    angle = rng.uniform(0, 2 * math.pi)
    ca, sa = math.cos(angle), math.sin(angle)

    def place(poly):
        return [((x * aspect) * ca - y * sa, (x * aspect) * sa + y * ca) for x, y in poly]

    fills, holes = [place(p) for p in fills], [place(p) for p in holes]
    pts = np.array([q for p in fills for q in p])
    extent = (pts.max(0) - pts.min(0)).max()
    scale = long_side / extent
    lo = pts.min(0) * scale
    size = np.ceil((pts.max(0) - pts.min(0)) * scale).astype(int) + 2
    s = _SUPERSAMPLE
    mask = Image.new("L", (int(size[0]) * s, int(size[1]) * s), 0)
    draw = ImageDraw.Draw(mask)
    for group, value in ((fills, 255), (holes, 0)):
        for poly in group:
            draw.polygon([((x * scale - lo[0] + 1) * s, (y * scale - lo[1] + 1) * s) for x, y in poly], fill=value)
    alpha = np.asarray(mask.resize((int(size[0]), int(size[1])), Image.BOX), dtype=np.float32) / 255.0

    # Object coordinates (unit radius, rotating with the object) for the texture.
    yy, xx = np.mgrid[0:alpha.shape[0], 0:alpha.shape[1]].astype(np.float32)
    dx, dy = (xx - 1 + lo[0]) / scale, (yy - 1 + lo[1]) / scale
    u, v = (dx * ca + dy * sa) / aspect, -dx * sa + dy * ca
    pattern = _texture(texture, u, v, rng)
    light = rng.uniform(0, 2 * math.pi)
    shading = 1.0 + 0.18 * np.clip(math.cos(light) * u + math.sin(light) * v, -1.5, 1.5)
    rgb = _object_colour(palette, rng)[None, None, :] * (pattern * shading)[..., None]
    # A darker rim: the visual edge a real part has.
    eroded = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).filter(ImageFilter.MinFilter(3)),
                        dtype=np.float32) / 255.0
    rgb *= (1.0 - 0.35 * np.clip(alpha - eroded, 0, 1))[..., None]
    return alpha, np.clip(rgb, 0, 255).astype(np.float32)


def _paste_region(h: int, w: int, y: int, x: int, ah: int, aw: int):
    """Clips an (ah, aw) patch placed at (y, x) to the image; returns image and patch slices or None."""
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + ah, h), min(x + aw, w)
    if y1 <= y0 or x1 <= x0:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def _place(rng: np.random.Generator, alpha: np.ndarray, objects: list[dict], owner: np.ndarray):
    """Finds where an object may go: >=60% inside the image, leaving every earlier object
    >=45% visible. Returns (image slices, patch slices, covered mask, pixels hidden per
    earlier object) or None after a few tries."""
    (h, w), (ah, aw) = owner.shape, alpha.shape
    for _attempt in range(12):
        if objects and rng.random() < 0.35:  # lean on a neighbour: occlusion
            ox0, oy0, ow, oh = objects[int(rng.integers(len(objects)))]["bbox"]
            cx, cy = ox0 + rng.uniform(0, ow), oy0 + rng.uniform(0, oh)
        else:
            margin = 0.3 if rng.random() < 0.15 else 0.0  # sometimes cut by the border
            cx = rng.uniform(aw * (0.5 - margin), w - aw * (0.5 - margin))
            cy = rng.uniform(ah * (0.5 - margin), h - ah * (0.5 - margin))
        region = _paste_region(h, w, int(cy - ah / 2), int(cx - aw / 2), ah, aw)
        if region is None:
            continue
        img_sl, patch_sl = region
        covered = alpha[patch_sl] >= 0.5
        if covered.sum() < 0.6 * (alpha >= 0.5).sum():
            continue
        hidden = np.bincount(owner[img_sl][covered], minlength=len(objects) + 1)[1:]
        if all(o["visible"] - hidden[i] >= _MIN_VISIBLE_FRACTION * o["full"] for i, o in enumerate(objects)):
            return img_sl, patch_sl, covered, hidden
    return None


EXTREME_POINTS = ("top", "bottom", "left", "right")


def extreme_points(covered: np.ndarray, y0: int, x0: int) -> list[tuple[float, float]]:
    """An object's extreme points (x, y) in image pixels, in EXTREME_POINTS' order: the middle of its topmost,
    bottommost, leftmost and rightmost run of pixels (pixel centers: + 0.5)."""
    ys, xs = np.nonzero(covered)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    points = [(np.median(xs[ys == top]), top), (np.median(xs[ys == bottom]), bottom),
              (left, np.median(ys[xs == left])), (right, np.median(ys[xs == right]))]
    return [(float(x0 + x + 0.5), float(y0 + y + 0.5)) for x, y in points]


def render_image(rng: np.random.Generator, classes: Sequence[str], h: int, w: int,
                  num_objects: int) -> tuple[np.ndarray, list[dict]]:
    """Renders one image; returns (uint8 HxWx3, objects with class index, bbox and visible area)."""
    canvas = Image.fromarray(_background(rng, h, w).astype(np.uint8))
    _clutter(rng, canvas)
    image = np.asarray(canvas, dtype=np.float32).copy()
    owner = np.zeros((h, w), dtype=np.int32)  # 1-based index of the object on top, 0 = none
    objects: list[dict] = []
    class_styles = styles(classes)
    for _ in range(num_objects):
        cls = int(rng.integers(len(classes)))
        lo, hi = list(_SIZE_BUCKETS.values())[rng.choice(len(_SIZE_BUCKETS), p=_SIZE_WEIGHTS)]
        alpha, rgb = _render_object(class_styles[classes[cls]], max(12.0, rng.uniform(lo, hi) * min(h, w)), rng)
        placed = _place(rng, alpha, objects, owner)
        if placed is None:
            continue
        img_sl, patch_sl, covered, hidden = placed
        for i, o in enumerate(objects):
            o["visible"] -= int(hidden[i])
        shadow = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2)),
                            dtype=np.float32) / 255.0
        shadow_region = _paste_region(h, w, img_sl[0].start - patch_sl[0].start + 2,
                                      img_sl[1].start - patch_sl[1].start + 2, *alpha.shape)
        if shadow_region is not None:
            image[shadow_region[0]] *= (1 - 0.4 * shadow[shadow_region[1]])[..., None]
        a = alpha[patch_sl][..., None]
        image[img_sl] = image[img_sl] * (1 - a) + rgb[patch_sl] * a
        owner[img_sl][covered] = len(objects) + 1
        ys, xs = np.nonzero(covered)
        bbox = [float(img_sl[1].start + xs.min()), float(img_sl[0].start + ys.min()),
                float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        objects.append({"class": cls, "bbox": bbox, "full": int(covered.sum()), "visible": int(covered.sum()),
                        "extremes": extreme_points(covered, img_sl[0].start, img_sl[1].start)})
    for index, o in enumerate(objects, start=1):
        o["extremes_visible"] = [bool(owner[min(int(y), h - 1), min(int(x), w - 1)] == index)
                                 for x, y in o["extremes"]]
    # Camera: exposure, sensor noise, a little blur now and then.
    image = image * rng.uniform(0.85, 1.15) + rng.normal(0, rng.uniform(1, 6), image.shape)
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        out = np.asarray(Image.fromarray(out).filter(ImageFilter.GaussianBlur(0.6)))
    return out, objects
