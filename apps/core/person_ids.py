"""How MiFIR identifies a natural person (RTS 22 art. 6 and Annex II, ESMA/2016/1452 part I).

A person is their nationality's ISO 3166 code followed by the national client identifier of the
highest priority they have in Annex II for that nationality, else the CONCAT code: nationality,
date of birth (YYYYMMDD), the first five letters of the first first name and of the surname, as
written by ESMA's guidelines (titles and prefixes dropped, accents removed, apostrophes, hyphens
and spaces squeezed out, '#' padding a name shorter than five letters).

Plain functions: the records they read (a client's, a member of staff's) live in their apps.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

NIDN, CCPT, CONCAT = "NIDN", "CCPT", "CONCAT"

# Annex II of RTS 22: per nationality, the identifiers in priority order. NIDN stands for the
# country's national identifier named there (personal code, fiscal code, national insurance
# number...), CCPT for the passport number. A country whose list does not end with CONCAT has
# no fallback: a person of it without the identifier cannot be reported.
PRIORITIES: dict[str, tuple[str, ...]] = {
    "AT": (CONCAT,),
    "BE": (NIDN, CONCAT),
    "BG": (NIDN, CCPT, CONCAT),
    "CY": (CCPT, CONCAT),
    "CZ": (NIDN, CCPT, CONCAT),
    "DE": (CONCAT,),
    "DK": (NIDN, CONCAT),
    "EE": (NIDN,),
    "ES": (NIDN,),
    "FI": (NIDN, CONCAT),
    "FR": (CONCAT,),
    "GB": (NIDN, CONCAT),
    "GR": (NIDN, CONCAT),
    "HR": (NIDN, CONCAT),
    "HU": (CONCAT,),
    "IE": (CONCAT,),
    "IS": (NIDN,),
    "IT": (NIDN,),
    "LI": (CCPT, NIDN, CONCAT),
    "LT": (NIDN, CCPT, CONCAT),
    "LU": (CONCAT,),
    "LV": (NIDN, CONCAT),
    "MT": (NIDN, CCPT),
    "NL": (CCPT, NIDN, CONCAT),
    "NO": (NIDN, CONCAT),
    "PL": (NIDN,),
    "PT": (NIDN, CCPT, CONCAT),
    "RO": (NIDN, CCPT, CONCAT),
    "SE": (NIDN, CONCAT),
    "SI": (NIDN, CONCAT),
    "SK": (NIDN, CCPT, CONCAT),
}
# Every other nationality: the national passport number, else CONCAT.
OTHER_COUNTRIES = (CCPT, CONCAT)

TITLES = frozenset(
    ["ATTY", "COACH", "DAME", "DR", "FR", "GOV", "HONORABLE", "MADAM", "MADAME", "MAID",
     "MASTER", "MISS", "MONSIEUR", "MR", "MRS", "MS", "MX", "OFC", "PH", "PRES", "PROF", "REV",
     "SIR"]
)  # fmt: skip
# Name prefixes left out of CONCAT (ESMA/2016/1452, 5.3.2): a surname begins after them.
PREFIXES = sorted(
    (
        tuple(p.split())
        for p in [
            "am", "auf", "auf dem", "aus der", "d", "da", "de", "de l", "del", "de la", "de le",
            "di", "do", "dos", "du", "im", "la", "le", "mac", "mc", "mhac", "mhic", "mhic giolla",
            "mic", "ni", "nic", "o", "ua", "ui", "van", "van de", "van den", "van der", "vom",
            "von", "von dem", "von den", "von der",
        ]
    ),
    key=len,
    reverse=True,
)  # fmt: skip
# Letters that NFKD does not take apart into a base letter and an accent.
SPECIAL = str.maketrans(
    {"ß": "SS", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "Œ": "OE", "œ": "OE", "Ł": "L",
     "ł": "L", "Đ": "D", "đ": "D", "Þ": "TH", "þ": "TH", "ı": "I"}
)  # fmt: skip


class IdentityMissing(ValueError):
    """The person's record lacks what their identifier needs."""


@dataclass(frozen=True)
class PersonCode:
    """An identifier as reported: `value` (with its country prefix) and its scheme, NIDN or
    CCPT (an ISO 20022 code) or CONCAT (proprietary)."""

    value: str
    scheme: str


def _latin(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(SPECIAL))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _words(text: str) -> list[str]:
    # Spaces and commas separate words; apostrophes, hyphens and full stops are left out
    # (O'Brian is OBRIAN, Jean-Claude JEANCLAUDE).
    parts = _latin(text).replace(",", " ").split()
    return [w for w in (re.sub(r"[^A-Z]", "", part) for part in parts) if w]


def _five(words: list[str]) -> str:
    letters = "".join(words)
    return (letters[:5]).ljust(5, "#")


def concat_first_name(first_names: str) -> str:
    """The first five letters of the first first name, titles dropped."""
    words = [w for w in _words(first_names) if w not in TITLES]
    return _five(words[:1])


def concat_surname(surnames: str) -> str:
    """The first five letters of the surname(s), titles and leading prefixes dropped."""
    words = [w.lower() for w in _words(surnames) if w not in TITLES]
    for prefix in PREFIXES:
        if len(words) > len(prefix) and tuple(words[: len(prefix)]) == prefix:
            words = words[len(prefix) :]
            break
    return _five([w.upper() for w in words])


def concat(*, nationality: str, birth_date: date, first_names: str, surnames: str) -> str:
    """The CONCAT code: `IE19800512JOHN#OBRIA` for John O'Brian, Irish, born 12 May 1980."""
    if not (nationality and birth_date and first_names and surnames):
        raise IdentityMissing("CONCAT needs nationality, date of birth, first names and surname.")
    return (
        f"{nationality.upper()}{birth_date:%Y%m%d}"
        f"{concat_first_name(first_names)}{concat_surname(surnames)}"
    )


def priorities(nationality: str) -> tuple[str, ...]:
    return PRIORITIES.get((nationality or "").upper(), OTHER_COUNTRIES)


def national_client_identifier(
    *,
    nationality: str,
    national_id: str = "",
    national_id_kind: str = "",
    birth_date: date | None = None,
    first_names: str = "",
    surnames: str = "",
) -> PersonCode:
    """The person's identifier by Annex II: the identifier recorded (`national_id` of the kind
    `national_id_kind`, NIDN or CCPT) when the person's nationality lists that kind before
    CONCAT, else CONCAT when it is listed. Raises `IdentityMissing` when neither is possible."""
    if not nationality:
        raise IdentityMissing("The person's nationality is not recorded.")
    order = priorities(nationality)
    number = re.sub(r"[^A-Z0-9+-]", "", (national_id or "").upper())
    for kind in order:
        if kind == CONCAT:
            return PersonCode(
                concat(
                    nationality=nationality,
                    birth_date=birth_date,
                    first_names=first_names,
                    surnames=surnames,
                ),
                CONCAT,
            )
        if number and national_id_kind == kind:
            return PersonCode(f"{nationality.upper()}{number}"[:35], kind)
    wanted = " or ".join("national identifier" if k == NIDN else "passport" for k in order)
    raise IdentityMissing(f"A national of {nationality} is identified by their {wanted} only.")
