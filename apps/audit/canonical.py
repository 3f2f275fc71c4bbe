"""RFC 8785 (JCS) canonical JSON for audit events.

Events are hashed as SHA-256 of their canonical JSON, so the bytes must be the same on every
machine and in every language that re-verifies the chain. We keep to a small payload model:
str, int (|n| <= 2**53 - 1), bool, None, list, and dict with str keys. Floats are refused
(decimals travel as strings), so JCS's number formatting never comes into play.

Within that model, `json.dumps(..., ensure_ascii=False, separators=(",", ":"),
sort_keys=True)` already writes JCS, with one exception: JCS orders object keys by their
UTF-16 code units and Python by code points. The two orders differ only for keys holding a
character above U+FFFF, so the validation walk looks out for those and sends such values to an
exact, slower serialiser.

str and int subclasses (StrEnum, IntEnum, Django's choices) are accepted and written as their
plain value, which is what both json and JCS do; dict and list subclasses are written as
dicts and lists.
"""

import datetime
import decimal
import json
import re
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INT",
    "CanonicalError",
    "canonical_bytes",
    "canonical_bytes_unchecked",
    "check",
]

MAX_SAFE_INT = 2**53 - 1
"""The largest integer every JSON reader (IEEE 754 doubles, JavaScript) keeps exactly."""

