"""Read an image safely, verify it decodes, and keep or losslessly re-encode its bytes.

Paths: a file name that is absolute or whose `..` leaves the image folder is
`unsafe_path`. Symbolic links are followed, but the file finally read must lie
inside the image folder's own resolved path: a link (to a file or a folder, at
any depth) that leads out of it is `outside_image_root`, and the outside file
is never opened. Only regular files are read (no devices, pipes or sockets).

JPEG and PNG bytes are kept exactly as they are. Any other format Pillow can
open (TIFF, BMP, WebP, GIF, ...) is re-encoded to PNG, which TensorFlow
decodes everywhere: modes PNG stores (1, L, LA, P, RGB, RGBA, I;16) are kept
bit for bit; others are converted to RGB(A) (CMYK, YCbCr, float), the only
lossy case. Only the first frame of an animation is kept.

EXIF orientation: TensorFlow decodes the stored pixels and ignores the EXIF
orientation tag, while viewers and most labelling tools show the image turned
upright. The boxes must be on the pixels the model gets, so for an image whose
tag is not 1 (normal) the annotated size decides which pixels the annotator saw:

- a 90-degree orientation (5-8) whose annotated size has the upright image's
  aspect ratio and not the stored one's: the pixels are turned upright (as
  viewers show them) and stored as lossless PNG; the boxes are read on them;
- one whose annotated size has the stored pixels' aspect ratio and not the
  upright one's: the stored bytes are kept as they are, boxes on them;
- anything else cannot be told apart (no annotated size, a square image, or
  a flip / 180-degree orientation, 2-4, which keeps the shape): the image is
  skipped as `exif_orientation`, naming the tag, rather than kept with boxes
  that may be on the wrong pixels. Saving the image upright fixes it.

Width and height are those of the pixels stored in the example.
"""

from __future__ import annotations

import dataclasses
import io
import os
import posixpath
import stat
from typing import Optional

from PIL import Image, ImageFile, ImageOps

from components.example_gen import records as R

_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}
_ORIENTATION_TAG = 0x0112
_ORIENTATIONS = {2: "mirrored", 3: "rotated 180 degrees", 4: "mirrored vertically",
                 5: "mirrored and rotated 90 degrees", 6: "rotated 90 degrees",
                 7: "mirrored and rotated 270 degrees", 8: "rotated 270 degrees"}
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_NOFOLLOW", 0))


@dataclasses.dataclass
class LoadedImage:
    """Image bytes ready for image/encoded, their format (b"jpeg"/b"png") and pixel size."""

    encoded: bytes
    format: bytes
    width: int
    height: int
    reencoded_from: Optional[str] = None
    applied_orientation: Optional[int] = None  # the EXIF orientation turned into the pixels


@dataclasses.dataclass
class ImageError:
    """Why an image cannot be used: a skip reason of records.IMAGE_REASONS and a detail."""

    reason: str
    detail: str


def sniff_format(data: bytes) -> Optional[str]:
    """Returns the image format named by the leading magic bytes, or None if unknown."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def safe_join(image_dir: str, file_name: str) -> Optional[str]:
    """Joins `file_name` to `image_dir`, or returns None if it is absolute or escapes it via `..`.

    The check is on the name as written; `resolve_inside` checks where
    symbolic links lead.
    """
    name = file_name.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":") or os.path.isabs(file_name):
        return None
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../") or normal == ".":
        return None
    return os.path.join(image_dir, *normal.split("/"))


def resolve_inside(image_dir: str, file_name: str):
    """(path as joined, resolved path) of `file_name` in `image_dir`, or ImageError.

    `unsafe_path` when the name is absolute or leaves the folder by `..`;
    `outside_image_root` when a symbolic link leads out of the folder's
    resolved path.
    """
    path = safe_join(image_dir, file_name)
    if path is None:
        return ImageError(R.UNSAFE_PATH, f"{file_name!r} is absolute or leaves the image folder")
    root, real = os.path.realpath(image_dir), os.path.realpath(path)
    try:
        inside = os.path.commonpath([root, real]) == root
    except ValueError:  # another drive
        inside = False
    if not inside:
        return ImageError(R.OUTSIDE_IMAGE_ROOT,
                          f"{path} leads through a symbolic link to {real}, outside the image folder {root}")
    return path, real


def _read(path: str, real: str):
    """The bytes of the regular file at `real` (named `path` in messages), or ImageError."""
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except FileNotFoundError:
        return ImageError(R.MISSING_FILE, f"{path} does not exist")
    except IsADirectoryError:
        return ImageError(R.NOT_AN_IMAGE, f"{path} is a folder")
    except OSError as e:
        return ImageError(R.MISSING_FILE, f"{path}: {e.strerror}")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            return ImageError(R.NOT_AN_IMAGE, f"{path} is a folder")
        return ImageError(R.NOT_AN_IMAGE, f"{path} is not a regular file (a device, pipe or socket)")
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read()
        except OSError as e:
            return ImageError(R.MISSING_FILE, f"{path}: {e.strerror}")


def _decode(data: bytes) -> Image.Image:
    """Fully decodes `data`; raises on truncated or corrupt data."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated images would pass")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _to_png(image: Image.Image) -> bytes:
    if image.mode not in _PNG_MODES:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=1)
    return out.getvalue()


