"""Drive realistic order flow through the pre-trade gate, so that every page has something to show.

    python manage.py simulate_flow --orders 200 [--seed 7]

The demo traders ("trader" and "trader2", made by seed_demo) send orders for the demo accounts
straight through `gate.order_submit` (the API's path without HTTP): mostly crypto pairs and,
while their markets are open, equities, ETFs and listed derivatives, with limits near the
reference price. A share of the accepted orders is then filled (in part or in full) and some are
canceled. Mixed in are the breaches and patterns the controls and surveillance exist for:

- a burst of rapid orders on one account (the order rate throttle);
- limits far outside the price collar;
- oversized orders (max order value, order size, position limits);
- orders in restricted instruments and issuers;
- orders above the approval threshold (held for a compliance officer);
- a retail account reaching for crypto (market access);
- the same order sent twice by mistake (duplicate order);
- wash-like pairs: ACC-001 buys what ACC-004 sells, same instrument, same price, both filled
  (the two accounts share a beneficial owner; each leg is filled before the other is sent, so
  the self-trade rule, which judges working orders, lets it through to surveillance);
- a cross between the two accounts of that owner while both orders work (the self-trade
  rule rejects it);
- layering: several orders stacked on one side, a small fill on the other, the stack canceled;
- spoofing: small bids, then one fifty times their size pulled at once, unfilled, while a
  small sell on the other side fills;
- a ramp: five buys of one crypto pair, each 30 bp over a reference price that follows the
  price up (+151 bp in all) in a thin market (ramping / momentum ignition);
- short sales (Reg SHO): a sale marked long of shares the account does not hold
  (mismarked_short) and a short sale of a US equity without a locate (locate_missing).

Everyday sales of shares and ETFs are marked as a desk marks them: `sell` when the account
holds what it sells (less its open sells), else `sell_short`, with a locate from the demo
lender recorded first for a US equity.

The market's tape follows the flow (apps.demo.market_tape): each fill of the run is a print on
its venue with the touch a moment before it and other participants' prints after it, so the
detectors have market context (price move, share of volume, distance from the touch).

Then compliance works the queue: of the run's held orders, "compliance" approves the first and
"compliance2" denies the second (each re-checked and audited like a decision on the page); the
rest stay pending, so the approval queue has something waiting and something in its history.

Everyday flow and the patterns stay under each account's order rate throttle (waiting when an
account is at it, as a desk would); only the burst breaks it. So a large --orders takes a few
minutes, about 100 orders a minute per account.

The same --seed gives the same flow from the same database state (a run long enough to wait for
a throttle may pick other accounts). Every run has its own run id
in the client order ids and exec ids, so runs never collide. Nothing is created but orders,
fills, cancels, the locates of the short sales, the market tape around the fills, the ramp's
reference prices (and, when a reference price has grown too old
for the collar or an FX rate too old for the gate, a fresh tick at the same price or rate, as a
market-data feed would send).
"""

import random
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.approvals.services import approval_decide
from apps.core.calendars import market_is_open
from apps.core.errors import PlatformError
from apps.core.time import utcnow
from apps.core.types import decimal_str
from apps.demo.market_tape import market_tape_for_fills
from apps.rules import gate
from apps.rules.models import ComplianceRule, RestrictedListEntry, RuleStatus, RuleType
from apps.trading import pricing
from apps.trading.models import (
    EQUITY_CLASSES,
    FILLABLE_STATUSES,
    Account,
    Fill,
    FxRate,
    Instrument,
    Liquidity,
    Order,
    OrderStatus,
    Position,
    Side,
    WorkingExposure,
)
from apps.trading.selectors import fx_rate_latest_only, instrument_latest_price
from apps.trading.services import (
    fx_rate_record,
    locate_record,
    order_cancel,
    order_fill,
    reference_price_record,
)

