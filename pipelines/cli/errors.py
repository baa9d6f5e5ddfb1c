"""How every `detflow` command reports what went wrong: one line per problem, an exit code, no stack trace.

Exit codes: 0 success, 1 the work failed (a node, a training run, an image that
could not be read), 2 a user error (missing file, bad config, root locked).
"""

from __future__ import annotations

import functools
import os
import sys


class UserError(Exception):
    """A problem with what the user asked for: printed as is, exit 2."""


def print_problems(problems, prefix: str = "error: ") -> int:
    """Prints each problem (FILE:LINE:COL: message) on stderr; returns 2, the user-error exit code."""
    for problem in problems:
        print(f"{prefix}{problem}", file=sys.stderr)
    return 2


def quiet() -> None:
    """Keeps TensorFlow / TFX / Beam chatter off the terminal; errors stay, node failures are reported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("apache_beam").setLevel(logging.ERROR)


def exit_on_user_error(func):
    """Decorates a pipeline command: quiet() first; a user error is one line on stderr and exit 2."""
    @functools.wraps(func)
    def wrapper(args) -> int:
        quiet()
        try:
            return func(args)
        except UserError as exc:
            print(f"detflow {args.command}: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # ProblemsError, missing files, a held lock
            from pipelines.metadata.lineage import LineageError
            from pipelines.lock import RunLockedError
            from schemas.problems import ProblemsError

            if isinstance(exc, (ProblemsError, FileNotFoundError, RunLockedError, LineageError)):
                print(f"detflow {args.command}: {exc}", file=sys.stderr)
                return 2
            raise
    return wrapper
