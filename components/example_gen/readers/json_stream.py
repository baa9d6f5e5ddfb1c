"""What ijson (yajl) lacks for user JSON: Python's NaN / Infinity, and the place of a syntax error.

Python's `json.dump` writes a non-finite float as the bare token `NaN`,
`Infinity` or `-Infinity`, which `json.load` (and so pycocotools) reads back
but yajl rejects. `NonFiniteTokens` wraps a file and turns each such token
outside a string into a JSON string (`"NaN"`), which `values.to_float` reads
as the float it stood for; everything else passes unchanged.

yajl's errors carry no position. `locate_error` finds it: one streaming pass
in 64 KiB pieces finds the piece where the parser fails, a second feeds that
piece byte by byte. The place is the start of the offending token (yajl
notices some errors only at the byte after it), as line and column.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import Optional

import ijson

CHUNK = 1 << 16
_TOKENS = (b"NaN", b"Infinity", b"-Infinity")
# Outside strings, everything up to a bare N, I, a "-I", or a string that does not end in the buffer.
_RUN = re.compile(rb'(?:[^"NI-]+|-(?=[^I])|"[^"\\]*(?:\\.[^"\\]*)*")*', re.S)
_STRING_TAIL = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)
_TOKEN_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-")


class NonFiniteTokens:
    """A binary file whose bare NaN / Infinity / -Infinity tokens read as JSON strings.

    With `record`, `replacements` lists (offset in the output, output length)
    of every token turned into a string, so output offsets map back to the file's.
    """

    def __init__(self, f, record: bool = False):
        self._f = f
        self._carry = b""
        self._in_string = False
        self._emitted = 0
        self.replacements = [] if record else None

    def read(self, size: int = CHUNK) -> bytes:
        """Up to about `size` bytes of translated JSON; b"" only at the end of the file."""
        size = CHUNK if size is None or size < 0 else size
        while True:
            data = self._f.read(size)
            if not data:
                out, self._carry = self._carry, b""
                break
            out = self._translate(self._carry + data)
            if out:
                break
        self._emitted += len(out)
        return out

    def _translate(self, buf: bytes) -> bytes:
        out, size, pos, start, n = [], 0, 0, 0, len(buf)
        while pos < n:
            if self._in_string:
                pos = _STRING_TAIL.match(buf, pos).end()
                if pos == n or buf[pos] != 0x22:  # the end, or a backslash whose byte is still to come
                    break
                pos, self._in_string = pos + 1, False
                continue
            pos = _RUN.match(buf, pos).end()
            if pos == n:
                break
            if buf[pos] == 0x22:  # a string that goes on in the next buffer
                pos, self._in_string = pos + 1, True
                continue
            token = next((t for t in _TOKENS if buf.startswith(t, pos)), None)
            if token is not None:
                out.append(buf[start:pos])
                size += pos - start
                if self.replacements is not None:
                    self.replacements.append((self._emitted + size, len(token) + 2))
                out.append(b'"' + token + b'"')
                size += len(token) + 2
                pos = start = pos + len(token)
            elif any(t.startswith(buf[pos:]) for t in _TOKENS):
                break  # a token cut by the end of the buffer
            else:
                pos += 1  # a stray N, I or -: left for the parser to reject
        out.append(buf[start:pos])
        self._carry = buf[pos:]
        return b"".join(out)

    def original_offset(self, offset: int) -> int:
        """The file offset of output offset `offset` (a token's start when inside a replaced token)."""
        shift = 0
        for at, length in self.replacements:
            if offset < at:
                break
            if offset < at + length:
                return at - shift
            shift += 2
        return offset - shift


@contextlib.contextmanager
def open_json(path: str, nonfinite: bool = False, record: bool = False):
    """Opens `path` for ijson: the file itself, or wrapped in NonFiniteTokens when `nonfinite`."""
    with open(path, "rb") as f:
        yield NonFiniteTokens(f, record) if nonfinite else f


@dataclasses.dataclass(frozen=True)
class JsonErrorAt:
    """A JSON syntax error: byte offset in the file, 1-based line and column, yajl's message."""

    offset: int
    line: int
    col: int
    message: str
    token: bytes  # the file's bytes at `offset` (a few), to recognise NaN and the like


class _Sink:
    def send(self, value):
        pass


def _message(error: Exception) -> str:
    """The first line of yajl's message (which is sometimes bytes), without its closing period."""
    text = error.args[0] if error.args else str(error)
    text = (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)).strip()
    return text.splitlines()[0].rstrip(".") if text else "syntax error"


