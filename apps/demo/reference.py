"""Demo data for the trading domain: users of every role, accounts, instruments, prices.

Plain functions, so that the ``seed_demo`` command (which also loads the demo rule set) can call
them. Idempotent: running them again changes nothing that is already there
(the demo users' passwords and roles are reset, price history is added for days that have
passed since, a demo derivative still at the default multiplier of 1 gets its contract size,
and an FX rate that is getting old is recorded again at the same rate, as a feed would).
"""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.core.time import utcnow
from apps.core.types import quantize
from apps.demo.reference_data import (
    ACCOUNTS,
    CLIENT_PERSONS,
    FX_RATES,
    INSTRUMENTS,
    STAFF_IDENTITIES,
)
from apps.rbac.models import StaffIdentity
from apps.rbac.roles import Role, ServiceRole
from apps.rbac.services import (
    staff_identity_set,
    user_create,
    user_password_set,
    user_role_set,
    user_update,
)
from apps.trading.models import Account, ClientPerson, FxRate, Instrument
from apps.trading.services import (
    account_create,
    account_update,
    beneficial_owner_resolve,
    client_person_set,
    daily_prices_load,
    entitlement_grant,
    fx_rate_record,
    instrument_create,
    instrument_update,
    reference_price_record,
)

DEFAULT_PASSWORD = "demo-pass-2026"
HISTORY_DAYS = 300

DEMO_USERS = [
    ("viewer", Role.VIEWER),
    ("trader", Role.TRADER),
    ("trader2", Role.TRADER),
    ("risk", Role.RISK_MANAGER),
    ("compliance", Role.COMPLIANCE_OFFICER),
    ("compliance2", Role.COMPLIANCE_OFFICER),
    ("admin", Role.ADMIN),
    ("feed", ServiceRole.FEED),  # the service identity that posts drop copies
]

# Who may see and trade which demo account (Risk Manager and above: every account). `trader`
# works every account but ACC-007, which only `trader2` may trade; `viewer` sees them all.
DEMO_ENTITLEMENTS = {
    "viewer": None,  # every demo account
    "trader": ["ACC-001", "ACC-002", "ACC-003", "ACC-004", "ACC-005", "ACC-006"],
    "trader2": ["ACC-005", "ACC-006", "ACC-007"],
}

INSTRUMENT_FIELDS = [
    "symbol",
    "isin",
    "mic",
    "name",
    "asset_class",
    "sector",
    "currency",
    "cfi",
    "issuer",
    "calendar",
]


def _sessions(calendar: str, end: date, count: int) -> list[date]:
    """The last `count` trading days up to `end`: weekdays, or every day for a 24/7 market.

    Exchange holidays are not removed: the history is illustrative.
    """
    days, day = [], end
    while len(days) < count:
        if calendar == "24/7" or day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _bars(spec: dict, end: date) -> list[dict]:
    """A deterministic random walk ending near the instrument's base price."""
    rng = random.Random(spec["symbol"])
    tick = Decimal(spec["tick_size"])
    base = Decimal(spec["base_price"])
    sessions = _sessions(spec["calendar"], end, HISTORY_DAYS)
    path = [1.0]
    for _ in sessions[1:]:
        path.append(path[-1] * (1 + rng.gauss(0, 0.015)))
    scale = float(base) / path[-1]

    def px(x: float) -> Decimal:
        return max(tick, (Decimal(str(round(x * scale, 6))) / tick).quantize(Decimal(1)) * tick)

    bars, prev = [], path[0]
    for day, close in zip(sessions, path, strict=True):
        high_f = max(prev, close) * (1 + abs(rng.gauss(0, 0.006)))
        low_f = min(prev, close) * (1 - abs(rng.gauss(0, 0.006)))
        o, c, h, lo = px(prev), px(close), px(high_f), px(low_f)
        h, lo = max(h, o, c), min(lo, o, c)
        volume = Decimal(rng.randint(50_000, 5_000_000))
        bars.append({"date": day, "open": o, "high": h, "low": lo, "close": c, "volume": volume})
        prev = close
    return bars


@transaction.atomic
def seed_users(password: str, *, reset: bool = False) -> list[str]:
    """One demo user per role (two traders, two compliance officers for four-eyes checks).

    Creates the missing ones; an existing user keeps the password, role and active flag an
    installer gave it (a locked-down `admin` stays locked down) unless `reset`. Returns the
    names of the users created or reset, that is, those whose password is now `password`."""
    User = get_user_model()
    touched = []
    for username, role in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user_create(
                username=username,
                password=password,
                role=role,
                email=f"{username}@demo.invalid",
            )
            touched.append(username)
        elif reset:
            user_password_set(user=user, password=password, actor="command:seed_demo")
            user = user_update(user=user, is_active=True, actor="command:seed_demo")
            user_role_set(user=user, role=role, actor="command:seed_demo")
            touched.append(username)
    return touched


def _identity_fields(spec: dict) -> dict:
    return {**spec, "birth_date": date.fromisoformat(spec["birth_date"])}


