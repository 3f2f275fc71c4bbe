"""canonical: byte-for-byte RFC 8785 (checked against the rfc8785 package), clear refusals.

Audit hashes are only reproducible if every verifier writes the same bytes, so the output is
compared with an independent JCS implementation on thousands of generated events, with the
characters where JSON writers usually disagree (controls, U+007F, U+2028/9, astral).
"""

import datetime
import decimal
import enum
import json
import random
from collections import OrderedDict

import pytest
import rfc8785

from apps.audit import canonical
from apps.audit.canonical import (
    MAX_DEPTH,
    CanonicalError,
    canonical_bytes,
    canonical_bytes_unchecked,
    check,
)

SAFE = 2**53 - 1

# Character pools, chosen where JSON writers and JCS can disagree.
ASCII = [chr(c) for c in range(0x20, 0x7F)]
CONTROL = [chr(c) for c in range(0x20)] + ["\x7f", "\x80", "\x9f"]
QUOTES = ['"', "\\", "/", "'", '\\"', "\\u0000"]
LATIN1 = [chr(c) for c in range(0xA0, 0x100)]
CJK = [chr(c) for c in range(0x4E00, 0x4E40)] + ["\u3042", "\uac00", "\u20ac", "\u00e9"]
SEPARATORS = ["\u2028", "\u2029", "\u200b", "\ufeff", "\u0085"]
# BMP characters above the surrogate range sort after astral ones in UTF-16 (JCS) but
# before them by code point (Python): keys mixing the two are where the orders differ.
HIGH_BMP = ["\ue000", "\uf8ff", "\ufb33", "\ufe0f", "\uff01", "\ufffd", "\uffff"]
ASTRAL = ["\U0001f600", "\U0001f4a9", "\U00010000", "\U0010ffff", "\U0001d11e", "\U00020bb7"]
POOLS = [ASCII, CONTROL, QUOTES, LATIN1, CJK, SEPARATORS, HIGH_BMP, ASTRAL]
WEIGHTS = [40, 8, 6, 8, 8, 6, 6, 8]


def random_text(rng: random.Random, longest: int, astral: bool = True) -> str:
    weights = WEIGHTS if astral else WEIGHTS[:-1] + [0]
    return "".join(
        rng.choice(rng.choices(POOLS, weights)[0]) for _ in range(rng.randint(0, longest))
    )


def random_key(rng: random.Random, astral: bool) -> str:
    # Short keys with shared prefixes, so that the sort compares the interesting characters.
    prefix = rng.choice(["", "", "a", "k_", "\u00e9"])
    return prefix + random_text(rng, 3, astral)


def random_int(rng: random.Random) -> int:
    return rng.choice(
        [
            rng.randint(-10, 10),
            rng.randint(-(10**6), 10**6),
            rng.randint(-SAFE, SAFE),
            rng.choice([SAFE, -SAFE, SAFE - 1, 2**31, -(2**31), 2**32 + 1, 10**15]),
        ]
    )


def random_scalar(rng: random.Random):
    kind = rng.randrange(6)
    if kind <= 1:
        return random_text(rng, 12)
    if kind == 2:
        return random_int(rng)
    return [True, False, None][kind - 3]


def random_dict(rng: random.Random, depth: int, size: int, astral: bool) -> dict:
    return {random_key(rng, astral): random_value(rng, depth, astral) for _ in range(size)}


def random_value(rng: random.Random, depth: int, astral: bool):
    roll = rng.random()
    if depth >= 4 or roll < 0.6:
        return random_scalar(rng)
    if roll < 0.82:
        return random_dict(rng, depth + 1, rng.randint(0, 6), astral)
    return [random_value(rng, depth + 1, astral) for _ in range(rng.randint(0, 5))]


def random_event(rng: random.Random) -> dict:
    """About half the events may have astral characters in keys (the slow path)."""
    astral = rng.random() < 0.5
    event = random_dict(rng, 1, rng.randint(0, 12), astral)
    event["payload"] = random_dict(rng, 2, rng.randint(0, 8), astral)
    event["seq"] = rng.randint(1, SAFE)
    return event


