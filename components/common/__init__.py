"""Code shared by components and commands that is neither TFX nor TensorFlow."""