@transaction.atomic
def seed_entitlements(usernames) -> None:
    """Grant the demo users named (those just created or reset) their accounts. An existing
    user's entitlements are the installer's: a revoked one is not granted again."""
    User = get_user_model()
    codes = [spec["code"] for spec in ACCOUNTS]
    accounts = {a.code: a for a in Account.objects.filter(code__in=codes)}
    for username, wanted in DEMO_ENTITLEMENTS.items():
        if username not in usernames:
            continue
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        for code in codes if wanted is None else wanted:
            if code in accounts:
                entitlement_grant(user=user, account=accounts[code], actor="command:seed_demo")


@transaction.atomic
def seed_accounts() -> None:
    """The demo accounts, their natural persons' MiFIR identities and the power of attorney.
    An account seeded before trading capacities (still DEAL) becomes its demo capacity."""
    for spec in ACCOUNTS:
        maker = spec.get("decision_maker")
        maker = beneficial_owner_resolve(name=maker, actor="command:seed_demo") if maker else None
        found = Account.objects.filter(code=spec["code"]).first()
        if found is None:
            fields = {
                k: v for k, v in spec.items() if k not in ("beneficial_owner_lei", "decision_maker")
            }
            owner = beneficial_owner_resolve(
                name=spec["beneficial_owner"], lei=spec.get("beneficial_owner_lei", "")
            )
            fields.update(
                beneficial_owner=owner,
                credit_limit=Decimal(spec["credit_limit"]),
                decision_maker=maker,
            )
            account_create(**fields)
        elif found.trading_capacity == "DEAL" and spec.get("trading_capacity", "DEAL") != "DEAL":
            changes = {"trading_capacity": spec["trading_capacity"]}
            if maker is not None and found.decision_maker_id is None:
                changes["decision_maker"] = maker
            account_update(account=found, actor="command:seed_demo", **changes)
    for name, spec in CLIENT_PERSONS.items():
        owner = beneficial_owner_resolve(name=name, actor="command:seed_demo")
        if not ClientPerson.objects.filter(owner=owner).exists():
            client_person_set(owner=owner, actor="command:seed_demo", **_identity_fields(spec))


@transaction.atomic
def seed_staff_identities() -> None:
    """The MiFIR identities of the demo users who trade (created when missing)."""
    User = get_user_model()
    for username, spec in STAFF_IDENTITIES.items():
        user = User.objects.filter(username=username).first()
        if user is not None and not StaffIdentity.objects.filter(user=user).exists():
            staff_identity_set(user=user, actor="command:seed_demo", **_identity_fields(spec))


@transaction.atomic
def seed_instruments() -> dict[str, Instrument]:
    """The demo instruments by symbol (the existing ones included)."""
    existing = {i.symbol: i for i in Instrument.objects.all()}
    # Underlyings first, so that derivatives can point at them.
    for spec in sorted(INSTRUMENTS, key=lambda s: bool(s["underlying"])):
        multiplier = Decimal(spec.get("multiplier", "1"))
        reportable = spec.get("mifir_reportable", True)
        found = existing.get(spec["symbol"])
        if found is not None:
            changes = {}
            if found.multiplier == 1 and multiplier != 1:  # seeded before contract sizes
                changes["multiplier"] = multiplier
            if found.mifir_reportable != reportable:  # the demo's MiFIR scope (see the data)
                changes["mifir_reportable"] = reportable
            if changes:
                existing[spec["symbol"]] = instrument_update(
                    instrument=found, actor="command:seed_demo", **changes
                )
            continue
        existing[spec["symbol"]] = instrument_create(
            **{k: spec[k] for k in INSTRUMENT_FIELDS},
            underlying=existing.get(spec["underlying"]) if spec["underlying"] else None,
            lot_size=Decimal(spec["lot_size"]),
            tick_size=Decimal(spec["tick_size"]),
            multiplier=multiplier,
            mifir_reportable=reportable,
        )
    return existing


@transaction.atomic
def seed_prices(instruments: dict[str, Instrument], history: bool = True) -> None:
    """A reference price for each demo instrument that has none, and the daily history."""
    today = utcnow().date()
    for spec in INSTRUMENTS:
        instrument = instruments[spec["symbol"]]
        bars = _bars(spec, today)
        if not instrument.reference_prices.exists():
            reference_price_record(
                instrument=instrument,
                price=quantize(bars[-1]["close"]),
                as_of=utcnow(),
                source="demo",
            )
        if history:
            daily_prices_load(instrument=instrument, bars=bars)


@transaction.atomic
def seed_fx_rates() -> int:
    """The demo's exchange rates: a pair with no rate younger than half the gate's maximum age
    is recorded (again) at the demo rate. Returns how many were recorded."""
    fresh_after = utcnow() - timedelta(seconds=settings.FX_RATE_MAX_AGE_SECONDS / 2)
    recorded = 0
    for base, quote, rate in FX_RATES:
        if FxRate.objects.filter(base=base, quote=quote, as_of__gte=fresh_after).exists():
            continue
        fx_rate_record(base=base, quote=quote, rate=rate, source="demo")
        recorded += 1
    return recorded