MAX_DEPTH = 100
"""Deepest container nesting accepted; also how a circular structure is caught cheaply."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\]')
_STRING_REST = re.compile(r'(?:[^"\\]|\\.)*+"', re.DOTALL)  # the rest of a JSON string literal
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# JSON.stringify's string escaping, which RFC 8785 section 3.2.2.2 adopts: the two-character
# escapes where they exist, \u00xx (lowercase hex) for other control characters, and every
# other character (U+007F, U+2028, U+2029 and all non-ASCII included) written as itself.
_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x20)}
_ESCAPES.update(
    {
        ord('"'): '\\"',
        ord("\\"): "\\\\",
        ord("\b"): "\\b",
        ord("\t"): "\\t",
        ord("\n"): "\\n",
        ord("\f"): "\\f",
        ord("\r"): "\\r",
    }
)


def _fast_encoder() -> Callable[[Any], str]:
    """The fast path: json.dumps minus its per-call set-up.

    That is json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
    allow_nan=False, check_circular=False). json.dumps builds a new encoder on each call with
    these options; calling the C encoder it would build, made once here, saves about a fifth
    of the time per event. That encoder is a CPython detail, so it is only used if it exists,
    accepts the arguments json passes it in this Python version and writes the same text as
    json.dumps on a probe; otherwise this falls back to a reusable JSONEncoder. There is no
    circular check: canonical_bytes walks the value first (bounded depth), and a cycle passed
    to canonical_bytes_unchecked still fails, with RecursionError.
    """
    options: dict[str, Any] = {
        "ensure_ascii": False,
        "separators": (",", ":"),
        "sort_keys": True,
        "allow_nan": False,
        "check_circular": False,
    }
    reference = json.JSONEncoder(**options)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return reference.encode
    try:
        # (markers, default, encoder, indent, key_separator, item_separator, sort_keys,
        #  skipkeys, allow_nan), as JSONEncoder.iterencode passes them.
        chunks = make(
            None, reference.default, json.encoder.encode_basestring, None, ":", ",", True, False,
            False,
        )  # fmt: skip
    except TypeError:  # pragma: no cover - a future signature
        return reference.encode

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    probe = {"b": [1, True, None, -(2**53) + 1, '"\\\x00\x1f\x7f\u2028é€😀'], "a": {"": {}}}
    try:
        same = encode(probe) == reference.encode(probe)
    except Exception:  # pragma: no cover
        same = False
    return encode if same else reference.encode


_encode = _fast_encoder()

_INVALID = -1  # what _scan returns when something is wrong; _explain then says what and where
_ASTRAL_KEYS = 1  # a key holds a character above U+FFFF: use the exact serialiser


class CanonicalError(ValueError):
    """A value outside the audit payload model; the message names where it is."""


def check(value: Any, path: str = "") -> None:
    """Raise CanonicalError unless `value` fits the payload model.

    `path` names `value` in the message (e.g. "payload" gives "payload.items[2].price: ...").
    """
    if _scan(value, True) == _INVALID:
        _explain(value, path)


def canonical_bytes(value: Any) -> bytes:
    """Validate `value`, then return its RFC 8785 serialisation as UTF-8."""
    state = _scan(value, False)
    if state == _INVALID:
        _explain(value, "")
    try:
        if state == _ASTRAL_KEYS:
            return _exact(value).encode()
        return _encode(value).encode()
    except UnicodeEncodeError:
        # The walk above leaves lone surrogates to the UTF-8 encoder, which finds them for free.
        _explain(value, "")
        raise  # pragma: no cover - _explain always finds the surrogate


def canonical_bytes_unchecked(value: Any) -> bytes:
    """RFC 8785 bytes for a value the caller has already passed through `check`.

    It skips the validation walk, so a float or an out-of-range int in `value` would be written
    instead of refused (other types still raise TypeError, a cycle RecursionError, a lone
    surrogate UnicodeEncodeError): use it only on values that `check` accepted and that have
    not changed since. Keys above U+FFFF are still ordered exactly: if the output holds such
    a character (a check that is free for ASCII output) and it is in a key, the exact
    serialiser is used.
    """
    text = _encode(value)
    if not text.isascii() and _astral_in_a_key(text):
        text = _exact(value)
    return text.encode()


def _astral_in_a_key(text: str) -> bool:
    """Whether compact JSON `text` has a character above U+FFFF inside an object key.

    Such characters only occur inside string literals, and in compact JSON a literal is a key
    exactly when a ':' follows its closing quote. From just after each such character, read
    to the end of its literal (escapes as pairs, so an escaped quote does not end it) and look
    at the next character; then carry on after that literal, so the text is read once.
    """
    position = 0
    while match := _ASTRAL.search(text, position):
        rest = _STRING_REST.match(text, match.end())
        if rest is None:  # pragma: no cover - json always closes its strings
            return True
        position = rest.end()
        if text.startswith(":", position):
            return True
    return False


def _scan(value: Any, strings: bool) -> int:
    """Walk `value` without recursion; return _INVALID, _ASTRAL_KEYS or 0.

    This is the hot path, so it only decides; _explain walks a bad value again to say why and
    where. Exact types are tested first with `type(x) is ...`, subclasses only after; a dict's
    keys are checked all at once by joining them (TypeError if one is not a str). With
    `strings` false, lone surrogates are left to the UTF-8 encoding, which finds them for free.
    """
    found = 0
    top, bottom = MAX_SAFE_INT, -MAX_SAFE_INT
    surrogate = _SURROGATE.search
    stack: list[tuple[Any, int]] = [([value], 0)]
    pop, push = stack.pop, stack.append
    while stack:
        container, depth = pop()
        depth += 1  # now the depth of this container's children (the root is at depth 1)
        if isinstance(container, dict):
            try:
                keys = "".join(container)
            except TypeError:
                return _INVALID
            if not keys.isascii():
                if strings and surrogate(keys):
                    return _INVALID
                if _ASTRAL.search(keys):
                    found = _ASTRAL_KEYS
            items = container.values()
        else:
            items = container
        for item in items:
            kind = type(item)
            if kind is str:
                if strings and not item.isascii() and surrogate(item):
                    return _INVALID
            elif kind is int:
                if item > top or item < bottom:
                    return _INVALID
            elif kind is bool or item is None:
                pass
            elif kind is dict or kind is list:
                if depth > MAX_DEPTH:
                    return _INVALID
                push((item, depth))
            elif isinstance(item, str):
                if strings and surrogate(item):
                    return _INVALID
            elif isinstance(item, int):  # bool cannot be subclassed, so this is a real int
                if item > top or item < bottom:
                    return _INVALID
            elif isinstance(item, (dict, list)):
                if depth > MAX_DEPTH:
                    return _INVALID
                push((item, depth))
            else:
                return _INVALID
    return found


def _explain(value: Any, path: str) -> NoReturn:
    """Raise the CanonicalError for the first problem in `value`, in document order."""
    _find_problem(value, path, 1, set())
    raise CanonicalError(f"{path or '<root>'}: not canonicalisable")  # pragma: no cover


def _find_problem(value: Any, path: str, depth: int, ancestors: set[int]) -> None:
    """The recursive, path-tracking twin of _scan; only runs once something is wrong."""
    where = path or "<root>"
    if isinstance(value, str):
        match = _SURROGATE.search(value)
        if match:
            raise CanonicalError(
                f"{where}: string holds a lone surrogate U+{ord(match.group()):04X} at index "
                f"{match.start()}; it cannot be encoded as UTF-8"
            )
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise CanonicalError(
                f"{where}: integer {int(value)} is outside ±(2**53 - 1), which JSON readers "
                "cannot hold exactly; send it as a string"
            )
    elif isinstance(value, float):
        raise CanonicalError(
            f"{where}: floats are not allowed; send decimals as strings (got {value!r})"
        )
    elif isinstance(value, (dict, list)):
        if id(value) in ancestors:
            raise CanonicalError(f"{where}: circular reference")
        if depth > MAX_DEPTH:
            raise CanonicalError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        ancestors.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise CanonicalError(
                        f"{where}: dict keys must be str, got {type(key).__name__} key {key!r}"
                    )
                match = _SURROGATE.search(key)
                if match:
                    raise CanonicalError(
                        f"{where}: key {json.dumps(key)} holds a lone surrogate "
                        f"U+{ord(match.group()):04X}; it cannot be encoded as UTF-8"
                    )
                _find_problem(item, _key_path(path, key), depth + 1, ancestors)
        else:
            for index, item in enumerate(value):
                _find_problem(item, f"{path}[{index}]", depth + 1, ancestors)
        ancestors.discard(id(value))
    else:
        raise CanonicalError(f"{where}: {_type_advice(value)}")


def _key_path(path: str, key: str) -> str:
    """`a.b` for plain keys, `a["odd key"]` for the rest, so a path reads unambiguously."""
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _type_advice(value: Any) -> str:
    """What is wrong with a value of an unsupported type, and what to send instead."""
    name = type(value).__name__
    if isinstance(value, decimal.Decimal):
        return f"{name} is not allowed; send decimals as strings"
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        return f"{name} is not allowed; send times as ISO 8601 strings"
    if isinstance(value, tuple):
        return f"{name} is not allowed; use a list"
    if isinstance(value, (set, frozenset)):
        return f"{name} is not allowed; use a sorted list"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{name} is not allowed; send binary data as a hex or base64 string"
    return f"{name} is not allowed; use str, int, bool, None, list or dict"


def _exact(value: Any) -> str:
    """The RFC 8785 text of a valid value, with keys in UTF-16 code unit order."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _quote(text: str) -> str:
    """A JSON string literal as JSON.stringify writes it (translate is slow, so only if needed)."""
    if _NEEDS_ESCAPE.search(text):
        text = text.translate(_ESCAPES)
    return '"' + text + '"'  # concatenation, not format(): a str subclass may override that


