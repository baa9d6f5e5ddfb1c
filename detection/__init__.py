"""detflow's detection library: everything that knows TensorFlow and the OD API, nothing of TFX.

- `architectures/`: the plug-ins, one folder per meta-architecture family (`ssd/`, `faster_rcnn/`, `center_net/`),
  and `registry.py`, from a pipeline.config to its family (build, task, checkpoint map, exports);
- `networks/`: network parts the families share;
- `checkpoints/`: restore (plan and apply), fine-tune starts, Keras weights, network settings, freezing;
- `data/`: tf.Example decoding, resizing, augmentation and the tf.data input pipeline;
- `training/`: the loop, its settings and result, optimizers, schedules, batch-norm re-estimation;
- `serving/`: export (SavedModel, TFLite), the model runner used by predict and the Evaluator, and the
  model-health check;
- `visualize.py` (detections drawn, PR curves) and `outputs.py` (writable output paths).

The components (`components/`) call it; it calls `schemas/`, never a component.
"""
