"""images.py: safe paths, format by content, full decode, lossless PNG re-encode."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.example_gen import images
from components.example_gen import records as R
from tests.example_gen.helpers import image_bytes, write


def test_unsafe_paths_are_rejected(tmp_path):
    assert images.safe_join(str(tmp_path), "/etc/passwd") is None
    assert images.safe_join(str(tmp_path), "../secret.jpg") is None
    assert images.safe_join(str(tmp_path), "a/../../secret.jpg") is None
    assert images.safe_join(str(tmp_path), "C:\\x.jpg") is None
    assert images.safe_join(str(tmp_path), "sub/./a.jpg") == str(tmp_path / "sub" / "a.jpg")
    loaded = images.load_image(str(tmp_path), "../x.jpg")
    assert loaded.reason == R.UNSAFE_PATH


def test_jpeg_and_png_bytes_are_kept_as_they_are(tmp_path):
    for fmt, name in (("JPEG", "a.jpg"), ("PNG", "a.png")):
        data = image_bytes(fmt)
        write(str(tmp_path / name), data)
        loaded = images.load_image(str(tmp_path), name)
        assert loaded.encoded == data
        assert loaded.format == fmt.lower().encode()
        assert (loaded.width, loaded.height) == (40, 30)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP", "GIF"])
def test_other_formats_become_lossless_png_that_tensorflow_decodes(tmp_path, fmt):
    kwargs = {"lossless": True} if fmt == "WEBP" else {}
    src = Image.new("RGB", (40, 30), (12, 200, 77))
    src.putpixel((3, 4), (255, 0, 9))
    out = io.BytesIO()
    src.save(out, format=fmt, **kwargs)
    write(str(tmp_path / "x.img"), out.getvalue())  # the extension lies; content decides
    loaded = images.load_image(str(tmp_path), "x.img")
    assert loaded.format == b"png" and loaded.reencoded_from == fmt.lower()
    decoded = tf.io.decode_image(loaded.encoded, channels=3).numpy()
    expected = np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))
    np.testing.assert_array_equal(decoded, expected)
    assert decoded.shape == (30, 40, 3)


def test_truncated_jpeg_is_corrupt(tmp_path):
    data = image_bytes("JPEG", size=(64, 64))
    write(str(tmp_path / "t.jpg"), data[: len(data) // 2])
    assert images.load_image(str(tmp_path), "t.jpg").reason == R.CORRUPT_IMAGE


def test_truncated_png_is_corrupt(tmp_path):
    data = image_bytes("PNG", size=(64, 64))
    write(str(tmp_path / "t.png"), data[:-30])
    assert images.load_image(str(tmp_path), "t.png").reason == R.CORRUPT_IMAGE


def test_missing_file_and_non_image(tmp_path):
    assert images.load_image(str(tmp_path), "none.jpg").reason == R.MISSING_FILE
    write(str(tmp_path / "notes.jpg"), b"just some text, not a picture")
    assert images.load_image(str(tmp_path), "notes.jpg").reason == R.NOT_AN_IMAGE
    (tmp_path / "folder.jpg").mkdir()
    assert images.load_image(str(tmp_path), "folder.jpg").reason == R.NOT_AN_IMAGE


def test_the_resolved_path_must_stay_in_the_resolved_image_folder(tmp_path):
    root, outside = tmp_path / "images", tmp_path / "outside"
    write(str(outside / "secret.png"), image_bytes("PNG"))
    good = write(str(root / "good.jpg"), image_bytes())
    (root / "sub").mkdir()
    os.symlink("../outside/secret.png", root / "secret.png")
    os.symlink("secret.png", root / "chain.png")            # a link to a link that leaves
    os.symlink(outside, root / "dirlink")
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink("../good.jpg", root / "sub" / "inside.jpg")   # links that stay inside keep working
    os.symlink("sub", root / "sublink")
    for name in ("secret.png", "chain.png", "dirlink/secret.png", "passwd", "sub/../secret.png"):
        error = images.load_image(str(root), name)
        assert error.reason == R.OUTSIDE_IMAGE_ROOT, name
        assert "outside the image folder" in error.detail
    for name in ("sub/inside.jpg", "sublink/inside.jpg"):
        assert images.load_image(str(root), name).encoded == open(good, "rb").read()
    alias = tmp_path / "alias"  # the image folder itself may be a link
    os.symlink(root, alias)
    assert images.load_image(str(alias), "good.jpg").width == 40
    assert images.load_image(str(alias), "secret.png").reason == R.OUTSIDE_IMAGE_ROOT
    assert images.load_image(str(root), "../outside/secret.png").reason == R.UNSAFE_PATH


def test_only_regular_files_are_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it for reading would wait for a writer
    error = images.load_image(str(tmp_path), "pipe.jpg")
    assert error.reason == R.NOT_AN_IMAGE and "not a regular file" in error.detail
    os.symlink("loop.jpg", tmp_path / "loop.jpg")
    assert images.load_image(str(tmp_path), "loop.jpg").reason == R.MISSING_FILE
