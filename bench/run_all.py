"""Runs every benchmark in bench/ one after another (`make bench`).

Each benchmark measures ratios against a baseline run in the same process, so
the numbers stay meaningful on a shared, noisy machine. Pass a name to run one:
`python -m bench.run_all coco_eval`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def benchmark_names() -> list[str]:
    """Names of the bench_*.py modules, without the prefix, sorted."""
    return sorted(
        info.name[len("bench_"):]
        for info in pkgutil.iter_modules(bench.__path__)
        if info.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    """Runs the named benchmarks (all by default); returns non-zero if one failed."""
    names = (argv if argv is not None else sys.argv[1:]) or benchmark_names()
    failed = []
    for name in names:
        print(f"\n=== bench_{name} ===", flush=True)
        start = time.monotonic()
        module = importlib.import_module(f"bench.bench_{name}")
        try:
            module.main([])
        except Exception as error:  # a benchmark's failure must not hide the others' numbers
            print(f"bench_{name} failed: {error!r}", flush=True)
            failed.append(name)
        print(f"=== bench_{name}: {time.monotonic() - start:.0f} s ===", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
