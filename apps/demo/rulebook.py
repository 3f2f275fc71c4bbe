"""The demo rule set: regulators, one or more live rules of every rule type, a restricted list.

Loaded by ``seed_demo`` after the trading demo data. This is the demo's initial state, written
straight into the tables: it is not a maker-checker change (there is no second officer to
approve anything yet, and the firm starts from a rule book it already has). Every later change
goes through the maker-checker services. Each row created is still audited.

Idempotent: rules are matched by code, entities by code, restricted entries by target and
reason; existing rows are left as they are (staff may have changed them since).

The demo accepts ordinary orders at any hour: the trading hours rule applies to every
instrument, and the crypto pairs trade on the always-open "24/7" calendar.
"""

from django.db import transaction

from apps.audit.events import EventType
from apps.audit.services import audit_record
from apps.core.time import utcnow
from apps.rules.checks import REGISTRY
from apps.rules.gate import ruleset_bump
from apps.rules.models import (
    ComplianceRule,
    PortfolioRuleType,
    RegulatoryEntity,
    RestrictedListEntry,
    RuleAction,
    RuleScope,
    RuleStatus,
    RuleType,
    RuleVersion,
)
from apps.rules.services import restricted_entry_fields, rule_snapshot
from apps.trading.models import Instrument

# code, name, jurisdiction, and the country of a national competent authority that receives
# MiFIR transaction reports ("" for the others: ESMA receives none from firms).
REGULATORY_ENTITIES = [
    ("SEC", "U.S. Securities and Exchange Commission", "United States", ""),
    ("FINRA", "Financial Industry Regulatory Authority", "United States", ""),
    ("CFTC", "U.S. Commodity Futures Trading Commission", "United States", ""),
    ("ESMA", "European Securities and Markets Authority", "European Union", ""),
    ("FCA", "Financial Conduct Authority", "United Kingdom", "GB"),
    ("BaFin", "Bundesanstalt für Finanzdienstleistungsaufsicht", "Germany", "DE"),
]

# The demo has no market-data feed: reference prices are as old as the last seed_demo or
# simulate_flow run, so the collars accept a week-old price. In production this is minutes.
DEMO_PRICE_MAX_AGE_SECONDS = 7 * 86400


def _rule(
    code: str,
    rule_type: RuleType | PortfolioRuleType,
    name: str,
    params: dict,
    *,
    entity: str,
    regulation: str,
    priority: int,
    description: str = "",
    scope: RuleScope = RuleScope.FIRM,
    scope_value: str = "",
    action: RuleAction = RuleAction.REJECT,
    status: RuleStatus = RuleStatus.ACTIVE,
) -> dict:
    return {
        "code": code,
        "rule_type": rule_type.value,
        "name": name,
        "parameters": params,
        "entity": entity,
        "regulation": regulation,
        "priority": priority,
        "description": description,
        "scope": scope.value,
        "scope_value": scope_value,
        "action": action.value,
        "status": status.value,
    }