def load_image(image_dir: str, file_name: str, annotated_size: Optional[tuple] = None):
    """Reads and verifies one image; returns LoadedImage, or ImageError with a skip reason.

    `annotated_size` (width, height), when the annotation gives one, settles
    an EXIF orientation (module docstring).
    """
    where = resolve_inside(image_dir, file_name)
    if isinstance(where, ImageError):
        return where
    path, real = where
    data = _read(path, real)
    if isinstance(data, ImageError):
        return data
    return verify_bytes(data, path, annotated_size)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag, 1 (normal) when absent, unknown or unreadable (as viewers do)."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a malformed EXIF block: Pillow raises many kinds; viewers ignore it
        return 1
    return value if value in _ORIENTATIONS else 1


def _same_shape(a: tuple, b: tuple) -> bool:
    """Whether sizes `a` and `b` (width, height) have the same aspect ratio, within 1%."""
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.01 * a[0] * b[1]


def orientation_frame(orientation: int, stored: tuple, annotated: Optional[tuple]) -> Optional[str]:
    """"stored" or "upright": the pixels an annotation of size `annotated` was drawn on; None if unknown.

    `stored` is the (width, height) of the pixels as stored; see the module
    docstring for the rule.
    """
    if orientation not in _ORIENTATIONS:
        return "stored"
    if orientation < 5 or not annotated or stored[0] == stored[1]:
        return None
    upright = (stored[1], stored[0])
    like_stored, like_upright = _same_shape(annotated, stored), _same_shape(annotated, upright)
    if like_upright and not like_stored:
        return "upright"
    if like_stored and not like_upright:
        return "stored"
    return None


def _unknown_frame(path: str, orientation: int, stored: tuple, annotated: Optional[tuple]) -> ImageError:
    w, h = stored
    if not annotated:
        why = "the annotation gives no image size"
    elif orientation < 5:
        why = "this orientation keeps the image's shape"
    elif w == h:
        why = "the image is square"
    else:
        why = (f"the annotated size {annotated[0]}x{annotated[1]} fits neither the stored "
               f"{w}x{h} nor the upright {h}x{w}")
    return ImageError(R.EXIF_ORIENTATION,
                      f"{path}: EXIF orientation {orientation} ({_ORIENTATIONS[orientation]}) and {why}, "
                      "so the boxes may be on the stored pixels or on the image as viewers show it; "
                      "save the image upright (e.g. exiftran -ai, mogrify -auto-orient)"
                      + ("" if annotated else " or give the annotated width and height"))


def verify_bytes(data: bytes, path: str, annotated_size: Optional[tuple] = None):
    """Verifies that `data` is a whole image; returns LoadedImage or ImageError (see load_image)."""
    kind = sniff_format(data)
    try:
        image = _decode(data)
    except Image.DecompressionBombError as e:
        return ImageError(R.CORRUPT_IMAGE, f"{path}: {e}")
    except Image.UnidentifiedImageError:
        if kind is None:
            return ImageError(R.NOT_AN_IMAGE, f"{path} is not an image file Pillow can read")
        return ImageError(R.CORRUPT_IMAGE, f"{path}: {kind} data Pillow cannot decode")
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        return ImageError(R.CORRUPT_IMAGE, f"{path}: {e}")
    source = (image.format or kind or "unknown").lower()
    orientation = _orientation(image)
    frame = orientation_frame(orientation, image.size, annotated_size)
    if frame is None:
        return _unknown_frame(path, orientation, image.size, annotated_size)
    applied = None
    if frame == "upright":
        try:
            image, applied = ImageOps.exif_transpose(image), orientation
        except (OSError, ValueError) as e:
            return ImageError(R.CORRUPT_IMAGE, f"{path}: cannot apply EXIF orientation {orientation}: {e}")
    elif kind in ("jpeg", "png") and (image.format or "").lower() == kind:
        return LoadedImage(data, kind.encode(), image.width, image.height)
    try:
        png = _to_png(image)
    except (OSError, ValueError) as e:
        return ImageError(R.CORRUPT_IMAGE, f"{path}: cannot re-encode {source} to PNG: {e}")
    return LoadedImage(png, b"png", image.width, image.height, reencoded_from=source,
                       applied_orientation=applied)
