"""The one entry point from a pipeline.config to a network: `build_detector`."""

from __future__ import annotations

import tensorflow as tf

from components.trainer.models.spec import DetectorBundle, config_problem


@tf.autograph.experimental.do_not_convert
def build_detector(pipeline_proto) -> DetectorBundle:
    """Builds the detector `pipeline_proto.model` describes (a TrainEvalPipelineConfig).

    `model.ssd` → the OD API's SSD networks (`ssd.build_ssd`); `model.faster_rcnn`
    → the OD API's Faster R-CNN (`faster_rcnn_od.build_faster_rcnn`). Raises
    ProblemsError naming the field for anything not supported. Built with
    AutoGraph off: tf_keras converts every layer's `call` while it builds,
    which took 9/10 of a build; these layers have no data-dependent Python
    control flow, so the model is the same.
    """
    kind = pipeline_proto.model.WhichOneof("model")
    if kind == "ssd":
        from components.trainer.models import ssd  # pylint: disable=import-outside-toplevel
        return ssd.build_ssd(pipeline_proto)
    if kind == "faster_rcnn":
        from components.trainer.models import faster_rcnn_od  # pylint: disable=import-outside-toplevel
        return faster_rcnn_od.build_faster_rcnn(pipeline_proto)
    raise config_problem("model", f"{kind or 'no model'} is not supported (use ssd or faster_rcnn)")
