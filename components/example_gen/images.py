"""Read an image safely, verify it decodes, and keep or losslessly re-encode its bytes.

JPEG and PNG bytes are kept exactly as they are. Any other format Pillow can
open (TIFF, BMP, WebP, GIF, ...) is re-encoded to PNG, which TensorFlow
decodes everywhere: modes PNG stores (1, L, LA, P, RGB, RGBA, I;16) are kept
bit for bit; others are converted to RGB(A) (CMYK, YCbCr, float), the only
lossy case. Only the first frame of an animation is kept. Width and height
are those of the stored pixels; EXIF orientation is not applied (as in the OD
API's converters, the annotation is assumed to be on the raw pixels).
"""

from __future__ import annotations

import dataclasses
import io
import os
import posixpath
from typing import Optional

from PIL import Image, ImageFile

from components.example_gen import records as R

_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}


@dataclasses.dataclass
class LoadedImage:
    """Image bytes ready for image/encoded, their format (b"jpeg"/b"png") and pixel size."""

    encoded: bytes
    format: bytes
    width: int
    height: int
    reencoded_from: Optional[str] = None


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

    The check is on the name as written (symbolic links inside the folder are
    the user's choice and are followed).
    """
    name = file_name.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":") or os.path.isabs(file_name):
        return None
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../") or normal == ".":
        return None
    return os.path.join(image_dir, *normal.split("/"))


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


def load_image(image_dir: str, file_name: str):
    """Reads and verifies one image; returns LoadedImage, or ImageError with a skip reason."""
    path = safe_join(image_dir, file_name)
    if path is None:
        return ImageError(R.UNSAFE_PATH, f"{file_name!r} is absolute or leaves the image folder")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return ImageError(R.MISSING_FILE, f"{path} does not exist")
    except IsADirectoryError:
        return ImageError(R.NOT_AN_IMAGE, f"{path} is a folder")
    except OSError as e:
        return ImageError(R.MISSING_FILE, f"{path}: {e.strerror}")
    return verify_bytes(data, path)


def verify_bytes(data: bytes, path: str):
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
    width, height = image.size
    if kind in ("jpeg", "png") and (image.format or "").lower() == kind:
        return LoadedImage(data, kind.encode(), width, height)
    try:
        png = _to_png(image)
    except (OSError, ValueError) as e:
        return ImageError(R.CORRUPT_IMAGE, f"{path}: cannot re-encode {image.format} to PNG: {e}")
    return LoadedImage(png, b"png", width, height, reencoded_from=(image.format or kind or "unknown").lower())
