"""FINRA CAT order events (SEC Rule 613, the CAT NMS Plan): one file per CAT trading day.

The layout follows the CAT Reporting Technical Specifications for Industry Members, version
4.0.0 r18 (docs/reporting.md, "CAT order events", maps every field). The file holds one JSON
record per line, each an order event the platform knows of a CAT-reportable instrument:

- MENO, a new order: every order the gate accepted or held, at its submission;
- MEOM, a modification: every amendment;
- MEOC, a cancel: every cancel, and a held order that was denied or expired in the queue;
- MEOR, a route: each fill on a venue is the route of that quantity to the venue (destination
  its MIC), at the execution time;
- MEOT, a trade: each off-venue (XOFF) fill, the firm's own execution.

Orders the gate rejected at submission never became orders of the firm: they are counted in the
summary, not reported. A working order that expires by its time in force needs no cancel (its
timeInForce says when it ends).

Fills booked, corrected or busted after the file of their day was built go into the file of
the day they were booked or changed: a late fill as a NEW record, a correction as a COR record
and a bust as a DEL record of the record first sent (same firmROEID). The earlier file is never
built again by the schedule.

An account whose orders are reportable but which lacks its FDID or account holder type has
none of its records written (no half-filled record): the summary names it and says the file is
not complete, and an incomplete file cannot be marked submitted.
"""

from collections import Counter, defaultdict
from collections.abc import Iterator

import orjson
from django.conf import settings
from django.db.models import Q

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.core.calendars import is_business_day
from apps.core.errors import Conflict, ValidationFailed, field_errors
from apps.core.types import decimal_str
from apps.reporting.builders.base import CHUNK, NO_FILLS, ReportBuilder, Summary, Table
from apps.reporting.cat import EASTERN, cat_day_of, cat_day_window, cat_timestamp
from apps.reporting.models import RegulatoryReport, ReportStatus
from apps.trading.models import (
    Account,
    AssetClass,
    FillStatus,
    Instrument,
    Order,
    OrderStatus,
    TradingCapacity,
    is_us_equity,
)
from apps.trading.models import Fill as FillModel

SIDES = {"buy": "B", "sell": "SL", "sell_short": "SS", "sell_short_exempt": "SX"}
ORDER_TYPES = {"limit": "LMT", "market": "MKT"}
DEPT = {TradingCapacity.DEAL: "T", TradingCapacity.AOTC: "A", TradingCapacity.MTCH: "A"}
CAPACITY = {TradingCapacity.DEAL: "P", TradingCapacity.AOTC: "A", TradingCapacity.MTCH: "R"}
OFF_VENUE = "XOFF"
NOTHING_TO_REPORT = "cat_nothing_to_report"
ORDER_EVENTS = [
    EventType.ORDER_SUBMITTED,
    EventType.ORDER_REJECTED,
    EventType.ORDER_AMENDED,
    EventType.ORDER_CANCELED,
    EventType.ORDER_EXPIRED,
]


def cat_reportable(*, asset_class: str, mic: str, currency: str) -> bool:
    """NMS and OTC equities (a US venue or US dollars) and US-dollar listed options."""
    if asset_class == AssetClass.OPTION:
        return currency == "USD"
    return is_us_equity(asset_class=asset_class, mic=mic, currency=currency)


def _number(value) -> orjson.Fragment:
    """A decimal as a JSON number, digit for digit (never through a float)."""
    return orjson.Fragment(decimal_str(value).encode())


def _time_in_force(tif: str, key_date: str, expire_at) -> dict:
    """`key_date`: the order's orderKeyDate (its Eastern date leads it)."""
    day = int(key_date[:8])
    if tif == "gtc":
        return {"GTC": day}
    if tif == "gtd" and expire_at is not None:
        return {"GTT": cat_timestamp(expire_at)}
    if tif in ("ioc", "fok"):
        return {"IOC": True}
    return {"DAY": day}


def _handling(tif: str) -> dict:
    return {"FOK": True} if tif == "fok" else {}


