"""Errors as values with a place: every user-facing problem names its file, line and field."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem in a user's file. `line`/`col` are 1-based; 0 means unknown."""

    file: str
    message: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.file:
            return self.message
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.col:
                where += f":{self.col}"
        return f"{where}: {self.message}"


class ProblemsError(Exception):
    """Raised with every problem found, so the CLI can print them all and exit 2."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            # Beam re-raises a worker's exception as type(exn)(message + " [while running 'step']"): the
            # message comes back as one problem without a place of its own (its text names the file).
            problems = [Problem("", problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):
        # Pickled with its problems, not its message: Beam re-raises a worker's exception from a pickle, and
        # Exception's default would hand the message string back as the list (printed a character a line).
        return (type(self), (self.problems,))


def problem(where: str, message: str, line: int = 0, col: int = 0) -> ProblemsError:
    """A ProblemsError holding one Problem (the one helper for a single error with a place)."""
    return ProblemsError([Problem(where, message, line, col)])


def read_user_file(path: str) -> str:
    """The UTF-8 text of a user's file; a missing or unreadable file raises ProblemsError."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ProblemsError([Problem(path, "no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ProblemsError([Problem(path, f"cannot read: {error}")]) from None
