"""Detector networks built from an OD API `pipeline.config`.

`factory.build_detector(proto)` is the entry point. The SSD families are the OD
API's own networks, layer for layer (see `ssd.py`); Faster R-CNN is built on
TF Model Garden (`faster_rcnn.py`).
"""
