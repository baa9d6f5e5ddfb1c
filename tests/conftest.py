"""Test-wide settings: quiet TensorFlow logs, deterministic hashing, the longest test files first."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

# Seconds each of the slowest files took in `make test` on a 2-core machine (pytest --durations=0,
# summed per file; 2026-12-07). `make test` hands whole files to two workers (--dist loadfile) in collection
# order (--no-loadscope-reorder): the longest first, so that no long file starts last while the
# other worker sits idle. A file not listed counts as short; the order only changes wall time.
SLOW_FILES = {
    "tests/schemas/test_honoured_fields.py": 425,
    "tests/detection/test_center_net_keypoints_train.py": 300,
    "tests/detection/test_faster_rcnn_train.py": 297,
    "tests/realdata/test_bccd.py": 110,
    "tests/detection/test_efficientdet_train.py": 110,
    "tests/zoo/test_zoo_train.py": 89,
    "tests/pipelines/test_e2e.py": 88,
    "tests/trainer/test_commands.py": 81,
    "tests/zoo/test_zoo_parity.py": 74,
    "tests/detection/test_tflite_export.py": 68,
    "tests/zoo/test_od_api_interop.py": 60,
    "tests/detection/test_train_loop.py": 58,
    "tests/zoo/test_zoo_faster_rcnn.py": 49,
    "tests/pipelines/test_tflite_pipeline.py": 45,
    "tests/detection/test_multi_replica.py": 44,
    "tests/zoo/test_zoo_faster_rcnn_pipeline.py": 42,
    "tests/trainer/test_trainer_resume.py": 41,
    "tests/pipelines/test_demo.py": 41,
    "tests/zoo/test_zoo_restore.py": 30,
    "tests/zoo/test_zoo_center_net_keypoints.py": 25,
    "tests/zoo/test_zoo_center_net_keypoints_pipeline.py": 70,
    "tests/zoo/test_zoo_train_step.py": 26,
    "tests/example_gen/test_beam_io.py": 24,
    "tests/detection/test_keras_weights.py": 23,
    "tests/detection/test_export.py": 19,
    "tests/example_gen/test_component.py": 18,
    "tests/trainer/test_trainer_component.py": 14,
    "tests/detection/test_models.py": 14,
    "tests/detection/test_predict.py": 12,
}


def pytest_collection_modifyitems(items):
    """Orders the collected tests by their file's measured time, longest first (stable within a file)."""
    def weight(item):
        return -SLOW_FILES.get(item.nodeid.split("::", 1)[0], 0)

    items.sort(key=weight)
