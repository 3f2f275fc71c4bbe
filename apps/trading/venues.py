"""Trading venues: the ISO 10383 Market Identifier Codes the project ships.

`data/iso10383_mics.csv` is the ISO 10383 list (MIC, operating MIC, market name, ISO 3166
country, status, expiry date), written from the `iso10383` package on PyPI (version 2025.2.10,
the registration authority's list of 10 February 2025). It holds the segment and operating MICs
of every venue, and XOFF (off exchange) and XXXX (no market), which a fill may name too.

To refresh it, in a scratch environment with `pip install iso10383`:

    import csv, sys
    from iso10383 import MIC
    out = csv.writer(sys.stdout, lineterminator="\\n")
    out.writerow(["mic", "operating_mic", "name", "country", "status", "expiry_date"])
    out.writerows(sorted(
        (v.mic, v.operating_mic.mic if v.operating_mic else v.mic, v.market_name,
         v.iso_country_code.name.upper(), v.status.name,
         v.expiry_date.isoformat() if v.expiry_date else "")
        for v in (m.value for m in MIC)
    ))
"""

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

MIC_FILE = Path(__file__).resolve().parent / "data" / "iso10383_mics.csv"
EXPIRED = "expired"
# ISO 10383's code for a trade off any venue (OTC).
OFF_VENUE = "XOFF"


@dataclass(frozen=True)
class Venue:
    mic: str
    operating_mic: str
    name: str
    country: str
    status: str  # active, updated, expired
    expiry_date: date | None


@cache
def venues() -> dict[str, Venue]:
    """Every MIC of the shipped list (read once per process)."""
    with MIC_FILE.open(newline="", encoding="utf-8") as handle:
        return {
            row["mic"]: Venue(
                mic=row["mic"],
                operating_mic=row["operating_mic"],
                name=row["name"],
                country=row["country"],
                status=row["status"],
                expiry_date=date.fromisoformat(row["expiry_date"]) if row["expiry_date"] else None,
            )
            for row in csv.DictReader(handle)
        }


def venue_problem(mic: str, on: date) -> str | None:
    """Why `mic` cannot be the venue of an execution on the day `on`, or None when it can: it
    must be in the ISO 10383 list and not expired before that day."""
    venue = venues().get(mic)
    if venue is None:
        return f"{mic} is not an ISO 10383 MIC (XOFF for off exchange, XXXX for no market)."
    if venue.status == EXPIRED and (venue.expiry_date is None or venue.expiry_date <= on):
        when = f" on {venue.expiry_date}" if venue.expiry_date else ""
        return f"The MIC {mic} ({venue.name}) expired{when}."
    return None
