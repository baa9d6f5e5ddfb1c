"""Tiny fixtures for the ExampleGen tests: images made with PIL, annotations in each format."""

from __future__ import annotations

import io
import json
import os

from PIL import Image

W, H = 40, 30  # every test image is this small


def image_bytes(fmt: str = "JPEG", size=(W, H), color=(200, 30, 30), mode="RGB") -> bytes:
    """Encodes a small image with a pattern (so decoders have something to check)."""
    img = Image.new(mode, size, color if mode == "RGB" else 128)
    img.putpixel((1, 1), (0, 255, 0) if mode == "RGB" else 7)
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def write(path: str, data) -> str:
    """Writes bytes or text to `path`, making folders; returns the path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def write_label_map(path: str, names=("cat", "dog")) -> str:
    """A StringIntLabelMap text proto with ids 1..n."""
    return write(path, "".join(f"item {{ id: {i} name: '{n}' }}\n" for i, n in enumerate(names, 1)))


def coco(images, annotations, categories=(("cat", 1), ("dog", 2))) -> str:
    """COCO instances JSON text. images: [(id, file_name, w, h)]; annotations: [(image_id, cat_id, bbox)]."""
    return json.dumps({
        "info": {"description": "test"},
        "images": [{"id": i, "file_name": f, "width": w, "height": h} for i, f, w, h in images],
        "annotations": [{"id": k + 1, "image_id": im, "category_id": c, "bbox": list(b),
                         "area": float(b[2] * b[3]), "iscrowd": 0}
                        for k, (im, c, b) in enumerate(annotations)],
        "categories": [{"id": i, "name": n, "supercategory": "x"} for n, i in categories],
    })


def voc_xml(file_name: str, objects, size=(W, H)) -> str:
    """A Pascal VOC annotation. objects: [(name, xmin, ymin, xmax, ymax, difficult)]."""
    objs = "".join(
        f"<object><name>{n}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>{d}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for n, x0, y0, x1, y1, d in objects)
    return (f"<annotation><folder>images</folder><filename>{file_name}</filename>"
            f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
            f"{objs}</annotation>")


def make_dataset(root: str, n: int = 6, fmt: str = "coco", prefix: str = "img") -> dict:
    """n good JPEG images with one 'cat' box each, annotations in `fmt`; returns the paths."""
    names = [f"{prefix}{i:03d}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        write(os.path.join(root, "images", name), image_bytes(color=(10 * i % 255, 40, 90)))
    label_map = write_label_map(os.path.join(root, "label_map.pbtxt"))
    if fmt == "coco":
        ann = write(os.path.join(root, "annotations.json"),
                    coco([(i + 1, nm, W, H) for i, nm in enumerate(names)],
                         [(i + 1, 1, (2, 3, 10, 8)) for i in range(n)]))
    elif fmt == "voc":
        for nm in names:
            write(os.path.join(root, "Annotations", nm.replace(".jpg", ".xml")),
                  voc_xml(nm, [("cat", 2, 3, 12, 11, 0)]))
        ann = os.path.join(root, "Annotations")
    else:
        ann = write(os.path.join(root, "annotations.csv"),
                    "filename,xmin,ymin,xmax,ymax,class\n"
                    + "".join(f"{nm},2,3,12,11,cat\n" for nm in names))
    return {"annotations": ann, "images": os.path.join(root, "images"), "label_map": label_map,
            "names": names}


def annotate_more(data: dict, fmt: str, names) -> None:
    """Adds file names (one 'cat' box each, size W x H) to a make_dataset dataset's annotations."""
    if fmt == "coco":
        doc = json.loads(open(data["annotations"]).read())
        for k, name in enumerate(names):
            doc["images"].append({"id": 1000 + k, "file_name": name, "width": W, "height": H})
            doc["annotations"].append({"id": 1000 + k, "image_id": 1000 + k, "category_id": 1,
                                       "bbox": [2, 3, 10, 8], "area": 80.0, "iscrowd": 0})
        write(data["annotations"], json.dumps(doc))
    elif fmt == "voc":
        for k, name in enumerate(names):
            write(os.path.join(data["annotations"], f"more{k:03d}.xml"), voc_xml(name, [("cat", 2, 3, 12, 11, 0)]))
    else:
        with open(data["annotations"], "a") as f:
            f.write("".join(f"{name},2,3,12,11,cat\n" for name in names))


def run_convert(data: dict, out, fmt: str = "coco", *extra) -> int:
    """`detflow convert` on a make_dataset dataset into `out`; returns the exit code."""
    from pipelines.cli import main

    return main(["convert", "--format", fmt, "--annotations", data["annotations"],
                 "--images", data["images"], "--label-map", data["label_map"], "--out", str(out), *extra])


def read_examples(out, split: str) -> list:
    """The tf.train.Examples of OUT/Split-<split>/ (gzipped TFRecords)."""
    import glob

    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(str(out), f"Split-{split}", "*.gz")))
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
