"""Who is who in a MiFIR transaction report (RTS 22 fields 4-24, 57 and 59), and the checks of
the identifiers a file carries (LEI, ISIN, MIC) before it is stored.

Parties follow ESMA's guidelines (ESMA/2016/1452): under DEAL the executing firm is the buyer
or seller; under AOTC and MTCH its client is. A client is its LEI (a legal person) or, a natural
person, their national client identifier or CONCAT (apps.core.person_ids). The other side is the
CCP's LEI where the venue's trades are centrally cleared and the counterparty is not disclosed,
the venue's MIC where they are not cleared, and the counterparty's LEI off venue (XOFF).
"""

import csv
import json
from dataclasses import astuple, dataclass
from datetime import date
from functools import cache
from pathlib import Path

from django.conf import settings

from apps.core.person_ids import IdentityMissing, national_client_identifier
from apps.trading.validators import isin_is_valid, lei_is_valid
from apps.trading.venues import OFF_VENUE, venue_problem, venues

VENUE_CCP_FILE = Path(__file__).resolve().parent / "data" / "venue_ccps.csv"
LEI, MIC, PERSON = "LEI", "MIC", "Prsn"


@dataclass(frozen=True)
class Party:
    """A buyer, seller or decision maker: an LEI, a MIC, or a natural person (their identifier
    with its scheme, NIDN, CCPT or CONCAT, and the name and date of birth the file carries).
    `branch_country` is field 8/17 for a client: the branch that took the client's order."""

    kind: str
    id: str
    scheme: str = ""
    first_names: str = ""
    surnames: str = ""
    birth_date: date | None = None
    branch_country: str = ""

    def __str__(self) -> str:  # the identifier, as the CSV and JSON columns show it
        return self.id

    def canonical(self) -> str:
        """Every field the file writes for the party (kind, identifier, scheme, names, date of
        birth, branch country), as one text: what the content hash reads."""
        return _canonical(self)

    @property
    def type(self) -> str:
        return self.scheme if self.kind == PERSON else self.kind


@dataclass(frozen=True)
class StaffCode:
    """A person of the firm in fields 57 and 59: identifier, scheme and branch country."""

    id: str
    scheme: str
    branch_country: str

    def __str__(self) -> str:
        return self.id

    def canonical(self) -> str:
        """Identifier, scheme and branch country, as one text: what the content hash reads."""
        return _canonical(self)


def _canonical(value) -> str:
    """A party's or staff code's fields in their declared order as a JSON array: the same text
    for the same values on every run, whatever the characters of a name."""
    fields = [v.isoformat() if isinstance(v, date) else v for v in astuple(value)]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class PartyProblem(ValueError):
    """A transaction whose party cannot be identified as RTS 22 wants."""


# --- the firm ----------------------------------------------------------------------------------


def firm_lei_problem(lei: str) -> str | None:
    """Why `lei` cannot be the firm's LEI in a MiFIR report, or None."""
    if not lei:
        return "REPORTING_FIRM_LEI is not set: MiFIR reports name the firm by its LEI."
    if not lei_is_valid(lei):
        return f"REPORTING_FIRM_LEI {lei!r} is not a valid LEI (ISO 17442 check digits)."
    return None


def isin_problem(isin: str, symbol: str) -> str | None:
    if not isin_is_valid(isin):
        return f"{symbol}: {isin!r} is not a valid ISIN (ISO 6166 check digit)."
    return None


def mic_problem(mic: str, on: date) -> str | None:
    return venue_problem(mic, on)


# --- the other side ------------------------------------------------------------------------------


@cache
def _ccps(path: str) -> dict[str, tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["mic"] and not r["mic"].startswith("#")]
    return {r["mic"].strip(): (r["ccp_lei"].strip(), r["ccp_name"].strip()) for r in rows}


def venue_ccps() -> dict[str, tuple[str, str]]:
    """MIC -> (CCP LEI, CCP name) for the venues whose trades a CCP clears."""
    return _ccps(str(settings.MIFIR_VENUE_CCP_FILE or VENUE_CCP_FILE))


def venue_ccp(mic: str) -> str:
    """The LEI of the CCP that clears the venue's trades (by the MIC, else its operating MIC);
    "" when none is known."""
    ccps = venue_ccps()
    found = ccps.get(mic)
    if found is None and mic in venues():
        found = ccps.get(venues()[mic].operating_mic)
    return found[0] if found else ""


def counterparty(venue: str, counterparty_lei: str) -> Party:
    """The other side of an execution, as seen from the firm's market-facing report."""
    if venue == OFF_VENUE:
        if not counterparty_lei:
            raise PartyProblem("an off-venue (XOFF) execution without its counterparty's LEI")
        return Party(LEI, counterparty_lei)
    ccp = venue_ccp(venue)
    return Party(LEI, ccp) if ccp else Party(MIC, venue)


# --- clients and people ------------------------------------------------------------------------


def person_party(person, *, branch_country: str = "") -> Party:
    """A natural person (a ClientPerson) as a party: their identifier by Annex II."""
    if person is None:
        raise PartyProblem("a natural person with no MiFIR identity on record")
    try:
        code = national_client_identifier(
            nationality=person.nationality,
            national_id=person.national_id,
            national_id_kind=person.national_id_kind,
            birth_date=person.birth_date,
            first_names=person.first_names,
            surnames=person.surnames,
        )
    except IdentityMissing as exc:
        raise PartyProblem(str(exc)) from None
    if not (person.first_names and person.surnames and person.birth_date):
        raise PartyProblem("a natural person's first names, surnames and date of birth")
    return Party(
        PERSON,
        code.value,
        scheme=code.scheme,
        first_names=person.first_names,
        surnames=person.surnames,
        birth_date=person.birth_date,
        branch_country=branch_country,
    )


def client_party(*, account_lei: str, owner_lei: str, person, branch_country: str) -> Party:
    """The client of an account: the account holder's LEI, else the beneficial owner's LEI,
    else the beneficial owner as a natural person."""
    lei = account_lei or owner_lei
    if lei:
        return Party(LEI, lei, branch_country=branch_country)
    return person_party(person, branch_country=branch_country)


def decision_maker(owner, person) -> Party | None:
    """Who decides for the client under a power of attorney (fields 12-15 and 21-24)."""
    if owner is None:
        return None
    if owner.lei:
        return Party(LEI, owner.lei)
    return person_party(person)


def staff_code(identity, *, firm_country: str) -> StaffCode:
    """A member of staff in fields 57 and 59 (a StaffIdentity)."""
    if identity is None:
        raise PartyProblem("a member of staff with no MiFIR identity on record")
    try:
        code = national_client_identifier(
            nationality=identity.nationality,
            national_id=identity.national_id,
            national_id_kind=identity.national_id_kind,
            birth_date=identity.birth_date,
            first_names=identity.first_names,
            surnames=identity.surnames,
        )
    except IdentityMissing as exc:
        raise PartyProblem(str(exc)) from None
    return StaffCode(code.value, code.scheme, identity.branch_country or firm_country)
