"""EXIF orientation: the boxes end up on the pixels the example stores, or the image is a named skip."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.example_gen import records as R
from components.example_gen.convert import record_to_example
from schemas import example_format as K
from tests.example_gen.helpers import write

STORED = (40, 30)  # the pixels as stored in the file; orientation 6 shows them 30 wide, 40 high
BLOCK = (0, 0, 10, 5)  # a red block in the stored pixels: x0, y0, x1, y1
UPRIGHT_BLOCK = (25, 0, 30, 10)  # where viewers show it once turned 90 degrees clockwise


def exif_jpeg(orientation: int) -> bytes:
    """A real JPEG whose stored pixels are white with a red block, tagged with an EXIF orientation."""
    image = Image.new("RGB", STORED, (255, 255, 255))
    image.paste((255, 0, 0), BLOCK)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif)
    return out.getvalue()


def _convert(tmp_path, orientation, size, box):
    data = write(str(tmp_path / "phone.jpg"), exif_jpeg(orientation))
    x0, y0, x1, y1 = box
    record = R.ImageRecord("phone.jpg", "1", *(size or (None, None)), source="ann.json", locator="images[0]",
                           objects=[R.ObjectRecord("cat", x0, y0, x1, y1, locator="annotations[0]")])
    return data, record_to_example(record, str(tmp_path), {"cat": 1})


def _red_box(example) -> tuple:
    pixels = tf.io.decode_image(example.features.feature[K.IMAGE_ENCODED].bytes_list.value[0]).numpy()
    ys, xs = np.nonzero((pixels[..., 0] > 150) & (pixels[..., 1] < 100))
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("size, scale", [((30, 40), 1), ((60, 80), 2)])  # as shown, or resized as shown
def test_annotated_as_viewers_show_it_the_pixels_are_turned_upright(tmp_path, size, scale):
    box = tuple(v * scale for v in UPRIGHT_BLOCK)
    _, result = _convert(tmp_path, 6, size, box)
    assert [p.reason for p in result.problems] == ([] if scale == 1 else [R.SIZE_MISMATCH])
    f = result.example.features.feature
    assert f[K.IMAGE_FORMAT].bytes_list.value == [b"png"]  # turned pixels, stored losslessly
    stored = Image.open(io.BytesIO(f[K.IMAGE_ENCODED].bytes_list.value[0]))
    assert stored.getexif().get(0x0112) is None, "no tag left to turn it a second time"
    assert (f[K.WIDTH].int64_list.value, f[K.HEIGHT].int64_list.value) == ([30], [40])
    assert _red_box(result.example) == UPRIGHT_BLOCK  # what TensorFlow decodes is upright...
    corners = [f[k].float_list.value[0] for k in (K.BBOX_XMIN, K.BBOX_YMIN, K.BBOX_XMAX, K.BBOX_YMAX)]
    assert corners == pytest.approx([25 / 30, 0, 1, 10 / 40])  # ...and the box is on the block


def test_annotated_on_the_stored_pixels_the_bytes_are_kept(tmp_path):
    data, result = _convert(tmp_path, 6, STORED, BLOCK)
    assert result.problems == []
    f = result.example.features.feature
    assert f[K.IMAGE_ENCODED].bytes_list.value == [open(data, "rb").read()]
    assert (f[K.WIDTH].int64_list.value, f[K.HEIGHT].int64_list.value) == ([40], [30])
    assert _red_box(result.example) == BLOCK


@pytest.mark.parametrize("orientation, size, why", [
    (6, None, "the annotation gives no image size"),
    (3, STORED, "this orientation keeps the image's shape"),
    (8, (50, 50), "fits neither the stored 40x30 nor the upright 30x40"),
])
def test_an_orientation_the_annotation_cannot_settle_is_a_named_skip(tmp_path, orientation, size, why):
    _, result = _convert(tmp_path, orientation, size, BLOCK)
    assert result.example is None
    (problem,) = result.problems
    assert (problem.kind, problem.reason, problem.file) == ("image", R.EXIF_ORIENTATION, "phone.jpg")
    assert f"EXIF orientation {orientation} (" in problem.detail and why in problem.detail
    assert "save the image upright" in problem.detail