def dicts_in(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from dicts_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from dicts_in(item)


def orders_differ(event: dict) -> bool:
    """Whether some dict's keys sort differently by code point and by UTF-16 code unit."""
    return any(sorted(d) != sorted(d, key=utf16) for d in dicts_in(event))


def utf16(key: str) -> bytes:
    return key.encode("utf-16-be")


@pytest.mark.parametrize("seed", range(10))
def test_generated_events_match_rfc8785(seed):
    rng = random.Random(f"audit-jcs-{seed}")
    astral_keys = differing = 0  # events on the slow path / where the slow path matters
    for number in range(500):
        event = random_event(rng)
        expected = rfc8785.dumps(event)
        assert canonical_bytes(event) == expected, (seed, number, event)
        assert canonical_bytes_unchecked(event) == expected, (seed, number, event)
        assert canonical._exact(event).encode() == expected, (seed, number, event)
        check(event)
        assert json.loads(expected) == event
        if any(k > "\uffff" for d in dicts_in(event) for k in "".join(d)):
            astral_keys += 1
        differing += orders_differ(event)
    # The generator must really exercise the slow path, and orders where it matters.
    assert 100 < astral_keys < 400
    assert differing > 10


def test_rfc8785_key_order_example():
    """RFC 8785 section 3.2.3: keys sort by UTF-16 code units (the emoji before U+FB33)."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode()
    assert canonical_bytes(value) == expected
    assert canonical_bytes_unchecked(value) == expected
    assert rfc8785.dumps(value) == expected
    # Python's own (code point) order puts U+FB33 before the emoji: why the slow path exists.
    assert sorted(value)[-2:] == ["\ufb33", "\U0001f600"]


def test_rfc8785_string_example():
    """RFC 8785 section 3.2.2.2's string: only the mandatory escapes, lowercase hex."""
    value = json.loads(r'''"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"''')
    expected = r'''"€$\u000f\nA'B\"\\\\\"/"'''.encode()
    assert canonical_bytes(value) == expected
    assert canonical_bytes({"\U0001f600": value}) == b'{"\xf0\x9f\x98\x80":' + expected + b"}"


def test_astral_keys_nested_in_lists_and_dicts():
    value = {"outer": [{"\ue000": 1, "\U0001f600": 2, "a": [{"\uffff": 3, "\U00010000": 4}]}]}
    expected = '{"outer":[{"a":[{"\U00010000":4,"\uffff":3}],"\U0001f600":2,"\ue000":1}]}'
    assert canonical_bytes(value) == expected.encode()
    assert canonical_bytes_unchecked(value) == expected.encode()
    assert rfc8785.dumps(value) == expected.encode()


@pytest.mark.parametrize(
    ("value", "in_a_key"),
    [
        ({"a": "\U0001f600"}, False),
        (["\U0001f600", 'x\U0001f600":', "\U0001f600\\"], False),
        ({"a": '\U0001f600":', "\ue000": 1}, False),
        ({"\U0001f600": 1, "\ue000": 2}, True),
        ({"\U0001f600\\": 1, "\ue000": 2}, True),
        ({"x": ['\U0001f600\\"', {'b"\U0001f600"': {"\ue000": 0, "\U0001f600": 1}}]}, True),
        ("\U0001f600", False),
    ],
)
def test_unchecked_finds_astral_keys_from_the_text(value, in_a_key):
    """canonical_bytes_unchecked skips the walk, so it spots astral keys in its own output."""
    assert canonical._astral_in_a_key(canonical._encode(value)) is in_a_key
    assert canonical_bytes_unchecked(value) == rfc8785.dumps(value) == canonical_bytes(value)


def every_code_point() -> str:
    return "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def test_every_code_point_is_escaped_as_jcs_requires():
    text = every_code_point()
    expected = rfc8785.dumps(text)
    assert canonical_bytes(text) == expected
    assert canonical_bytes([text]) == b"[" + expected + b"]"
    # The exact (slow) serialiser, reached through an astral key, writes the same.
    assert canonical_bytes({"\U0001f600": text}) == b'{"\xf0\x9f\x98\x80":' + expected + b"}"
    # Independently of rfc8785: everything but controls, '"' and '\' is written as itself.
    plain = "".join(c for c in text if c >= " " and c not in '"\\')
    assert canonical_bytes(plain) == f'"{plain}"'.encode()
    assert canonical_bytes({"\U0001f600": plain}) == f'{{"\U0001f600":"{plain}"}}'.encode()


@pytest.mark.parametrize(
    ("char", "written"),
    [
        ("\b", "\\b"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\f", "\\f"),
        ("\r", "\\r"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        ("\x00", "\\u0000"),
        ("\x0b", "\\u000b"),
        ("\x1f", "\\u001f"),
        ("\x1b", "\\u001b"),
        ("/", "/"),
        ("\x7f", "\x7f"),
        ("\x80", "\x80"),
        ("\u2028", "\u2028"),
        ("\u2029", "\u2029"),
        ("\ufeff", "\ufeff"),
        ("\uffff", "\uffff"),
        ("\U0001f600", "\U0001f600"),
    ],
)
def test_single_character_escapes(char, written):
    expected = f'"{written}"'.encode()
    assert canonical_bytes(char) == expected
    assert canonical._quote(char).encode() == expected
    assert rfc8785.dumps(char) == expected


def test_scalars_and_empty_containers():
    assert canonical_bytes(None) == b"null"
    assert canonical_bytes(True) == b"true"
    assert canonical_bytes(False) == b"false"
    assert canonical_bytes(0) == b"0"
    assert canonical_bytes(-SAFE) == b"-9007199254740991"
    assert canonical_bytes(SAFE) == b"9007199254740991"
    assert canonical_bytes("") == b'""'
    assert canonical_bytes({}) == b"{}"
    assert canonical_bytes([]) == b"[]"
    assert canonical_bytes({"a": [], "b": {}, "": [{}]}) == b'{"":[{}],"a":[],"b":{}}'
    assert canonical_bytes([True, 1, False, 0]) == b"[true,1,false,0]"


class Side(enum.StrEnum):
    BUY = "BUY"


class Level(enum.IntEnum):
    HIGH = 3


def test_enum_and_container_subclasses_are_written_as_their_values():
    value = OrderedDict([("z", Side.BUY), (Side.BUY, Level.HIGH), ("a", [Level.HIGH])])
    plain = {"z": "BUY", "BUY": 3, "a": [3]}
    check(value)
    assert canonical_bytes(value) == canonical_bytes(plain) == rfc8785.dumps(plain)
    assert canonical_bytes_unchecked(value) == canonical_bytes(plain)
    assert canonical._exact(value) == canonical._exact(plain)


def test_str_subclasses_are_checked_like_str():
    class Text(str):
        pass

    with pytest.raises(CanonicalError, match=r"^payload\.note: string holds a lone surrogate"):
        check({"note": Text("x\udc00")}, "payload")
    with pytest.raises(CanonicalError, match=r"^note: string holds a lone surrogate"):
        canonical_bytes({"note": Text("x\udc00")})
    with pytest.raises(CanonicalError, match=r"^n: integer 9007199254740992 is outside"):
        canonical_bytes({"n": enum.IntEnum("Big", {"X": 2**53}).X})


def test_nesting_limit_is_the_same_in_check_and_canonical_bytes():
    deep: list = []
    for _ in range(MAX_DEPTH - 1):
        deep = [deep]
    check(deep)
    assert canonical_bytes(deep) == rfc8785.dumps(deep)
    too_deep = [deep]
    for fn in (check, canonical_bytes):
        with pytest.raises(CanonicalError, match=rf"nested deeper than {MAX_DEPTH} levels"):
            fn(too_deep)


def test_cycles_are_refused_not_looped_over():
    looped: list = [1]
    looped.append({"back": looped})
    for fn in (check, canonical_bytes):
        with pytest.raises(CanonicalError, match=r"^\[1\]\.back: circular reference$"):
            fn(looped)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"items": [{}, {"price": "1.00"}, {"price": 1.25}]},
            "payload.items[2].price: floats are not allowed; send decimals as strings",
        ),
        ({"fee": 0.0}, "payload.fee: floats are not allowed"),
        ({"x": [float("nan")]}, "payload.x[0]: floats are not allowed; send decimals as strings"),
        ({"x": {"y": float("inf")}}, "payload.x.y: floats are not allowed"),
        ({"x": -float("inf")}, "payload.x: floats are not allowed"),
        ({"n": 2**53}, "payload.n: integer 9007199254740992 is outside ±(2**53 - 1)"),
        ({"n": [-(2**53)]}, "payload.n[0]: integer -9007199254740992 is outside"),
        ({"n": 10**30}, "payload.n: integer 1000000000000000000000000000000 is outside"),
        ({"m": {1: "one"}}, "payload.m: dict keys must be str, got int key 1"),
        ({"m": {None: 1}}, "payload.m: dict keys must be str, got NoneType key None"),
        ({"m": [{("a",): 1}]}, "payload.m[0]: dict keys must be str, got tuple key ('a',)"),
        ({"s": "ok\ud800"}, "payload.s: string holds a lone surrogate U+D800 at index 2"),
        ({"s": ["\udfff"]}, "payload.s[0]: string holds a lone surrogate U+DFFF at index 0"),
        ({"k": {"a\udc00": 1}}, 'payload.k: key "a\\udc00" holds a lone surrogate U+DC00'),
        (
            {"price": decimal.Decimal("1.10")},
            "payload.price: Decimal is not allowed; send decimals as strings",
        ),
        (
            {"at": datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)},
            "payload.at: datetime is not allowed; send times as ISO 8601 strings",
        ),
        ({"on": [datetime.date(2026, 1, 2)]}, "payload.on[0]: date is not allowed"),
        ({"pair": (1, 2)}, "payload.pair: tuple is not allowed; use a list"),
        ({"tags": {"a"}}, "payload.tags: set is not allowed; use a sorted list"),
        ({"raw": b"\x00"}, "payload.raw: bytes is not allowed; send binary data as a hex"),
        ({"who": object()}, "payload.who: object is not allowed; use str, int, bool, None"),
        ({"odd key": {"x y": [1.5]}}, 'payload["odd key"]["x y"][0]: floats are not allowed'),
        ({"a": {"b\u00e9": 1.5}}, 'payload.a["bé"]: floats are not allowed'),
    ],
)
def test_refusals_name_the_path(value, message):
    with pytest.raises(CanonicalError) as caught:
        check(value, "payload")
    assert str(caught.value).startswith(message)
    # canonical_bytes reports the same problem (its root is unnamed, so drop "payload").
    with pytest.raises(CanonicalError) as caught:
        canonical_bytes({"payload": value})
    assert str(caught.value).startswith(message)