TRADERS = ("trader", "trader2")
OFFICERS = ("compliance", "compliance2")
DECISIONS = (
    ("approve", "Within the client's mandate; the desk head confirmed by phone."),
    ("deny", "Too large for this account in one order: split it and send it again."),
)
# Which trader works which account, and each account's everyday flow: the asset classes it
# trades, the notional of a typical order (below the approval threshold) and how often it
# trades (the retail clients seldom, within their small credit lines).
DESKS = {
    "ACC-001": ("trader", ("equity", "etf", "crypto"), (5_000, 40_000), 3),
    "ACC-002": ("trader", ("equity", "etf", "option"), (10_000, 45_000), 4),
    "ACC-003": ("trader", ("equity", "crypto"), (1_000, 5_000), 1),
    "ACC-004": ("trader", ("equity", "crypto"), (2_000, 20_000), 2),
    "ACC-005": ("trader2", ("equity", "etf", "future"), (10_000, 45_000), 3),
    "ACC-006": ("trader2", ("equity", "etf"), (1_000, 8_000), 1),
    "ACC-007": ("trader2", ("crypto",), (5_000, 45_000), 4),
}
WASH_ACCOUNTS = ("ACC-001", "ACC-004")  # one beneficial owner
BURST_ACCOUNT = "ACC-007"
LAYERING_ACCOUNT = "ACC-001"
SPOOFING_ACCOUNT = "ACC-004"
RAMP_ACCOUNT = "ACC-005"
RAMP_STEP = Decimal("0.003")  # each buy 30 bp over the reference, which then follows it
STRATEGIES = ("mean-rev-7", "momentum-3", "pairs-2", "vwap-exec", "basis-1")
# Planned size of each pattern, in orders (the burst is sized from the throttle at run time).
PATTERNS = {
    "held": 3,
    "collar": 2,
    "oversized": 3,
    "restricted": 3,
    "market_access": 1,
    "duplicate": 2,
    "wash": 4,
    "self_trade": 2,
    "layering": 6,
    "spoofing": 11,
    "short_sale": 2,
    "ramp": 5,
}
DEMO_LENDER = "Demo Prime Brokerage, securities lending"


@dataclass
class Tally:
    decisions: Counter = field(default_factory=Counter)
    failing: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    patterns: Counter = field(default_factory=Counter)
    approvals: Counter = field(default_factory=Counter)
    fills: int = 0
    cancels: int = 0
    tape: tuple = (0, 0)  # market trades and quotes recorded around the fills


