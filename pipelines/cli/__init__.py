"""The `detflow` command: `main` parses the command line and runs the sub-command's handler.

Every handler lives in this package, one module per command (or pair of
commands), and calls the pipeline or the stage libraries; none is called from
below. Each sub-command names the module that runs it (`parser.py`); that
module is imported only when the command runs, so `detflow --help`,
`config check` and `label-map check` never import TensorFlow.
"""

from __future__ import annotations

import importlib
import os
import sys

from pipelines.cli.errors import print_problems
from pipelines.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `detflow` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "_handler", None)
    if handler is None:
        parser.print_help()
        return 2
    module_name, func_name = handler.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    from schemas.problems import ProblemsError

    try:
        return int(func(args) or 0)
    except ProblemsError as error:   # a bad input, named by file, line and field: one line each, exit 2
        return print_problems(error.problems)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `detflow lineage ... | head`: the reader is gone, which is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as error:  # a path the command could not read or write: one line, no trace
        where = f"{error.filename}: " if error.filename else ""
        print(f"detflow {args.command}: {where}{error.strerror or error}", file=sys.stderr)
        return 2