def test_refusals_at_the_root():
    with pytest.raises(CanonicalError, match=r"^<root>: floats are not allowed"):
        canonical_bytes(1.5)
    with pytest.raises(CanonicalError, match=r"^payload: tuple is not allowed"):
        check((), "payload")
    with pytest.raises(CanonicalError, match=r"^<root>: dict keys must be str"):
        check({"a": 1, 2: "b"})
    with pytest.raises(CanonicalError, match=r"^<root>: string holds a lone surrogate"):
        canonical_bytes("\ud83d")


def test_the_first_problem_in_document_order_is_reported():
    value = {"a": [1, 2.5], "b": 2**60}
    with pytest.raises(CanonicalError, match=r"^a\[1\]: floats"):
        canonical_bytes(value)


def test_canonical_error_is_a_value_error():
    assert issubclass(CanonicalError, ValueError)


def test_check_accepts_the_whole_model_and_the_edges_of_the_int_range():
    check({"s": "é\u2028\U0001f600", "i": [SAFE, -SAFE, 0], "b": True, "n": None, "l": [[]]})
    check({"\U0001f600": {"\ue000": "x"}}, "payload")


def test_unchecked_skips_validation_as_documented():
    """It is for values already checked: it does not refuse what check would."""
    assert canonical_bytes_unchecked({"n": 2**53}) == b'{"n":9007199254740992}'
    with pytest.raises(TypeError):
        canonical_bytes_unchecked({"d": decimal.Decimal(1)})
    with pytest.raises(UnicodeEncodeError):
        canonical_bytes_unchecked("\ud800")