class Command(BaseCommand):
    help = "Drive realistic order flow (with breaches and manipulative patterns) through the gate."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=200, help="Orders to submit.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed (repeatable).")

    def handle(self, *args, orders: int, seed: int | None, **options):
        if orders < 1:
            raise CommandError("--orders must be at least 1.")
        self.rng = random.Random(seed)
        # From the clock, not the seed: client order ids must differ between runs.
        self.run_id = _base36(time.time_ns())
        self.total = orders
        self.submitted = 0
        self.seq = 0
        self.tally = Tally()
        self.thin_fills: set[int] = set()  # fills in a thin market (the ramp)
        self._load()
        normal: list[Order] = []

        self.plan = self._plan()
        first = (self.total - sum(self.plan.values())) // 2
        normal += self._normal_flow(first)
        for name in self.plan:
            if self._left() <= 0:
                break
            self.tally.patterns[name] += getattr(self, f"_pattern_{name}")()
        normal += self._normal_flow(self._left())
        self._lifecycle(normal)
        self._market_tape()
        self._work_the_queue()
        self._summary()

    # --- setup ---------------------------------------------------------------------------------

    def _load(self) -> None:
        users = {u.username: u for u in get_user_model().objects.filter(username__in=TRADERS)}
        missing = [name for name in TRADERS if name not in users]
        if missing:
            raise CommandError(f"Missing demo users {', '.join(missing)}: run seed_demo first.")
        self.users = users
        self.accounts = {a.code: a for a in Account.objects.filter(code__in=DESKS, is_active=True)}
        if not self.accounts:
            raise CommandError("No demo accounts: run seed_demo first.")
        self.now = utcnow()
        instruments = list(
            Instrument.objects.filter(is_active=True)
            .select_related("underlying")
            .order_by("symbol")
        )
        self.instruments = {i.symbol: i for i in instruments}
        self.prices = self._reference_prices(instruments)
        self._fx_rates_refreshed()
        self.restricted = self._restricted_ids(instruments)
        tradable = [i for i in instruments if i.pk in self.prices and i.pk not in self.restricted]
        self.open = [i for i in tradable if market_is_open(i.calendar_code, self.now)]
        self.crypto = [i for i in self.open if i.asset_class == "crypto"]
        self.listed = [i for i in self.open if i.asset_class != "crypto"]
        self.throttles = self._throttles()
        self.per_second = self._per_second_limits()
        self.sides: dict[tuple[int, int], str] = {}
        self.messages: dict[str, deque] = defaultdict(deque)  # new orders and cancels
        self.recent: dict[str, deque] = defaultdict(deque)
        since = self.now - timedelta(seconds=60)
        for code, created in Order.objects.filter(
            account__code__in=list(self.accounts), created_at__gte=since
        ).values_list("account__code", "created_at"):
            self.recent[code].append(created)

    def _reference_prices(self, instruments) -> dict[int, Decimal]:
        """Each instrument's reference price; a tick at the same price when it is too old for
        the collar (the demo has no market-data feed)."""
        max_age = min(
            (
                int(r.parameters.get("max_age_seconds", 300))
                for r in ComplianceRule.objects.filter(
                    rule_type=RuleType.PRICE_COLLAR, status=RuleStatus.ACTIVE
                )
            ),
            default=300,
        )
        prices = {}
        for instrument in instruments:
            latest = instrument_latest_price(instrument)
            if latest is None:
                continue
            if (self.now - latest.as_of).total_seconds() > max_age / 2:
                latest = reference_price_record(
                    instrument=instrument, price=latest.price, source="simulate_flow"
                )
            prices[instrument.pk] = latest.price
        return prices

    def _fx_rates_refreshed(self) -> None:
        """A rate at the same level for each pair whose latest is older than half the gate's
        maximum age (the demo has no FX feed)."""
        stale = self.now - timedelta(seconds=settings.FX_RATE_MAX_AGE_SECONDS / 2)
        # The latest of each pair, where even that is old.
        for rate in fx_rate_latest_only(FxRate.objects.filter(as_of__lt=stale)):
            fx_rate_record(base=rate.base, quote=rate.quote, rate=rate.rate, source="simulate_flow")

    def _restricted_ids(self, instruments) -> set[int]:
        live = RestrictedListEntry.objects.filter(
            Q(effective_from__lte=self.now),
            Q(effective_until__isnull=True) | Q(effective_until__gt=self.now),
        )
        ids = set(live.exclude(instrument=None).values_list("instrument_id", flat=True))
        issuers = set(live.exclude(issuer="").values_list("issuer", flat=True))
        return {
            i.pk
            for i in instruments
            if i.pk in ids
            or i.issuer in issuers
            or (i.underlying is not None and i.underlying.issuer in issuers)
        }

    def _throttles(self) -> dict[str, int]:
        """Orders a minute each account may send, from the live order rate rules."""
        rules = ComplianceRule.objects.filter(
            rule_type=RuleType.ORDER_RATE, status=RuleStatus.ACTIVE, scope__in=["firm", "account"]
        )
        limits = dict.fromkeys(self.accounts, 10**6)
        for rule in rules:
            limit = int(rule.parameters.get("max_per_minute", 120))
            for code in limits:
                if rule.scope == "firm" or rule.scope_value == code:
                    limits[code] = min(limits[code], limit)
        return limits

    def _per_second_limits(self) -> dict[str, int]:
        """Messages a second each account may send, from the live message limits."""
        rules = ComplianceRule.objects.filter(
            rule_type=RuleType.MESSAGE_RATE, status=RuleStatus.ACTIVE, scope__in=["firm", "account"]
        )
        limits = dict.fromkeys(self.accounts, 10**6)
        for rule in rules:
            limit = rule.parameters.get("max_per_second")
            if limit is None or rule.parameters.get("per", "both") == "user":
                continue
            for code in limits:
                if rule.scope == "firm" or rule.scope_value == code:
                    limits[code] = min(limits[code], int(limit))
        return limits

    def _plan(self) -> dict[str, int]:
        """The patterns that fit, leaving at least a third of the orders to everyday flow."""
        burst = self.throttles.get(BURST_ACCOUNT, 10)
        candidates = {"burst": min(burst, 30) + 4, **PATTERNS}
        budget = self.total - max(1, self.total // 3)
        plan = {}
        for name, size in candidates.items():
            if size <= budget:
                plan[name] = size
                budget -= size
        order = list(plan)
        self.rng.shuffle(order)
        return {name: plan[name] for name in order}

    # --- one order -----------------------------------------------------------------------------

    def _left(self) -> int:
        return self.total - self.submitted

    def _client_id(self) -> str:
        self.seq += 1
        return f"sim-{self.run_id}-{self.seq:05d}"

    def _price(self, instrument: Instrument, offset_pct: float = 0.0) -> Decimal:
        """The reference price moved by `offset_pct` percent, on the instrument's tick."""
        ref = self.prices[instrument.pk]
        raw = ref * (1 + Decimal(str(round(offset_pct, 4))) / 100)
        tick = instrument.tick_size
        return max(tick, (raw / tick).quantize(Decimal(1), rounding=ROUND_HALF_UP) * tick)

    def _near(self, instrument: Instrument) -> Decimal:
        """A limit near the reference: within about half a percent, never beyond one."""
        return self._price(instrument, max(-1.0, min(1.0, self.rng.gauss(0, 0.35))))

    @staticmethod
    def _quantity(instrument: Instrument, notional: float, price: Decimal) -> Decimal:
        """As many whole lots as `notional` buys at `price` (contracts: at price x multiplier);
        one lot at least."""
        lot = instrument.lot_size
        per_lot = pricing.notional(lot, price, instrument.multiplier)
        lots = (Decimal(str(notional)) / per_lot).quantize(Decimal(1), rounding=ROUND_DOWN)
        return max(lot, lots * lot)

    def _metadata(self, manual: bool = False) -> dict:
        if manual:
            return {"decision_source": "manual", "note": "desk order"}
        n = self.rng.randint(1000, 99999)
        return {
            "strategy": self.rng.choice(STRATEGIES),
            "signal_id": f"sig-{self.run_id}-{n}",
            "risk_score": f"{self.rng.uniform(0.05, 0.8):.2f}",
            "decision_source": "algo",
        }

    def _submit(
        self,
        account_code: str,
        instrument: Instrument,
        side: str,
        quantity: Decimal,
        price: Decimal | None,
        *,
        metadata: dict | None = None,
        paced: bool = True,
        clear_crossing: bool = False,
    ) -> Order | None:
        # Only the burst ignores the throttle: a throttled layering or wash order would hide
        # the pattern it belongs to.
        while paced and not self._has_room(account_code):
            time.sleep(1)
        if clear_crossing:
            self._clear_crossing(account_code, instrument, side, price)
        account = self.accounts[account_code]
        user = self.users[DESKS[account_code][0]]
        order_type = "limit" if price is not None else "market"
        metadata = metadata if metadata is not None else self._metadata()
        client_order_id = self._client_id()
        body = {
            "client_order_id": client_order_id,
            "account": account.code,
            "instrument": instrument.symbol,
            "side": side,
            "order_type": order_type,
            "quantity": decimal_str(quantity),
            "limit_price": decimal_str(price),
            "time_in_force": "day",
            "metadata": metadata,
        }
        req = gate.OrderRequest(
            account=account,
            instrument=instrument,
            client_order_id=client_order_id,
            side=side,
            order_type=order_type,
            quantity=quantity,
            limit_price=price,
            time_in_force="day",
            metadata=metadata,
            body=body,
        )
        answer = gate.order_submit(req=req, user=user)
        self.submitted += 1
        self.recent[account_code].append(utcnow())
        self.messages[account_code].append(utcnow())
        if answer.status == OrderStatus.PENDING_APPROVAL:
            # The everyday flow of its owner takes its side while it waits (see `_side`).
            self.sides[(account.beneficial_owner_id, instrument.pk)] = side
        self.tally.decisions[answer.status] += 1
        for check in answer.checks:
            if check["status"] == "fail":
                self.tally.failing[check["rule"]] += 1
            elif check["status"] == "warn":
                self.tally.warnings[check["rule"]] += 1
        return answer.order

    def _clear_crossing(
        self, account_code: str, instrument: Instrument, side: str, price: Decimal | None
    ) -> None:
        """A desk does not trade with itself: before an order it withdraws the working orders
        of the account's beneficial owner that the order would cross. Held ones stay (their
        approver decides them): the self-trade rule then rejects the order."""
        crossing = Order.objects.filter(
            account__beneficial_owner_id=self.accounts[account_code].beneficial_owner_id,
            instrument=instrument,
            status__in=FILLABLE_STATUSES,
        )
        crossing = crossing.exclude(side="buy") if side == "buy" else crossing.filter(side="buy")
        if price is not None:
            at = Q(limit_price__lte=price) if side == "buy" else Q(limit_price__gte=price)
            crossing = crossing.filter(Q(order_type="market") | at)
        for order in crossing.select_related("account", "instrument"):
            self._cancel(order, "Withdrawn: the desk does not trade with itself.")

    def _fill(self, order: Order, quantity: Decimal, price: Decimal | None = None):
        self.seq += 1
        fill, _ = order_fill(
            order=order,
            exec_id=f"sim-{self.run_id}-X{self.seq:05d}",
            quantity=quantity,
            price=price or order.limit_price or self.prices[order.instrument_id],
            venue=order.instrument.mic,
            executed_at=utcnow(),
            liquidity=self.rng.choice([Liquidity.ADDED, Liquidity.REMOVED]),
            actor=self.users[DESKS[order.account.code][0]],
        )
        self.tally.fills += 1
        return fill

    def _cancel(self, order: Order, reason: str) -> None:
        order_cancel(order=order, actor=self.users[DESKS[order.account.code][0]], reason=reason)
        self.messages[order.account.code].append(utcnow())
        self.tally.cancels += 1

    # --- everyday flow -------------------------------------------------------------------------

    def _has_room(self, code: str) -> bool:
        """Everyday flow stays under each account's throttle (only the burst breaks it); the
        burst account keeps half its throttle free, so that the burst is what trips it."""
        window = self.recent[code]
        cutoff = utcnow() - timedelta(seconds=60)
        while window and window[0] < cutoff:
            window.popleft()
        limit = self.throttles[code]
        budget = max(1, limit // 2 if code == BURST_ACCOUNT else limit - 1)
        # Half the per-second message limit at most: cancels count too.
        messages = self.messages[code]
        second = utcnow() - timedelta(seconds=1)
        while messages and messages[0] < second:
            messages.popleft()
        return len(window) < budget and len(messages) < max(1, self.per_second[code] // 2)

    def _side(self, code: str, instrument: Instrument) -> str:
        """Each beneficial owner works one side of an instrument in a run, as a desk would, so
        that the everyday flow of one owner's accounts never crosses itself."""
        key = (self.accounts[code].beneficial_owner_id, instrument.pk)
        if key not in self.sides:
            self.sides[key] = "buy" if self.rng.random() < 0.55 else "sell"
        return self.sides[key]

    def _desk_account(self, instrument: Instrument) -> str | None:
        codes = [code for code in sorted(self.accounts) if instrument.asset_class in DESKS[code][1]]
        while codes:
            room = [c for c in codes if self._has_room(c)]
            if room:
                return self.rng.choices(room, weights=[DESKS[c][3] for c in room])[0]
            time.sleep(1)  # every account is at its throttle: wait, as a real desk would
        return None

    def _normal_flow(self, count: int) -> list[Order]:
        orders: list[Order] = []
        target = self.submitted + max(0, min(count, self._left()))
        for _ in range(5 * (target - self.submitted)):  # an attempt may find no desk
            if self.submitted >= target:
                break
            pool = self.listed if self.listed and self.rng.random() < 0.6 else self.crypto
            if not pool:
                break
            instrument = self.rng.choice(pool)
            code = self._desk_account(instrument)
            if code is None:
                continue
            low, high = DESKS[code][2]
            price = self._near(instrument)
            quantity = self._quantity(instrument, self.rng.uniform(low, high), price)
            if pricing.notional(quantity, price, instrument.multiplier) > high:
                continue  # one contract is more than the desk's everyday order (an index future)
            side = self._side(code, instrument)
            manual = self.rng.random() < 0.15  # typed at the desk: no signal id (a warning)
            metadata = self._metadata(manual)
            if side == "sell":
                side = self._sale_side(code, instrument, quantity, metadata)
            order = self._submit(code, instrument, side, quantity, price, metadata=metadata)
            if order is not None and order.status == OrderStatus.ACCEPTED:
                orders.append(order)
        return orders

    def _held(self, code: str, instrument: Instrument) -> Decimal:
        """What the account holds of the instrument and is not already selling."""
        key = {"account__code": code, "instrument": instrument}
        position = Position.objects.filter(**key).values_list("quantity", flat=True).first()
        selling = (
            WorkingExposure.objects.filter(**key).values_list("sell_quantity", flat=True).first()
        )
        return (position or Decimal(0)) - (selling or Decimal(0))

    def _sale_side(self, code: str, instrument: Instrument, quantity: Decimal, metadata) -> str:
        """How the desk marks a sale (Reg SHO 200(g)): long when the account holds what it
        sells; short otherwise, naming a locate it records first for a US equity."""
        if instrument.asset_class not in EQUITY_CLASSES:
            return Side.SELL
        if self._held(code, instrument) >= quantity:
            return Side.SELL
        if instrument.is_us_equity:
            locate = locate_record(
                account=self.accounts[code],
                instrument=instrument,
                lender=DEMO_LENDER,
                reference=f"LOC-{self.run_id}-{self.seq + 1:05d}",
                quantity=quantity,
                expires_at=utcnow() + timedelta(hours=8),
                actor=self.users[DESKS[code][0]],
            )
            metadata["locate_id"] = locate.pk
        return Side.SELL_SHORT

    def _lifecycle(self, orders: list[Order]) -> None:
        """Fill about half the accepted orders (a third of those in part), cancel some more."""
        for order in orders:
            roll = self.rng.random()
            order.refresh_from_db(fields=["status"])
            if order.status != OrderStatus.ACCEPTED:
                continue  # withdrawn since (see `_clear_crossing`)
            if roll < 0.5:
                partial = self.rng.random() < 0.35
                quantity = order.quantity
                if partial:
                    lot = order.instrument.lot_size
                    half = (order.quantity / 2 / lot).quantize(Decimal(1), ROUND_DOWN) * lot
                    quantity = half if half > 0 else order.quantity
                self._fill(order, quantity)
            elif roll < 0.65:
                self._cancel(order, "Strategy withdrew the order.")

    # --- breaches and patterns -----------------------------------------------------------------

    def _pick(self, *symbols: str) -> Instrument | None:
        for symbol in symbols:
            instrument = self.instruments.get(symbol)
            if instrument is not None and instrument.pk in self.prices:
                return instrument
        return None

    def _listed_or(self, symbol: str) -> Instrument | None:
        """An open listed instrument when there is one, else the crypto pair."""
        return self.rng.choice(self.listed) if self.listed else self._crypto(symbol)

    def _crypto(self, symbol: str) -> Instrument | None:
        return self._pick(symbol) or (self.rng.choice(self.crypto) if self.crypto else None)

    def _pattern_burst(self) -> int:
        """An algorithm gone wild: rapid small orders until well past the throttle."""
        if BURST_ACCOUNT not in self.accounts or not self.crypto:
            return 0
        sent = 0
        for _ in range(min(self.plan["burst"], self._left())):
            instrument = self.rng.choice(self.crypto)
            price = self._near(instrument)
            quantity = self._quantity(instrument, self.rng.uniform(2_000, 6_000), price)
            side = self.rng.choice(["buy", "sell"])
            self._submit(BURST_ACCOUNT, instrument, side, quantity, price, paced=False)
            sent += 1
        return sent

    def _pattern_held(self) -> int:
        """Large orders, above the approval threshold: they wait for a compliance officer."""
        plans = [
            ("ACC-004", self._crypto("BTC-USD"), 110_000),
            ("ACC-001", self._crypto("ETH-USD"), 85_000),
            ("ACC-005", self._listed_or("SOL-USD"), 140_000),
        ]
        # Cleared of crossing orders first: held, they then wait for their approver.
        return self._send_sized(plans, "buy", clear_crossing=True)

    def _send_sized(
        self, plans, side: str, offset_pct: float | None = None, *, clear_crossing: bool = False
    ) -> int:
        sent = 0
        for code, instrument, notional in plans:
            if self._left() <= 0 or instrument is None or code not in self.accounts:
                continue
            if offset_pct is None:
                price = self._near(instrument)
            else:
                price = self._price(instrument, offset_pct)
            quantity = self._quantity(instrument, notional, self._near(instrument))
            self._submit(code, instrument, side, quantity, price, clear_crossing=clear_crossing)
            sent += 1
        return sent

    def _pattern_collar(self) -> int:
        """Fat-fingered limits: 15% through the market, far outside the 5% collar."""
        sent = self._send_sized([("ACC-004", self._crypto("BTC-USD"), 3_000)], "buy", 15)
        return sent + self._send_sized([("ACC-001", self._crypto("ETH-USD"), 4_000)], "sell", -15)

    def _pattern_oversized(self) -> int:
        """Above the max order value, the order size and the position limits."""
        sent = 0
        btc = self._pick("BTC-USD")
        if btc is not None and self._left() > 0 and "ACC-002" in self.accounts:
            self._submit("ACC-002", btc, "buy", Decimal("25"), self._near(btc))
            sent += 1
        eth = self._pick("ETH-USD")
        if eth is not None and self._left() > 0 and "ACC-004" in self.accounts:
            self._submit("ACC-004", eth, "buy", Decimal("400"), self._near(eth))
            sent += 1
        option = self._pick("AAPL260619C00250000", "MSFT260619P00480000")
        if option is not None and self._left() > 0 and "ACC-002" in self.accounts:
            # 30,000 contracts: cheap in premium, far above the options position limit.
            self._submit("ACC-002", option, "buy", Decimal("30000"), self._near(option))
            sent += 1
        return sent

    def _pattern_restricted(self) -> int:
        """Orders in names on the restricted list (directly, by issuer, by underlying)."""
        names = sorted(
            (i for i in self.instruments.values() if i.pk in self.restricted),
            key=lambda i: i.symbol,
        )
        sent = 0
        for instrument in names[:3]:
            if self._left() <= 0 or instrument.pk not in self.prices:
                continue
            code = "ACC-005" if instrument.currency == "EUR" else "ACC-002"
            price = self._near(instrument)
            quantity = self._quantity(instrument, 15_000, price)
            self._submit(code, instrument, "buy", quantity, price)
            sent += 1
        return sent

    def _pattern_market_access(self) -> int:
        """A retail client approved for cash equities only reaches for bitcoin."""
        return self._send_sized([("ACC-006", self._crypto("BTC-USD"), 2_000)], "buy")

    def _pattern_duplicate(self) -> int:
        """The same order sent twice within a second (a resend by mistake, new client id)."""
        instrument = self._crypto("ETH-USD")
        if instrument is None or "ACC-003" not in self.accounts:
            return 0
        price = self._near(instrument)
        quantity = self._quantity(instrument, 3_000, price)
        metadata = self._metadata()
        sent = 0
        for _ in range(2):
            if self._left() > 0:
                self._submit(
                    "ACC-003",
                    instrument,
                    "buy",
                    quantity,
                    price,
                    metadata=metadata,
                    clear_crossing=True,
                )
                sent += 1
        return sent

    def _pattern_wash(self) -> int:
        """Two accounts of one beneficial owner trade with each other: same size, same price."""
        if not all(code in self.accounts for code in WASH_ACCOUNTS):
            return 0
        sent = 0
        for symbol in ("ETH-USD", "SOL-USD"):
            instrument = self._crypto(symbol)
            if instrument is None or self._left() < 2:
                break
            price = self._near(instrument)
            quantity = self._quantity(instrument, self.rng.uniform(8_000, 20_000), price)
            buyer, seller = WASH_ACCOUNTS if self.rng.random() < 0.5 else WASH_ACCOUNTS[::-1]
            buy = self._submit(buyer, instrument, "buy", quantity, price, clear_crossing=True)
            sent += 1
            if buy is None or buy.status != OrderStatus.ACCEPTED:
                continue
            self._fill(buy, quantity, price)  # filled: no longer working, nothing to cross
            sell = self._submit(seller, instrument, "sell", quantity, price, clear_crossing=True)
            sent += 1
            if sell is not None and sell.status == OrderStatus.ACCEPTED:
                self._fill(sell, quantity, price)
        return sent

    def _pattern_self_trade(self) -> int:
        """ACC-004 rests a sell; ACC-001, of the same owner, buys at its price while it works:
        the self-trade rule rejects the buy, naming the sell. The sell is then withdrawn."""
        instrument = self._crypto("SOL-USD")
        if instrument is None or not all(code in self.accounts for code in WASH_ACCOUNTS):
            return 0
        if self._left() < 2:
            return 0
        price = self._near(instrument)
        quantity = self._quantity(instrument, 5_000, price)
        resting = self._submit(
            WASH_ACCOUNTS[1], instrument, "sell", quantity, price, clear_crossing=True
        )
        self._submit(WASH_ACCOUNTS[0], instrument, "buy", quantity, price)
        if resting is not None and resting.status == OrderStatus.ACCEPTED:
            self._cancel(resting, "Withdrawn.")
        return 2

    def _pattern_layering(self) -> int:
        """Orders stacked on the bid, a small sell filled into the lifted price, stack canceled."""
        instrument = self._crypto("SOL-USD")
        if instrument is None or LAYERING_ACCOUNT not in self.accounts:
            return 0
        layers = []
        for level in range(1, 6):
            if self._left() <= 1:
                break
            price = self._price(instrument, -0.15 * level)
            quantity = self._quantity(instrument, self.rng.uniform(15_000, 25_000), price)
            layer = self._submit(
                LAYERING_ACCOUNT, instrument, "buy", quantity, price, clear_crossing=True
            )
            layers.append(layer)
        sent = len(layers)
        if self._left() > 0:
            price = self._price(instrument, 0.2)
            quantity = self._quantity(instrument, 3_000, price)
            sell = self._submit(
                LAYERING_ACCOUNT, instrument, "sell", quantity, price, clear_crossing=True
            )
            sent += 1
            if sell is not None and sell.status == OrderStatus.ACCEPTED:
                self._fill(sell, quantity, price)
        for order in layers:
            if order is not None and order.status == OrderStatus.ACCEPTED:
                self._cancel(order, "Layer withdrawn.")
        return sent

    def _pattern_spoofing(self) -> int:
        """Small bids rest; a bid fifty times their size (under the approval threshold)
        appears, a small sell fills into it, and the big bid is pulled at once, unfilled."""
        instrument = self._crypto("ETH-USD")
        if instrument is None or SPOOFING_ACCOUNT not in self.accounts or self._left() < 11:
            return 0
        sent = 0
        usual = 800
        for level in range(1, 9):
            price = self._price(instrument, -0.3 * level)
            quantity = self._quantity(instrument, usual, price)
            self._submit(SPOOFING_ACCOUNT, instrument, "buy", quantity, price, clear_crossing=True)
            sent += 1
        price = self._price(instrument, -0.05)
        big = self._submit(
            SPOOFING_ACCOUNT,
            instrument,
            "buy",
            self._quantity(instrument, 50 * usual, price),
            price,
            clear_crossing=True,
        )
        price = self._price(instrument, 0.1)
        quantity = self._quantity(instrument, usual, price)
        sell = self._submit(
            SPOOFING_ACCOUNT, instrument, "sell", quantity, price, clear_crossing=True
        )
        sent += 2
        if sell is not None and sell.status == OrderStatus.ACCEPTED:
            self._fill(sell, quantity, price)
        if big is not None and big.status == OrderStatus.ACCEPTED:
            self._cancel(big, "Withdrawn.")
        return sent

    def _pattern_short_sale(self) -> int:
        """A sale marked long of shares the account does not hold (mismarked), and a short
        sale of a US equity that names no locate."""
        shares = [i for i in self.listed if i.is_us_equity]
        if not shares or "ACC-002" not in self.accounts:
            return 0
        instrument = self.rng.choice(shares)
        price = self._near(instrument)
        quantity = self._quantity(instrument, 20_000, price)
        held = max(self._held("ACC-002", instrument), Decimal(0))
        sent = 0
        for side, size in ((Side.SELL, held + quantity), (Side.SELL_SHORT, quantity)):
            if self._left() > 0:
                self._submit("ACC-002", instrument, side, size, price)
                sent += 1
        return sent

    # --- summary -------------------------------------------------------------------------------

    def _pattern_ramp(self) -> int:
        """Momentum ignition: buys that each pay 30 bp over a reference price that then
        follows them, in a thin market, so that the price climbs with every one."""
        if RAMP_ACCOUNT not in self.accounts:
            return 0
        instrument = self._crypto("BTC-USD")
        if instrument is None:
            return 0
        sent = 0
        quantity = None
        for _ in range(min(PATTERNS["ramp"], self._left())):
            price = self._price(instrument, float(RAMP_STEP * 100))
            quantity = quantity or self._quantity(instrument, 15_000, price)
            order = self._submit(RAMP_ACCOUNT, instrument, "buy", quantity, price)
            sent += 1
            if order is None or order.status != OrderStatus.ACCEPTED:
                break
            self.thin_fills.add(self._fill(order, quantity, price).pk)
            reference_price_record(instrument=instrument, price=price, source="simulate_flow")
            self.prices[instrument.pk] = price
        return sent

    def _market_tape(self) -> None:
        """The market around this run's fills (apps.demo.market_tape)."""
        fills = list(
            Fill.objects.filter(exec_id__startswith=f"sim-{self.run_id}-")
            .select_related("order__instrument")
            .order_by("executed_at", "pk")
        )
        if fills:
            self.tally.tape = market_tape_for_fills(fills, self.rng, thin=self.thin_fills)

    def _work_the_queue(self) -> None:
        """Approve one held order and deny another, leaving at least one waiting."""
        officers = list(get_user_model().objects.filter(username__in=OFFICERS).order_by("username"))
        held = list(
            ApprovalRequest.objects.filter(
                status=ApprovalStatus.PENDING,
                order__client_order_id__startswith=f"sim-{self.run_id}-",
            ).order_by("pk")
        )
        for (decision, comment), approval, officer in zip(
            DECISIONS, held[: max(len(held) - 1, 0)], officers, strict=False
        ):
            try:
                approval_decide(
                    approval=approval, actor=officer, decision=decision, comment=comment
                )
            except PlatformError as exc:  # e.g. the re-check found a limit breached by now
                self.tally.approvals[f"{decision} refused ({exc.code})"] += 1
            else:
                self.tally.approvals[decision] += 1

    def _summary(self) -> None:
        t, out = self.tally, self.stdout
        out.write(self.style.SUCCESS(f"Run {self.run_id}: {self.submitted} orders submitted."))
        out.write("Decisions: " + _counts(t.decisions))
        statuses = Counter(
            Order.objects.filter(client_order_id__startswith=f"sim-{self.run_id}-").values_list(
                "status", flat=True
            )
        )
        out.write("Orders now: " + _counts(statuses))
        out.write(f"Fills: {t.fills}   Cancels: {t.cancels}")
        out.write(f"Market tape: {t.tape[0]} trades and {t.tape[1]} quotes around the fills")
        out.write("Approval decisions: " + _counts(t.approvals))
        out.write("Patterns: " + _counts(t.patterns))
        out.write("Failing rules:")
        for code, n in sorted(t.failing.items(), key=lambda kv: (-kv[1], kv[0])):
            out.write(f"  {code:<20} {n}")
        if t.warnings:
            out.write("Warnings (shadow and warn rules):")
            for code, n in sorted(t.warnings.items(), key=lambda kv: (-kv[1], kv[0])):
                out.write(f"  {code:<20} {n}")


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"
