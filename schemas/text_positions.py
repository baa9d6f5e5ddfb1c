"""Where each field of a text-format protobuf sits: dotted path -> (line, col).

`scan(text, descriptor)` walks protobuf's own `text_format.Tokenizer` over the
text, following the message schema, and returns every field's position keyed by
its dotted path with repeated indices (`eval_input_reader[0].label_map_path`,
`model.ssd.anchor_generator.multiscale_anchor_generator.aspect_ratios[2]`).
On the way it records every unknown field name and every invalid enum value
(text_format stops at the first); a structural syntax error raises
`text_format.ParseError` with 1-based line and column.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from google.protobuf import descriptor as _descriptor
from google.protobuf import text_format

_ERROR_PREFIX = re.compile(r"^\d+:\d+ : (?:'.*?': )?")
BOM = "\ufeff"


@dataclasses.dataclass(frozen=True)
class ScanIssue:
    """An unknown field or an invalid enum value, at the token that names it."""

    path: str
    message: str
    line: int
    col: int


@dataclasses.dataclass
class Positions:
    """Field positions of one text proto, with lookups that fall back to the nearest parent."""

    by_path: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    issues: list[ScanIssue] = dataclasses.field(default_factory=list)

    def of(self, path: str) -> tuple[int, int]:
        """(line, col) of `path`, else of its nearest ancestor that was written; (0, 0) if none."""
        while path:
            if path in self.by_path:
                return self.by_path[path]
            if path.endswith("]"):
                path = path[: path.rindex("[")]
            else:
                path = path.rpartition(".")[0]
        return (0, 0)

    def path_at(self, line: int, col: int) -> str:
        """The last field written at or before (line, col); '' if none."""
        best, best_pos = "", (0, 0)
        for path, pos in self.by_path.items():
            if best_pos <= pos <= (line, col):
                best, best_pos = path, pos
        return best


def strip_bom(text: str) -> str:
    """`text` without a leading UTF-8 byte-order mark (Windows editors write one); lines and columns stay right."""
    return text[len(BOM):] if text.startswith(BOM) else text


def parse_error_message(error: text_format.ParseError) -> str:
    """The text of a ParseError without protobuf's 'LINE:COL : ' prefix."""
    return _ERROR_PREFIX.sub("", str(error))


def suggest(name: str, candidates) -> str:
    """' (did you mean "x"?)' for the closest candidate name, else ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def scan(text: str, descriptor: _descriptor.Descriptor) -> Positions:
    """Positions of every field in `text`, a text proto of message type `descriptor`."""
    tokenizer = text_format.Tokenizer(text.split("\n"))
    positions = Positions()
    _scan_message(tokenizer, descriptor, "", None, positions)
    return positions


def _here(tok: text_format.Tokenizer) -> tuple[int, int]:
    return tok._line + 1, tok._column + 1  # the Tokenizer keeps 0-based private counters


def _scan_message(tok, descriptor, path: str, end: str | None, out: Positions) -> None:
    counts: dict[str, int] = {}
    while True:
        if end is None and tok.AtEnd():
            return
        if end is not None and tok.TryConsume(end):
            return
        if tok.AtEnd():
            raise tok.ParseError(f'Expected "{end}".')
        line, col = _here(tok)
        if tok.TryConsume("["):  # extension or Any type URL: not part of this schema
            name = []
            while not tok.TryConsume("]"):
                if tok.AtEnd():
                    raise tok.ParseError('Expected "]".')
                name.append(tok.token)
                tok.NextToken()
            where = f"[{''.join(name)}]"
            out.issues.append(ScanIssue(f"{path}.{where}" if path else where,
                                        "extensions are not supported by detflow", line, col))
            _skip_value(tok)
            continue
        name = tok.ConsumeIdentifierOrNumber()
        field = descriptor.fields_by_name.get(name)
        if field is None:
            where = f"{path}.{name}" if path else name
            out.issues.append(ScanIssue(
                where, f'unknown field: {descriptor.name} has no field "{name}" in the TF OD API schema'
                       + suggest(name, descriptor.fields_by_name), line, col))
            _skip_value(tok)
        else:
            field_path = f"{path}.{name}" if path else name
            repeated = field.label == field.LABEL_REPEATED
            out.by_path.setdefault(field_path, (line, col))
            _scan_field(tok, field, field_path, repeated, counts, (line, col), out)
        if not tok.TryConsume(","):
            tok.TryConsume(";")


def _next_index(field_path: str, counts: dict[str, int]) -> str:
    index = counts.get(field_path, 0)
    counts[field_path] = index + 1
    return f"{field_path}[{index}]"


def _scan_field(tok, field, field_path, repeated, counts, where, out: Positions) -> None:
    is_message = field.type == field.TYPE_MESSAGE
    if is_message:
        tok.TryConsume(":")
    else:
        tok.Consume(":")
    values_in_list = tok.TryConsume("[")
    while True:
        if values_in_list and tok.TryConsume("]"):
            return
        item_path = _next_index(field_path, counts) if repeated else field_path
        value_pos = _here(tok)
        out.by_path[item_path] = where if not values_in_list else value_pos
        if is_message:
            close = "}" if tok.TryConsume("{") else ">"
            if close == ">":
                tok.Consume("<")
            _scan_message(tok, field.message_type, item_path, close, out)
        else:
            _scan_scalar(tok, field, item_path, out)
        if not values_in_list:
            return
        if not tok.TryConsume(","):
            tok.Consume("]")
            return


def _scan_scalar(tok, field, path: str, out: Positions) -> None:
    line, col = _here(tok)
    token = tok.token
    if field.type == field.TYPE_ENUM and not token.startswith(("'", '"', "-")):
        enum = field.enum_type
        known = token in enum.values_by_name or (token.isdigit() and int(token) in enum.values_by_number)
        if not known:
            valid = ", ".join(v.name for v in enum.values)
            out.issues.append(ScanIssue(
                path, f'invalid value "{token}" for {field.name} (enum {enum.name}; valid: {valid})'
                      + suggest(token, enum.values_by_name), line, col))
    if token == "-":
        tok.NextToken()
    tok.NextToken()
    while tok.token.startswith(("'", '"')) and token.startswith(("'", '"')):
        tok.NextToken()  # adjacent string literals concatenate


def _skip_value(tok) -> None:
    """Skips the value of an unknown field: a scalar, a {...}/<...> block or a [...] list."""
    tok.TryConsume(":")
    if tok.LookingAt("{") or tok.LookingAt("<") or tok.LookingAt("["):
        depth = 0
        while True:
            if tok.AtEnd():
                raise tok.ParseError("unbalanced brackets")
            if tok.token in ("{", "<", "["):
                depth += 1
            elif tok.token in ("}", ">", "]"):
                depth -= 1
            tok.NextToken()
            if depth == 0:
                return
    if tok.token == "-":
        tok.NextToken()
    if not tok.AtEnd():
        tok.NextToken()