def _utf16_order(key: str) -> bytes:
    """Sort key giving RFC 8785 section 3.2.3 order (big-endian UTF-16 code units)."""
    return key.encode("utf-16-be")


def _write(value: Any, parts: list[str]) -> None:
    """Append the JCS text of `value` to `parts` (recursion is fine: depth is bounded)."""
    if isinstance(value, str):
        parts.append(_quote(value))
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif value is None:
        parts.append("null")
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, dict):
        parts.append("{")
        # Code point order is UTF-16 order unless a key has a character above U+FFFF, and
        # encoding every key to UTF-16 is slow, so only such dicts pay for it.
        astral = _ASTRAL.search("".join(value))
        for number, key in enumerate(sorted(value, key=_utf16_order if astral else None)):
            if number:
                parts.append(",")
            parts.append(_quote(key))
            parts.append(":")
            _write(value[key], parts)
        parts.append("}")
    elif isinstance(value, list):
        parts.append("[")
        for number, item in enumerate(value):
            if number:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    else:  # pragma: no cover - callers validate first
        raise CanonicalError(_type_advice(value))


class DuplicateName(ValueError):
    """A JSON object holds the same name twice."""


def _unique_object(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _value in pairs:
            if name in seen:
                raise DuplicateName(f"the name {json.dumps(name)} appears twice in one object")
            seen.add(name)
    return obj


def parse_strict(text: str | bytes):
    """json.loads, refusing an object that holds a name twice: json.loads keeps the last, other
    parsers the first, so such a line would read two ways (raises DuplicateName)."""
    return json.loads(text, object_pairs_hook=_unique_object)