def _failing_piece(path: str, nonfinite: bool) -> Optional[int]:
    """Index of the piece on which yajl fails (the piece count when only the end fails); None if none."""
    with open_json(path, nonfinite) as f:
        parser = ijson.basic_parse_coro(_Sink())
        index = 0
        while True:
            data = f.read(CHUNK)
            if not data:
                break
            try:
                parser.send(data)
            except ijson.JSONError:
                return index
            index += 1
        try:
            parser.close()
        except ijson.JSONError:
            return index
    return None


def _token_start(window: bytes, at: int, message: str) -> int:
    """The start of the token yajl failed on, when it noticed only at the byte after it."""
    if at >= len(window) or message.startswith("lexical error: invalid char") or "UTF8" in message:
        return at
    if message.startswith("parse error") and window[at] == 0x22:  # a string just closed: back to its quote
        i = at - 1
        while i >= 0:
            if window[i] == 0x22:
                backslashes = len(window[:i]) - len(window[:i].rstrip(b"\\"))
                if backslashes % 2 == 0:
                    return i
            i -= 1
        return at
    start = at
    while start > 0 and window[start - 1] in _TOKEN_CHARS:
        start -= 1
    return start


def _line_col(path: str, offset: int) -> tuple[int, int]:
    line, last_line = 1, b""
    with open(path, "rb") as f:
        left = offset
        while left > 0:
            data = f.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            newlines = data.count(b"\n")
            if newlines:
                line += newlines
                last_line = data[data.rindex(b"\n") + 1:]
            else:
                last_line += data
    return line, len(last_line.decode("utf-8", "replace")) + 1


def locate_error(path: str, nonfinite: bool = False) -> Optional[JsonErrorAt]:
    """Where yajl first fails on the JSON file `path` (read through NonFiniteTokens when `nonfinite`).

    Returns None when the whole file parses.
    """
    failing = _failing_piece(path, nonfinite)
    if failing is None:
        return None
    with open_json(path, nonfinite, record=True) as f:
        parser = ijson.basic_parse_coro(_Sink())
        offset, previous, found = 0, b"", None
        for _ in range(failing):
            data = f.read(CHUNK)
            parser.send(data)
            offset, previous = offset + len(data), data
        data = f.read(CHUNK)
        for j in range(len(data)):
            try:
                parser.send(data[j:j + 1])
            except ijson.JSONError as e:
                found = (j, _message(e))
                break
        if found is None:
            try:
                parser.close()
                found = (len(data), "parse error: premature EOF")
            except ijson.JSONError as e:
                found = (len(data), _message(e))
        window = previous + data
        start = _token_start(window, len(previous) + found[0], found[1])
        at = offset - len(previous) + start
        if nonfinite:
            at = f.original_offset(at)
    with open(path, "rb") as raw:
        raw.seek(at)
        token = raw.read(len(max(_TOKENS, key=len)))
    line, col = _line_col(path, at)
    return JsonErrorAt(at, line, col, found[1], token)


def is_nonfinite(error: Optional[JsonErrorAt]) -> bool:
    """Whether yajl stopped at a bare NaN / Infinity / -Infinity token (Python's json writes them)."""
    return error is not None and any(error.token.startswith(t) for t in _TOKENS)
