"""Network parts shared by the architecture families: anchors, box predictors, feature-map layers,
hyperparams, Keras backbones as the OD API overrides them, post-processing, and `spec` (what the rest
of the library knows of a built detector). The families themselves are in `detection/architectures/`.
"""