class CatEventsBuilder(ReportBuilder):
    report_type = "cat_events"
    title = "FINRA CAT order events"
    description = (
        "Every order event of CAT-reportable instruments in one CAT trading day (4 p.m. to "
        "4 p.m. Eastern), in the CAT JSON layout, with repairs of earlier days."
    )
    columns = ["record"]
    formats = ("json",)
    reads_fills = NO_FILLS  # late, corrected and busted fills go to the next day's file
    record_name = "order events"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.period.start != self.period.end:
            raise ValidationFailed(
                "A CAT file covers one CAT trading day.",
                details=field_errors(period_end="Must equal period_start (one CAT day)."),
            )
        if not is_business_day(settings.CAT_CALENDAR, self.period.end):
            raise ValidationFailed(
                f"{self.period.end} is not a CAT trading day: its events belong to the next "
                "business day.",
                details=field_errors(period_end="A business day of CAT_CALENDAR."),
            )
        self.imid = settings.CAT_REPORTER_IMID
        if not self.imid:
            raise Conflict(
                "CAT_REPORTER_IMID is not set: a CAT file names its reporter.",
                code="cat_reporter_imid_missing",
            )
        self.start, self.end = cat_day_window(self.period.end)
        if self.end > self.generated_at:
            raise ValidationFailed(
                f"CAT trading day {self.period.end} has not ended (4 p.m. Eastern).",
                details=field_errors(period_end="A CAT trading day that has ended."),
            )
        self.by_type: Counter = Counter()
        self.by_action: Counter = Counter()
        self.gate_rejections = 0
        self.refused_amendments = 0
        self.late = 0
        self._key_dates: dict[int, str] = {}
        self.missing: dict[int, int] = defaultdict(int)  # account id -> events not written
        self.reported_accounts: Counter = Counter()
        self._accounts = {a.pk: a for a in Account.objects.all()}
        self._instruments = {
            i.pk: i for i in Instrument.objects.only("symbol", "asset_class", "mic", "currency")
        }

    # --- what goes in -----------------------------------------------------------------------

    def file_name(self, version: int) -> str:
        """`<CAT Submitter ID>_<CAT Reporter CRD>_<File Generation Date>_<Group>_OrderEvents_
        <File Number>.json`: the group is the CAT trading day, the file number the version."""
        generated = self.generated_at.astimezone(EASTERN)
        submitter = settings.CAT_SUBMITTER_ID or self.imid
        crd = settings.CAT_REPORTER_CRD or self.imid
        return (
            f"{submitter}_{crd}_{generated:%Y%m%d}_{self.period.end:%Y%m%d}_OrderEvents_"
            f"{version:06d}.json"
        )

    def _key_date(self, order_id: int, created_at) -> str:
        """An order's orderKeyDate, formatted once for its every event (a bounded cache: an
        order's events come close together)."""
        known = self._key_dates.get(order_id)
        if known is None:
            if len(self._key_dates) > 2 * CHUNK:
                self._key_dates.clear()
            known = self._key_dates[order_id] = cat_timestamp(created_at)
        return known

    def _reportable_instrument(self, instrument) -> bool:
        return instrument is not None and cat_reportable(
            asset_class=instrument.asset_class, mic=instrument.mic, currency=instrument.currency
        )

    def _account_ready(self, account) -> bool:
        if account.cat_fdid and account.cat_account_holder_type:
            return True
        self.missing[account.pk] += 1
        return False

    def fetch(self) -> Iterator[dict]:
        yield from self._order_events()
        yield from self._fill_events()
        yield from self._late_and_repairs()

    def _base(self, kind: str, roe: str, action: str = "NEW") -> dict:
        self.by_type[kind] += 1
        self.by_action[action] += 1
        return {
            "actionType": action,
            "firmROEID": roe,
            "type": kind,
            "CATReporterIMID": self.imid,
        }

    def _order_events(self) -> Iterator[dict]:
        events = (
            AuditEvent.objects.filter(
                occurred_at__gte=self.start,
                occurred_at__lt=self.end,
                object_type="trading.order",
                event_type__in=ORDER_EVENTS,
            )
            .order_by("seq")
            .values_list("seq", "event_type", "object_id", "occurred_at", "record", "actor_type")
        )
        batch: list[tuple] = []
        for row in events.iterator(chunk_size=CHUNK):
            batch.append(row)
            if len(batch) >= CHUNK:
                yield from self._order_batch(batch)
                batch = []
        if batch:
            yield from self._order_batch(batch)

    def _order_batch(self, batch: list[tuple]) -> Iterator[dict]:
        ids = {int(row[2]) for row in batch}
        orders = {
            o[0]: o
            for o in Order.objects.filter(pk__in=ids).values_list(
                "pk", "created_at", "expire_at", "account_id", "instrument_id"
            )
        }
        for seq, event_type, object_id, occurred_at, record, actor_type in batch:
            order = orders.get(int(object_id))
            if order is None:
                continue
            pk, created_at, expire_at, account_id, instrument_id = order
            if not self._reportable_instrument(self._instruments.get(instrument_id)):
                continue
            payload = orjson.loads(record)["payload"]
            snapshot = payload["order"]
            denied_or_lapsed = payload.get("previous_status") == OrderStatus.PENDING_APPROVAL
            if event_type == EventType.ORDER_REJECTED and not denied_or_lapsed:
                self.gate_rejections += 1
                continue
            if event_type == EventType.ORDER_EXPIRED and not denied_or_lapsed:
                continue  # its time in force ended it
            if event_type == EventType.ORDER_AMENDED and payload.get("amended", True) is False:
                self.refused_amendments += 1  # the gate refused it: the order never changed
                continue
            account = self._accounts[account_id]
            if not self._account_ready(account):
                continue
            self.reported_accounts[account.pk] += 1
            key = {
                "orderKeyDate": self._key_date(pk, created_at),
                "orderID": str(pk),
                "symbol": snapshot["instrument"],
            }
            quantity = snapshot["quantity"]
            leaves = _decimal(quantity) - _decimal(snapshot["filled_quantity"])
            if event_type == EventType.ORDER_SUBMITTED:
                record = self._base("MENO", f"O{pk}-N")
                record.update(key)
                record.update(
                    {
                        "eventTimestamp": key["orderKeyDate"],
                        "manualFlag": False,
                        "deptType": DEPT.get(account.trading_capacity, "A"),
                        "side": SIDES[snapshot["side"]],
                        **self._terms(snapshot, key["orderKeyDate"], expire_at),
                        "custDspIntrFlag": False,
                        "firmDesignatedID": account.cat_fdid,
                        "accountHolderType": account.cat_account_holder_type,
                        "representativeInd": "N",
                    }
                )
            elif event_type == EventType.ORDER_AMENDED:
                record = self._base("MEOM", f"O{pk}-M{seq}")
                record.update(key)
                record.update(
                    {
                        "priorOrderKeyDate": key["orderKeyDate"],
                        "priorOrderID": key["orderID"],
                        "eventTimestamp": cat_timestamp(occurred_at),
                        "manualFlag": False,
                        "side": SIDES[snapshot["side"]],
                        **self._terms(snapshot, key["orderKeyDate"], expire_at),
                        "leavesQty": _number(leaves),
                        "initiator": "C",
                        "custDspIntrFlag": False,
                        "representativeInd": "N",
                    }
                )
            else:  # a cancel, a denial or a lapse in the approval queue
                record = self._base("MEOC", f"O{pk}-C")
                record.update(key)
                record.update(
                    {
                        "eventTimestamp": cat_timestamp(occurred_at),
                        "manualFlag": False,
                        "cancelQty": _number(leaves),
                        "leavesQty": _number(0),
                        # The client cancels; the firm denies, lets lapse, or cancels by a
                        # control of its own (the kill switch, acting as the system).
                        "initiator": "C"
                        if event_type == EventType.ORDER_CANCELED and actor_type != "system"
                        else "F",
                    }
                )
            yield record

    @staticmethod
    def _terms(snapshot: dict, key_date: str, expire_at) -> dict:
        terms = {
            "quantity": _number(_decimal(snapshot["quantity"])),
            "orderType": ORDER_TYPES[snapshot["order_type"]],
            "timeInForce": _time_in_force(snapshot["time_in_force"], key_date, expire_at),
            "tradingSession": "REG",
            "handlingInstructions": _handling(snapshot["time_in_force"]),
        }
        if snapshot.get("limit_price") not in (None, ""):
            terms["price"] = _number(_decimal(snapshot["limit_price"]))
        return terms

    # --- fills: routes and trades --------------------------------------------------------------

    FILL_FIELDS = (
        "pk",
        "exec_id",
        "quantity",
        "price",
        "venue",
        "executed_at",
        "order_id",
        "order__created_at",
        "order__expire_at",
        "order__account_id",
        "order__instrument_id",
        "order__side",
        "order__order_type",
        "order__limit_price",
        "order__time_in_force",
    )

    def _fill_events(self) -> Iterator[dict]:
        fills = (
            FillModel.objects.filter(
                executed_at__gte=self.start, executed_at__lt=self.end, status=FillStatus.ACTIVE
            )
            .order_by("executed_at", "pk")
            .values_list(*self.FILL_FIELDS)
        )
        for fill in fills.iterator(chunk_size=CHUNK):
            record = self._fill_record(fill, "NEW")
            if record is not None:
                yield record

    def _fill_record(self, fill: tuple, action: str) -> dict | None:
        (
            pk,
            exec_id,
            quantity,
            price,
            venue,
            executed_at,
            order_id,
            created_at,
            expire_at,
            account_id,
            instrument_id,
            side,
            order_type,
            limit_price,
            tif,
        ) = fill
        instrument = self._instruments.get(instrument_id)
        if not self._reportable_instrument(instrument):
            return None
        account = self._accounts[account_id]
        if not self._account_ready(account):
            return None
        self.reported_accounts[account.pk] += 1
        order_key = {"orderKeyDate": self._key_date(order_id, created_at), "orderID": str(order_id)}
        if venue == OFF_VENUE:
            record = self._base("MEOT", f"F{pk}-T", action)
            details = {
                **order_key,
                "side": SIDES[side],
                "firmDesignatedID": account.cat_fdid,
                "accountHolderType": account.cat_account_holder_type,
            }
            record.update(
                {
                    "tradeID": f"F{pk}",
                    "tradeKeyDate": cat_timestamp(executed_at),
                    "symbol": instrument.symbol,
                    "eventTimestamp": cat_timestamp(executed_at),
                    "manualFlag": False,
                    "quantity": _number(quantity),
                    "price": _number(price),
                    "capacity": CAPACITY.get(account.trading_capacity, "A"),
                    "sideDetailsInd": "BUY" if side == "buy" else "SELL",
                    ("buyDetails" if side == "buy" else "sellDetails"): details,
                }
            )
            return record
        record = self._base("MEOR", f"F{pk}-R", action)
        record.update(order_key)
        record.update(
            {
                "symbol": instrument.symbol,
                "eventTimestamp": cat_timestamp(executed_at),
                "manualFlag": False,
                "senderIMID": self.imid,
                "destination": venue,
                "destinationType": "E",
                "routedOrderID": exec_id,
                "session": "REG",
                "side": SIDES[side],
                "quantity": _number(quantity),
                "orderType": ORDER_TYPES[order_type],
                "timeInForce": _time_in_force(tif, order_key["orderKeyDate"], expire_at),
                "tradingSession": "REG",
                "handlingInstructions": _handling(tif),
                "routeRejectedFlag": False,
                "isoInd": "NA",
            }
        )
        if limit_price is not None:
            record["price"] = _number(limit_price)
        return record

    def _built_days(self) -> dict:
        """The earlier CAT days whose file was built (and not rejected): day -> first built."""
        built: dict = {}
        rows = (
            RegulatoryReport.objects.filter(
                report_type=self.report_type, period_end__lt=self.period.end
            )
            .exclude(status=ReportStatus.REJECTED)
            .values_list("period_end", "generated_at")
        )
        for day, at in rows:
            if day not in built or at < built[day]:
                built[day] = at
        return built

    def _late_and_repairs(self) -> Iterator[dict]:
        """Fills of an earlier, already built day, booked (late) or changed (corrected, busted)
        during this day: NEW, COR or DEL records."""
        built = self._built_days()
        if not built:
            return
        earlier = (
            FillModel.objects.filter(executed_at__lt=self.start)
            .filter(
                Q(created_at__gte=self.start, created_at__lt=self.end)
                | Q(changed_at__gte=self.start, changed_at__lt=self.end)
            )
            .order_by("executed_at", "pk")
            .values_list(*self.FILL_FIELDS, "created_at", "changed_at", "status")
        )
        for row in earlier.iterator(chunk_size=CHUNK):
            fill, created_at, changed_at, status = row[:-3], row[-3], row[-2], row[-1]
            day_built = built.get(cat_day_of(fill[5]))
            if day_built is None:
                continue  # its own day's file, when built, carries it as it stands
            # Carried by an earlier file: its day's (booked before that was built) or a later
            # day's (booked late, before this day began).
            carried = created_at < day_built or created_at < self.start
            changed_now = changed_at is not None and changed_at >= self.start
            changed_now = changed_now and changed_at > day_built
            if not carried:
                action = "NEW" if status == FillStatus.ACTIVE else None  # late; a bust: none
            elif not changed_now:
                action = None
            else:
                action = "DEL" if status == FillStatus.BUSTED else "COR"
            if action is None:
                continue
            record = self._fill_record(fill, action)
            if record is not None:
                if action == "NEW":
                    self.late += 1
                yield record

    # --- summary ---------------------------------------------------------------------------

    def summary(self) -> Summary:
        missing = sorted(self._accounts[pk].code for pk in self.missing)
        totals: list[tuple[str, object]] = [
            ("CAT trading day", str(self.period.end)),
            ("window start", cat_timestamp(self.start)),
            ("window end", cat_timestamp(self.end)),
            ("CATReporterIMID", self.imid),
            ("records", self.record_count),
            ("complete", not missing),
            ("gate rejections not reported", self.gate_rejections),
            ("amendments the gate refused, not reported", self.refused_amendments),
            ("repair records", self.by_action["COR"] + self.by_action["DEL"]),
            ("late records", self.late),
        ]
        if missing:
            totals.append(("accounts missing CAT identifiers", ", ".join(missing)))
        tables = [
            Table(
                title="Records by event type",
                columns=["type", "records"],
                rows=[[k, v] for k, v in sorted(self.by_type.items())],
            ),
            Table(
                title="Records by action",
                columns=["actionType", "records"],
                rows=[[k, v] for k, v in sorted(self.by_action.items())],
            ),
            Table(
                title="Accounts reported (FDID, account holder type, LTID)",
                columns=["account", "firmDesignatedID", "accountHolderType", "LTID", "records"],
                rows=[
                    [
                        a.code,
                        a.cat_fdid,
                        a.cat_account_holder_type,
                        a.large_trader_id,
                        self.reported_accounts[a.pk],
                    ]
                    for a in sorted(
                        (self._accounts[pk] for pk in self.reported_accounts),
                        key=lambda a: a.code,
                    )
                ],
            ),
        ]
        if missing:
            tables.append(
                Table(
                    title="Accounts missing CAT identifiers: their events are not in the file",
                    columns=["account", "missing", "events not written"],
                    rows=[
                        [
                            self._accounts[pk].code,
                            ", ".join(
                                name
                                for name, value in (
                                    ("cat_fdid", self._accounts[pk].cat_fdid),
                                    (
                                        "cat_account_holder_type",
                                        self._accounts[pk].cat_account_holder_type,
                                    ),
                                )
                                if not value
                            ),
                            count,
                        ]
                        for pk, count in sorted(
                            self.missing.items(), key=lambda item: self._accounts[item[0]].code
                        )
                    ],
                )
            )
        return Summary(totals=totals, tables=tables, charts=[])

    # --- the file --------------------------------------------------------------------------

    def write_json(self, out) -> None:
        """One record a line (newline-delimited JSON, UTF-8), as CAT takes order event files."""
        import io

        buffer = io.BufferedWriter(out, buffer_size=1 << 16)
        for record in self.rows():
            buffer.write(orjson.dumps(record) + b"\n")
        buffer.flush()
        if self.record_count == 0 and self.missing:
            # Only accounts without their identifiers: an empty file would say nothing.
            raise Conflict(
                "Every reportable event of the day belongs to an account without its CAT "
                "identifiers: set them (account_cat_identifiers) and build the day again.",
                code="cat_identifiers_missing",
                details={"accounts": sorted(self._accounts[pk].code for pk in self.missing)},
            )
        if self.record_count == 0:
            # CAT takes no empty file: a day without reportable events has nothing to send.
            raise Conflict(
                f"No CAT-reportable order event in CAT trading day {self.period.end}: there is "
                "no file to send.",
                code=NOTHING_TO_REPORT,
                details={"summary": self.summary().as_dict()},
            )


def _decimal(value):
    from decimal import Decimal

    return value if isinstance(value, Decimal) else Decimal(str(value))
