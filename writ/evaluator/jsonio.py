"""JSON text in, Python values out, within limits: the one reader of facts, request bodies, records and populations.

Facts come from outside, so reading them is where hostile input starts: a
file that is not UTF-8, a document nested a hundred thousand deep (Python's
`json` overflows its stack), an integer of five thousand digits (Python
refuses to convert it), a lone surrogate such as `"\\ud800"` (valid JSON
escape, but not a character: it breaks every writer downstream). Each is
refused here with an `InputError` naming what and where, before any other
code sees the value.

orjson reads first: it is several times faster and itself refuses invalid
UTF-8, lone surrogates and nesting past 1,024 levels. Only when it refuses,
the standard library reads the text again to say exactly why (orjson's
messages are terse). orjson reads integers beyond 64 bits as floats, which
would silently change them; `read` re-reads such documents exactly, and a
caller that keeps orjson's value for speed (`writ batch`) re-reads only the
cases that failed (see `read_exact_again`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from writ.dsl.errors import InputError, InputProblem

MAX_BYTES = 16 * 1024 * 1024
"""The largest JSON document read (a facts file, a request body has its own limit): 16 MiB."""
MAX_DEPTH = 100
"""The deepest nesting of arrays and objects; facts need fewer than ten levels."""
MAX_INT_DIGITS = 4300
"""The longest integer literal (Python's own limit on converting integers from text)."""

_LONG_INT = re.compile(rb"[0-9]{19}")  # orjson reads integers past 64 bits (19+ digits) as floats
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_HUGE_INT = re.compile("-?[0-9]{" + str(MAX_INT_DIGITS + 1) + ",}")
_BOM = b"\xef\xbb\xbf"


def problem(message: str, path: str = "") -> InputError:
    return InputError([InputProblem(path, message)])


LONE_SURROGATE = ("contains a lone surrogate (an escape such as \\ud800 without its pair), which is not a "
                  "character; write the character itself or a valid surrogate pair")


def read(data: bytes | str, limit: int = MAX_BYTES, allow_surrogates: bool = False) -> Any:
    """One JSON document, exactly as written; `InputError` for anything that is not plain, bounded JSON.

    A leading UTF-8 byte-order mark is ignored (editors on Windows write one). `allow_surrogates` lets lone
    surrogates through, for a caller that refuses them piece by piece (the service, case by case).
    """
    if isinstance(data, str):
        text: str = data
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            if not allow_surrogates:
                raise problem(f"contains a lone surrogate (\\u{ord(exc.object[exc.start]):04x}) at character "
                              f"{exc.start}, which is not a character") from None
            data = text.encode("utf-8", "surrogatepass")  # orjson refuses it; the slow route decodes it back
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if len(data) > limit:
        raise problem(f"the document is {len(data):,} bytes, more than the limit of {limit:,}")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _diagnose(data, allow_surrogates)
    too_deep = _deeper_than(value, MAX_DEPTH)
    if too_deep is not None:
        shown = too_deep if len(too_deep) <= 60 else too_deep[:57] + "..."
        raise problem(f"nested deeper than {MAX_DEPTH} levels (at `{shown}`)")
    if _LONG_INT.search(data):
        return _exact(data.decode("utf-8"))
    return value


def read_exact_again(raw: bytes, fast: Any) -> Any | None:
    """For a case orjson read (`fast`) that then failed: the exact reading when it differs (an integer past 64
    bits), else None. Raises `InputError` for what the limits refuse (too deep, a lone surrogate...)."""
    exact = read(raw)
    return exact if exact != fast else None


def _exact(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_finite)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise problem(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        if str(exc).startswith("number "):
            raise problem(str(exc)) from None
        huge = _HUGE_INT.search(text)
        if huge is None:
            raise problem(f"not valid JSON: {exc}") from None
        line, column = _position(text, huge.start())
        raise problem(f"an integer of {len(huge.group().lstrip('-')):,} digits at line {line} column {column}; "
                      f"integers may have at most {MAX_INT_DIGITS:,}") from None


def _diagnose(data: bytes, allow_surrogates: bool = False) -> Any:
    """Why orjson refused `data`, in words (or the value, when the standard library reads it and it is fine)."""
    try:
        text = data.decode("utf-8", "surrogatepass" if allow_surrogates else "strict")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise problem(f"not UTF-8 text: {exc.reason} (byte 0x{data[exc.start]:02x}) at line {line} column {column}; "
                      "save the file as UTF-8") from None
    deep = _depth_exceeded(text, MAX_DEPTH)
    if deep is not None:
        line, column = _position(text, deep)
        raise problem(f"nested deeper than {MAX_DEPTH} levels (at line {line} column {column})")
    value = _exact(text)
    where = None if allow_surrogates else surrogate_path(value)
    if where is not None:
        raise problem(LONE_SURROGATE, where)
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"number `{name}` is not JSON (numbers must be finite)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number `{text[:40]}` is too large to read")
    return value


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _depth_exceeded(text: str, limit: int) -> int | None:
    """The index of the first bracket nested past `limit` (strings skipped), else None; never recursive."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(lambda m: " " * len(m.group()), text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > limit:
            return match.start()
    return None


def _deeper_than(value: Any, limit: int) -> str | None:
    """The path of the first value nested past `limit`, else None (an explicit stack: never recursive)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if type(node) is dict:
            if depth >= limit:
                return path or "(root)"
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items())
        elif type(node) is list:
            if depth >= limit:
                return path or "(root)"
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))
    return None


def surrogate_path(value: Any) -> str | None:
    """The JSON path of the first string (or key) holding a lone surrogate, else None."""
    return first_path(value, lambda v: type(v) is str and not _encodes(v))


def huge_int_path(value: Any) -> str | None:
    """The JSON path of the first integer too long to write as text (Python callers can pass one), else None."""
    return first_path(value, lambda v: type(v) is int and v.bit_length() > MAX_INT_DIGITS * 3.32)


def first_path(value: Any, test: Callable[[Any], bool]) -> str | None:
    """The JSON path of the first value or key passing `test`, else None (an explicit stack: never recursive)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if test(node):
            return path
        if type(node) is dict:
            for k, v in node.items():
                inner = f"{path}.{printable(k) if type(k) is str else k}" if path else \
                    printable(k) if type(k) is str else str(k)
                if test(k):
                    return inner
                stack.append((v, inner))
        elif type(node) is list:
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """`text` with any lone surrogate written as its escape (`\\ud800`), so that it can be printed and logged."""
    return text if _encodes(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")