T = RuleType
P = PortfolioRuleType
DEMO_RULES = [
    # --- who and what may trade -------------------------------------------------------------
    _rule(
        "RESTRICTED-1",
        T.RESTRICTED_LIST,
        "Restricted list",
        {},
        entity="SEC",
        regulation="SEC 15c3-5(c)(2)(ii)",
        priority=10,
        description="No orders in restricted instruments, issuers or their derivatives.",
    ),
    _rule(
        "MKT-ACCESS-1",
        T.MARKET_ACCESS,
        "Market access by account",
        {
            "default": "allow",
            "accounts": {"ACC-006": {"asset_classes": ["equity", "etf"], "instruments": []}},
            "users": {},
        },
        entity="SEC",
        regulation="SEC 15c3-5(c)(2)(iii)",
        priority=12,
        description="Retail client ACC-006 is approved for cash equities and ETFs only.",
    ),
    _rule(
        "HOURS-1",
        T.TRADING_HOURS,
        "Trading hours of the instrument's market",
        {"allow_pre_open": False},
        entity="SEC",
        regulation="SEC 15c3-5(c)(2)(i)",
        priority=15,
        description="Orders only while the instrument's exchange calendar is open; crypto "
        "pairs use the 24/7 calendar, so they pass at any hour.",
    ),
    # --- price -------------------------------------------------------------------------------
    _rule(
        "PX-COLLAR-1",
        T.PRICE_COLLAR,
        "Price collar 5%",
        {"max_deviation_pct": "5", "max_age_seconds": DEMO_PRICE_MAX_AGE_SECONDS},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(ii)",
        priority=20,
        description="A limit more than 5% from the reference price is an erroneous order.",
    ),
    _rule(
        "PX-COLLAR-2",
        T.PRICE_COLLAR,
        "Price collar 2% (shadow test)",
        {"max_deviation_pct": "2", "max_age_seconds": DEMO_PRICE_MAX_AGE_SECONDS},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(a)",
        priority=21,
        status=RuleStatus.TESTING,
        description="A tighter collar under evaluation: recorded on every order, never blocks.",
    ),
    _rule(
        "PX-REASON-1",
        T.PRICE_REASONABILITY,
        "Price within bounds and on the tick",
        {"min_price": "0.01", "max_price": "1000000"},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(a)",
        priority=22,
    ),
    # --- size --------------------------------------------------------------------------------
    _rule(
        "QTY-REASON-1",
        T.QUANTITY_REASONABILITY,
        "Fat-finger quantity",
        {"max_quantity": "1000000"},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(ii)",
        priority=30,
    ),
    _rule(
        "ORD-SIZE-EQ-1",
        T.ORDER_SIZE,
        "Equity order size 1 to 100,000 shares",
        {"min_quantity": "1", "max_quantity": "100000", "whole_lots": True},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(c)",
        priority=31,
        scope=RuleScope.ASSET_CLASS,
        scope_value="equity",
    ),
    _rule(
        "ORD-SIZE-BTC-1",
        T.ORDER_SIZE,
        "Bitcoin order size at most 10 BTC",
        {"min_quantity": "0.0001", "max_quantity": "10", "whole_lots": True},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(c)",
        priority=32,
        scope=RuleScope.INSTRUMENT,
        scope_value="BTC-USD",
    ),
    _rule(
        "MAX-NOTIONAL-1",
        T.MAX_NOTIONAL,
        "Max order value 1,000,000",
        {"max_notional": "1000000"},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(b)",
        priority=35,
    ),
    # --- positions and exposure --------------------------------------------------------------
    _rule(
        "POS-LIMIT-OPT-1",
        T.POSITION_LIMIT,
        "Options position limit 25,000 contracts",
        {"max_quantity": "25000"},
        entity="FINRA",
        regulation="FINRA 2360(b)(3)",
        priority=40,
        scope=RuleScope.ASSET_CLASS,
        scope_value="option",
    ),
    _rule(
        "POS-LIMIT-CRYPTO-1",
        T.POSITION_LIMIT,
        "Digital asset position limit 2,500,000",
        {"max_value": "2500000"},
        entity="CFTC",
        regulation="CFTC 17 CFR 1.73",
        priority=41,
        scope=RuleScope.ASSET_CLASS,
        scope_value="crypto",
        description="Risk-based limit on the value of any one digital asset position.",
    ),
    _rule(
        "GROSS-NOTIONAL-1",
        T.GROSS_NOTIONAL,
        "Account gross notional 20,000,000",
        {"max_gross_notional": "20000000"},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(i)",
        priority=45,
    ),
    _rule(
        "CREDIT-1",
        T.CREDIT_LIMIT,
        "Account credit limit",
        {"use_account_limit": True},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(i)",
        priority=46,
        description="Working orders, today's fills and the order within the account's credit.",
    ),
    _rule(
        "DAILY-VOL-1",
        T.DAILY_VOLUME,
        "Daily traded and working notional 15,000,000",
        {"max_notional": "15000000"},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(i)",
        priority=47,
    ),
    _rule(
        "FIRM-CAPITAL-1",
        T.FIRM_CAPITAL,
        "Firm-wide capital threshold 100,000,000 USD",
        {"max_notional": "100000000"},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(i)",
        priority=48,
        description="Every account's working orders and today's fills, with this order, in the "
        "firm's currency: the accounts' own lines add up to more than the firm sets aside.",
    ),
    _rule(
        "CONC-1",
        T.CONCENTRATION,
        "Pension fund: at most 5% in one name",
        {"max_pct": "5", "min_portfolio_value": "1000000"},
        entity="BaFin",
        regulation="AnlV § 4",
        priority=50,
        scope=RuleScope.ACCOUNT,
        scope_value="ACC-005",
        description="Diversification of the Pensionskasse's assets, judged from 1m of exposure.",
    ),
    _rule(
        "SECTOR-CONC-1",
        T.SECTOR_CONCENTRATION,
        "Fund: at most 25% in one industry",
        {"max_pct": "25", "min_portfolio_value": "1000000"},
        entity="SEC",
        regulation="Investment Company Act §8(b)(1)(E)",
        priority=51,
        scope=RuleScope.ACCOUNT,
        scope_value="ACC-002",
        description="Northbridge's stated policy not to concentrate in any one industry.",
    ),
    # --- short sales -------------------------------------------------------------------------
    _rule(
        "SHO-LOCATE-1",
        T.SHORT_SALE,
        "Short sales of US equities need a locate",
        {},
        entity="SEC",
        regulation="SEC Reg SHO 203(b)",
        priority=55,
        description="A sell_short of a US equity names a locate on record (metadata.locate_id) "
        "with enough shares left; sell_short_exempt is recorded as exempt.",
    ),
    _rule(
        "SHO-MARKING-1",
        T.SALE_MARKING,
        "A sale marked long must be of shares held",
        {"asset_classes": ["equity", "etf"]},
        entity="SEC",
        regulation="SEC Reg SHO 200(g)",
        priority=56,
        description="A sell that would take the account short, counting its open sells, is "
        "mismarked: it must be marked sell_short.",
    ),
    # --- order flow --------------------------------------------------------------------------
    _rule(
        "ORDER-RATE-1",
        T.ORDER_RATE,
        "Throttle: 120 orders a minute per account",
        {"max_per_minute": 120},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(d)",
        priority=60,
    ),
    _rule(
        "ORDER-RATE-2",
        T.ORDER_RATE,
        "Throttle: 10 orders a minute for Blue Harbor's new algorithm",
        {"max_per_minute": 10},
        entity="FCA",
        regulation="FCA MAR 7A.3.2R",
        priority=61,
        scope=RuleScope.ACCOUNT,
        scope_value="ACC-007",
        description="A tighter throttle while the client's new algorithm beds in.",
    ),
    _rule(
        "MSG-RATE-1",
        T.MESSAGE_RATE,
        "Message limit: 20 a second, 300 a minute per account",
        {"max_per_second": 20, "max_per_minute": 300, "per": "account"},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(d)",
        priority=59,
        description="New orders, amendments and cancels all count; amendments and new orders "
        "over the limit are refused, cancels never (they take risk off).",
    ),
    _rule(
        "MSG-RATE-2",
        T.MESSAGE_RATE,
        "Message limit: 50 a second, 1,200 a minute per trader",
        {"max_per_second": 50, "max_per_minute": 1200, "per": "user"},
        entity="ESMA",
        regulation="MiFID II RTS 6 art. 15(1)(d)",
        priority=59,
        description="What one trader or algorithm user sends on every account together.",
    ),
    _rule(
        "CANCEL-RATIO-1",
        T.CANCEL_RATIO,
        "Cancel-to-order ratio 90%",
        {"max_ratio": "0.9", "min_orders": 20, "exempt_market_makers": True},
        entity="ESMA",
        regulation="MAR art. 12(2)(c)",
        priority=62,
        description="An account that cancels nearly everything it sends may be spoofing; a "
        "market maker's quoting is exempt.",
    ),
    _rule(
        "DUP-ORDER-1",
        T.DUPLICATE_ORDER,
        "Duplicate order within 5 seconds",
        {"window_seconds": 5},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(ii)",
        priority=63,
        description="The same order while the first is still working; a child slice sent "
        "after the previous one filled is not a duplicate.",
    ),
    _rule(
        "SELF-TRADE-1",
        T.SELF_TRADE,
        "No self-trades or crosses between accounts of one owner",
        {"same_owner": True},
        entity="FINRA",
        regulation="FINRA 5210.02; MAR art. 12(1)(a)",
        priority=64,
        description="An order that would trade against a working order of its own account or "
        "of another account of the same beneficial owner (ACC-001 and ACC-004) is rejected.",
    ),
    # --- approval and provenance -------------------------------------------------------------
    _rule(
        "APPROVAL-1",
        T.APPROVAL_THRESHOLD,
        "Compliance approval above 50,000",
        {"notional": "50000", "ttl_seconds": 14400},
        entity="FINRA",
        regulation="FINRA 3110(b)",
        priority=90,
        action=RuleAction.HOLD,
        description="Orders above 50,000 wait for a compliance officer (four hours at most).",
    ),
    _rule(
        "PROVENANCE-1",
        T.DECISION_PROVENANCE,
        "Decision provenance: signal or risk check",
        {
            "require_any_of": ["signal_id", "risk_check_id"],
            "forbidden_decisions": ["override_limits"],
        },
        entity="ESMA",
        regulation="MiFID II art. 17(2)",
        priority=95,
        action=RuleAction.WARN,
        description="Warns (does not block) when an order cannot be traced to a signal or a "
        "risk check, so that desk orders typed by hand still pass in the demo.",
    ),
    # --- portfolio rules: the monitor evaluates them every minute of market hours ----------------
    _rule(
        "PF-ES-1",
        P.EXPECTED_SHORTFALL,
        "Expected shortfall 97.5% at most 10% of NAV",
        {"max_pct": "10", "confidence": "97.5", "lookback_days": 250},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(i)",
        priority=200,
        description="Historical simulation over the stored daily closes, per account and firm.",
    ),
    _rule(
        "PF-DD-1",
        P.MAX_DRAWDOWN,
        "Maximum drawdown of NAV at most 15%",
        {"max_pct": "15", "lookback_days": 250},
        entity="SEC",
        regulation="SEC 15c3-5(c)(1)(i)",
        priority=201,
    ),
    _rule(
        "PF-POS-1",
        P.POSITION_WEIGHT,
        "A single position at most 5% of the portfolio",
        {"max_pct": "5"},
        entity="ESMA",
        regulation="UCITS Directive art. 52(1)",
        priority=202,
    ),
    _rule(
        "PF-SECTOR-1",
        P.SECTOR_WEIGHT,
        "A sector at most 25% of the portfolio",
        {"max_pct": "25"},
        entity="ESMA",
        regulation="MiFID II art. 16(5)",
        priority=203,
    ),
    _rule(
        "PF-HHI-1",
        P.HERFINDAHL,
        "Concentration (Herfindahl-Hirschman index) at most 0.30",
        {"max_index": "0.30"},
        entity="ESMA",
        regulation="MiFID II art. 16(5)",
        priority=204,
    ),
    _rule(
        "PF-IS-1",
        P.IMPLEMENTATION_SHORTFALL,
        "Implementation shortfall at most 50 bp",
        {"max_bp": "50", "window_minutes": 1440},
        entity="ESMA",
        regulation="MiFID II art. 27(1)",
        priority=205,
        description="Fills against the reference price when each order was submitted, last day.",
    ),
    _rule(
        "PF-UPTIME-1",
        P.MONITOR_UPTIME,
        "Monitor up at least 99.5% of market hours",
        {"min_pct": "99.5", "window_hours": 24},
        entity="ESMA",
        regulation="RTS 6 art. 16",
        priority=206,
    ),
    _rule(
        "PF-DATA-1",
        P.DATA_QUALITY,
        "Fresh reference prices for at least 99% of instruments",
        # The demo has no price feed (see DEMO_PRICE_MAX_AGE_SECONDS); production: minutes.
        {"min_pct": "99", "max_age_seconds": DEMO_PRICE_MAX_AGE_SECONDS},
        entity="ESMA",
        regulation="RTS 6 art. 16",
        priority=207,
    ),
]

