"""Test-wide settings: quiet TensorFlow logs, deterministic hashing."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")
