"""Test-wide settings: quiet TensorFlow logs, deterministic hashing, the longest test files first."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

# Seconds each of the slowest files took in `make test` on a 2-core machine (pytest --durations=0,
# summed per file; 2026-12-07). `make test` hands whole files to two workers (--dist loadfile) in collection
# order (--no-loadscope-reorder): the longest first, so that no long file starts last while the
# other worker sits idle. A file not listed counts as short; the order only changes wall time.
SLOW_FILES = {
    "tests/schemas/test_honoured_fields.py": 366,
    "tests/detection/test_faster_rcnn_train.py": 297,
    "tests/realdata/test_bccd.py": 116,
    "tests/pipelines/test_e2e.py": 95,
    "tests/trainer/test_commands.py": 80,
    "tests/zoo/test_zoo_parity.py": 78,
    "tests/detection/test_tflite_export.py": 68,
    "tests/detection/test_train_loop.py": 68,
    "tests/zoo/test_od_api_interop.py": 61,
    "tests/zoo/test_zoo_restore.py": 54,
    "tests/pipelines/test_tflite_pipeline.py": 50,
    "tests/pipelines/test_demo.py": 48,
    "tests/detection/test_multi_replica.py": 48,
    "tests/zoo/test_zoo_faster_rcnn_pipeline.py": 46,
    "tests/zoo/test_zoo_train.py": 46,
    "tests/zoo/test_zoo_faster_rcnn.py": 45,
    "tests/trainer/test_trainer_resume.py": 42,
    "tests/detection/test_keras_weights.py": 24,
    "tests/example_gen/test_beam_io.py": 22,
    "tests/example_gen/test_component.py": 20,
    "tests/detection/test_export.py": 19,
    "tests/detection/test_models.py": 16,
    "tests/trainer/test_trainer_component.py": 15,
}


def pytest_collection_modifyitems(items):
    """Orders the collected tests by their file's measured time, longest first (stable within a file)."""
    def weight(item):
        return -SLOW_FILES.get(item.nodeid.split("::", 1)[0], 0)

    items.sort(key=weight)
