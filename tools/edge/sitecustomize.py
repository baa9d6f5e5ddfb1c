"""Loads the libusb-1.0 of the libusb-package wheel, so tflite-support's native code finds it by soname."""
import ctypes
import importlib.util
import os

_spec = importlib.util.find_spec("libusb_package")  # located, not imported: its __init__ needs more packages
if _spec and _spec.submodule_search_locations:
    try:
        ctypes.CDLL(os.path.join(_spec.submodule_search_locations[0], "libusb-1.0.so"), mode=ctypes.RTLD_GLOBAL)
    except OSError:
        pass
