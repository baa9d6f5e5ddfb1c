"""Test-wide settings: quiet TensorFlow logs, deterministic hashing, the longest test files first."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

# Seconds each of the slowest files took in `make test` on a 2-core machine (pytest --durations=0,
# summed per file). `make test` hands whole files to two workers (--dist loadfile) in collection
# order (--no-loadscope-reorder): the longest first, so that no long file starts last while the
# other worker sits idle. A file not listed counts as short; the order only changes wall time.
SLOW_FILES = {}


def pytest_collection_modifyitems(items):
    """Orders the collected tests by their file's measured time, longest first (stable within a file)."""
    def weight(item):
        return -SLOW_FILES.get(item.nodeid.split("::", 1)[0], 0)

    items.sort(key=weight)
