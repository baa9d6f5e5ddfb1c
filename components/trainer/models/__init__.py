"""Detector networks built from an OD API `pipeline.config`.

`factory.build_detector(proto)` is the entry point. The SSD families (`ssd.py`)
and Faster R-CNN (`faster_rcnn_od.py`, trained by `faster_rcnn_train.py`) are
the OD API's own networks, layer for layer.
"""