# (symbol or "", issuer or "", reason)
RESTRICTED = [
    ("BA", "", "Research quiet period: coverage initiation pending."),
    ("", "SAP SE", "Firm advises SAP SE on a pending acquisition: inside information."),
]


def _audit_created(row, after: dict) -> None:
    audit_record(
        event_type=EventType.CONFIG_CHANGED,
        object_type=row._meta.label_lower,
        object_id=row.pk,
        payload={"change": "demo_seeded", "before": None, "after": after},
    )


@transaction.atomic
def seed_entities() -> dict[str, RegulatoryEntity]:
    out = {}
    for code, name, jurisdiction, nca_country in REGULATORY_ENTITIES:
        fields = {"name": name, "jurisdiction": jurisdiction, "nca_country": nca_country}
        entity, created = RegulatoryEntity.objects.get_or_create(code=code, defaults=fields)
        if created:
            _audit_created(entity, {"code": code, **fields})
        out[code] = entity
    return out


@transaction.atomic
def seed_restricted_list() -> int:
    created = 0
    now = utcnow()
    for symbol, issuer, reason in RESTRICTED:
        instrument = Instrument.objects.filter(symbol=symbol).first() if symbol else None
        if symbol and instrument is None:
            continue  # the trading demo data is not loaded: nothing to restrict
        if RestrictedListEntry.objects.filter(
            instrument=instrument, issuer=issuer, reason=reason
        ).exists():
            continue
        entry = RestrictedListEntry(
            instrument=instrument, issuer=issuer, reason=reason, effective_from=now
        )
        entry.full_clean(exclude=["added_by"])
        entry.save()
        _audit_created(entry, restricted_entry_fields(entry))
        created += 1
    return created


@transaction.atomic
def seed_rules() -> int:
    """The demo's regulators, rules and restricted list; returns how many rules were created."""
    entities = seed_entities()
    created = 0
    for spec in DEMO_RULES:
        if ComplianceRule.objects.filter(code=spec["code"]).exists():
            continue
        fields = {k: v for k, v in spec.items() if k != "entity"}
        # Stored as the check module normalises them, like a rule saved through the admin.
        fields["parameters"] = REGISTRY[spec["rule_type"]].validate(dict(spec["parameters"]))
        rule = ComplianceRule(**fields, regulatory_entity=entities[spec["entity"]])
        rule.full_clean()
        rule.save()
        # Version 1 in the rule's history, as an approved change would leave it (no change row).
        snapshot = rule_snapshot(rule)
        RuleVersion.objects.create(rule=rule, version=rule.version, snapshot=snapshot)
        _audit_created(rule, snapshot)
        created += 1
    created_entries = seed_restricted_list()
    if created or created_entries:
        ruleset_bump()
    return created
