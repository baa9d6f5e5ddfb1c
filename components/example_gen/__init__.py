"""The image ExampleGen: images + COCO / VOC / CSV annotations -> OD API tf.Examples.

Library (no TFX): readers/ (streaming annotation readers), images.py (safe
read, verify, PNG re-encode), convert.py (record_to_example, the one
conversion path), split.py (TFX's own hash split), report.py, local_convert.py
(the stand-alone streaming loop of `detflow convert`), beam_io.py (the Beam transforms).
TFX: component.py (ImageExampleGen), executor.py, driver.py (fingerprint that
covers the images), layout.py (where a span's annotations and images are).
"""
