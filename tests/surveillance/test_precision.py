"""Precision and grouping: the false alarms and misses an analyst found, each with its
look-alike (a market maker's quoting, a held order withdrawn, an owner written two ways)."""

import json
from decimal import Decimal

import pytest
from django.test import override_settings

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, PermissionDenied, ValidationFailed
from apps.rbac.roles import Role
from apps.surveillance.models import Alert, RelatedParty
from apps.surveillance.runner import _owners, owner_entities, surveillance_catch_up
from apps.surveillance.services import related_party_record, related_party_remove
from apps.trading.models import BeneficialOwner, ClientPerson
from apps.trading.services import order_status_set
from tests.permissions import assert_page_role_required
from tests.surveillance.streams import Stream, findings
from tests.trading.factories import AccountFactory


class Context:
    """What the run tells the detectors about the parties (and, optionally, the market)."""

    def __init__(self, market_makers=(), related_owners=None, market=None):
        self.market_makers = set(market_makers)
        self.related_owners = related_owners or {}
        self.market = market


BIDS = ["99.95", "99.90", "99.85"]
ASKS = ["100.05", "100.10", "100.15"]


def _market_maker_day(s: Stream, account="MM", rounds=8, period=2.8):
    """A three-level ladder on both sides; each round one level is hit (ask, then bid, in
    turn), the rest of the ladder is pulled and quoted again within a second."""
    for r in range(rounds):
        t = r * period
        bids = [s.order(t, account, "AAPL", "buy", "100", p) for p in BIDS]
        asks = [s.order(t, account, "AAPL", "sell", "100", p) for p in ASKS]
        hit = asks[0] if r % 2 == 0 else bids[0]
        s.fill(t + 1.4, hit, "100", ASKS[0] if r % 2 == 0 else BIDS[0])
        for i, order_id in enumerate(o for o in (*bids, *asks) if o != hit):
            s.cancel(t + 1.6 + i * 0.05, order_id)


# --- false alarms -----------------------------------------------------------------------------


def test_a_market_makers_ladder_is_neither_a_wash_trade_nor_layering():
    """Before: its own bid and ask filled 2.8 s apart was a critical wash trade, and the pulled
    ladder layering at 0.8."""
    s = Stream()
    _market_maker_day(s)
    context = Context(market_makers={"MM"})
    assert findings(s, "wash_trade", context=context) == []
    assert findings(s, "layering", context=context) == []
    assert findings(s, "spoofing", context=context) == []


def test_the_same_ladder_unflagged_is_still_no_wash_and_layering_only_scores_lower():
    s = Stream()
    _market_maker_day(s)
    assert findings(s, "wash_trade", context=Context()) == []
    scored = findings(s, "layering", {"min_score": "0"}, context=Context(market_makers={"MM"}))
    assert scored and all(f.score == Decimal("0.3") for f in scored)  # seen, not raised
    found = findings(s, "layering", context=Context())
    assert found and all(f.score == Decimal("0.6") for f in found)
    assert all(f.details["two_sided_quoting"] for f in found)


def test_a_market_makers_own_buy_and_sell_at_one_price_is_still_a_wash():
    s = Stream()
    s.trade(0, "MM", "AAPL", "buy", "100", "100.00")
    s.trade(5, "MM", "AAPL", "sell", "100", "100.01")  # one tick apart: quoting
    s.trade(5.05, "MM", "AAPL", "buy", "100", "100.01")  # one price at one moment: a cross
    [found] = findings(s, "wash_trade", context=Context(market_makers={"MM"}))
    assert found.fills == (2, 3) and found.details["matched"] is True


@pytest.mark.django_db
def test_a_held_order_withdrawn_before_release_is_not_spoofing(desk):
    """Before: the held order came into the stream at submission, and its withdrawal while an
    opposite order filled scored spoofing 0.9. It never reached the market."""
    for _ in range(6):
        desk.order(desk.a1, "buy", "100", "99")
    sell = desk.order(desk.a1, "sell", "100", "100")
    held = desk.order(desk.a1, "buy", "5000", "99.9", status="pending_approval")
    desk.fill(sell)
    desk.cancel(held)
    surveillance_catch_up()
    assert not Alert.objects.filter(detector="spoofing").exists()


@pytest.mark.django_db
def test_a_held_order_released_then_pulled_is_judged_from_its_release(desk, make_user):
    for _ in range(6):
        desk.order(desk.a1, "buy", "100", "99")
    sell = desk.order(desk.a1, "sell", "100", "100")
    held = desk.order(desk.a1, "buy", "5000", "99.9", status="pending_approval")
    order_status_set(order=held, status="accepted", actor=make_user(Role.COMPLIANCE_OFFICER))
    desk.fill(sell)
    desk.cancel(held)
    surveillance_catch_up()
    alert = Alert.objects.get(detector="spoofing")
    assert alert.evidence["orders"][0] == held.pk
    assert alert.evidence["details"]["benefit_leg"] is True


@pytest.mark.django_db
def test_concentration_stays_out_of_the_alert_queue_unless_configured(desk):
    desk.trade(desk.a1, "buy", "10", "100")
    desk.trade(desk.b, "buy", "10", "100")
    desk.trade(desk.a1, "buy", "1", "400", instrument=desk.msft)
    surveillance_catch_up()
    assert not Alert.objects.filter(detector="concentration").exists()


@pytest.mark.django_db
@override_settings(SURVEILLANCE_CONCENTRATION_ALERTS=True)
def test_concentration_alerts_when_configured(desk):
    desk.trade(desk.a1, "buy", "10", "100")
    desk.trade(desk.a1, "buy", "1", "400", instrument=desk.msft)
    surveillance_catch_up()
    assert Alert.objects.filter(detector="concentration").exists()


# --- misses -----------------------------------------------------------------------------------


def _layering(s: Stream, layer_account, fill_account, cancel_after=1.0, prices=None):
    prices = prices or ["189.9", "189.8", "189.7"]
    bids = [s.order(i, layer_account, "AAPL", "buy", "500", p) for i, p in enumerate(prices)]
    sell = s.order(5, fill_account, "AAPL", "sell", "100", "190")
    s.fill(6, sell, "100", "190")
    for i, bid in enumerate(bids):
        s.cancel(6 + cancel_after + i * 0.1, bid)
    return bids, sell


def test_layering_split_across_two_accounts_of_one_owner():
    s = Stream(owners={"A": "Owner X", "B": "Owner X"})
    bids, sell = _layering(s, "A", "B")
    [found] = findings(s, "layering")
    assert found.details["grouping"] == "owner" and found.details["group"] == "Owner X"
    assert found.details["accounts"] == ["A", "B"] and set(found.orders) == {*bids, sell}


def test_no_layering_across_accounts_of_two_owners_or_when_grouped_by_account():
    s = Stream(owners={"A": "Owner X", "B": "Owner Y"})
    _layering(s, "A", "B")
    assert findings(s, "layering") == []
    same = Stream(owners={"A": "Owner X", "B": "Owner X"})
    _layering(same, "A", "B")
    assert findings(same, "layering", {"group_by": "account"}) == []


def test_layers_pulled_12_s_after_the_execution():
    s = Stream()
    _layering(s, "A", "A", cancel_after=12)
    [found] = findings(s, "layering")
    assert found.details["seconds_after_execution"] == 12.2


def test_layers_pulled_a_minute_later_are_quoting():
    s = Stream()
    _layering(s, "A", "A", cancel_after=60)
    assert findings(s, "layering") == []


def test_a_layering_alert_lists_every_layer_order():
    s = Stream()
    bids, sell = _layering(s, "A", "A", prices=["189.9", "189.8", "189.7", "189.6"])
    [found] = findings(s, "layering")
    assert found.details["layer_orders"] == bids and found.orders == (*bids, sell)
    assert len(found.details["prices"]) == 4


@pytest.mark.django_db
def test_one_person_under_two_names_is_one_owner(desk):
    """'Nadia Petrov' and 'Petrov, Nadia K.' are two names (two owner rows) for one person: the
    national identifier says so, and her wash trade across the two is found."""
    first = BeneficialOwner.objects.create(name="Nadia Petrov", name_key="nadia petrov")
    second = BeneficialOwner.objects.create(name="Nadia K. Petrov", name_key="nadia k. petrov")
    for owner in (first, second):
        ClientPerson.objects.create(owner=owner, nationality="BG", national_id="8001011234")
    other = BeneficialOwner.objects.create(name="Ivan Petrov", name_key="ivan petrov")
    ClientPerson.objects.create(owner=other, nationality="BG", national_id="7001011234")
    one = AccountFactory(code="ACC-NP1", beneficial_owner=first)
    two = AccountFactory(code="ACC-NP2", beneficial_owner=second)
    AccountFactory(code="ACC-IP", beneficial_owner=other)
    entities = owner_entities()
    assert entities[first.pk] == entities[second.pk] == "Nadia Petrov"
    assert entities[other.pk] == "Ivan Petrov"
    assert _owners()["ACC-NP2"] == "Nadia Petrov"
    desk.trade(one, "buy", "100", "100")
    desk.trade(two, "sell", "100", "100")
    surveillance_catch_up()
    alert = Alert.objects.get(detector="wash_trade")
    assert alert.evidence["details"]["accounts"] == ["ACC-NP1", "ACC-NP2"]


def test_a_market_makers_bid_and_later_ask_at_one_price_are_quotes_hit_as_the_price_moved():
    """Its bid hit at 100.00; the price moves up and, 3.8 s later, its re-quoted ask at 100.00
    is hit: two trades with the market, not its orders matching each other."""
    s = Stream()
    s.trade(0, "MM", "AAPL", "buy", "200", "100.00")
    s.trade(3.8, "MM", "AAPL", "sell", "200", "100.00")
    context = Context(market_makers={"MM"})
    assert findings(s, "wash_trade", context=context) == []
    wider = {"market_maker_cross_seconds": "5"}
    assert len(findings(s, "wash_trade", wider, context=context)) == 1
    assert len(findings(s, "wash_trade", context=Context())) == 1  # not a market maker: a wash
    quick = Stream()  # the re-quoted ask hit 0.6 s after the bid: still two trades
    quick.trade(0, "MM", "AAPL", "buy", "200", "48.03")
    quick.trade(0.6, "MM", "AAPL", "sell", "200", "48.03")
    assert findings(quick, "wash_trade", context=context) == []


def test_a_market_makers_ladder_with_its_largest_level_hit_is_still_two_sided():
    """Levels of 100, 100 and 300 a side; the 300 bid is hit and the rest is re-quoted. The
    asks left (200) are less than half the stack of the other side, but the hit bid was quoting
    too: two-sided, and the flagged market maker's ladder is not raised."""
    s = Stream()
    sizes = ["300", "100", "100"]
    for r in range(4):
        t = r * 2.8
        bids = [s.order(t, "MM", "AAPL", "buy", q, p) for q, p in zip(sizes, BIDS, strict=True)]
        asks = [s.order(t, "MM", "AAPL", "sell", q, p) for q, p in zip(sizes, ASKS, strict=True)]
        s.fill(t + 1.4, bids[0], "300", BIDS[0])
        for i, order_id in enumerate((*bids[1:], *asks)):
            s.cancel(t + 1.6 + i * 0.05, order_id)
    context = Context(market_makers={"MM"})
    assert findings(s, "layering", context=context) == []
    scored = findings(s, "layering", {"min_score": "0"}, context=context)
    assert scored and all(f.details["two_sided_quoting"] for f in scored)


@pytest.mark.django_db
def test_an_owner_written_last_name_first_is_one_owner(desk):
    desk.trade(desk.a1, "buy", "10", "100")  # "Owner One"
    desk.trade(desk.a2, "sell", "10", "100")  # "One, Owner"
    surveillance_catch_up()
    assert Alert.objects.filter(detector="wash_trade").count() == 1


# --- wash trades: crosses, netting, related parties -------------------------------------------


def test_wash_trades_netting_across_the_owners_accounts():
    s = Stream(owners={"A": "X", "B": "X"})
    s.trade(0, "A", "AAPL", "buy", "50", "100.00")
    s.trade(10, "A", "AAPL", "buy", "50", "100.02")
    s.trade(20, "B", "AAPL", "sell", "100", "100.01")
    [found] = findings(s, "wash_trade")
    assert found.details["pattern"] == "netting" and found.fills == (1, 2, 3)
    assert found.details["bought"] == found.details["sold"] == "100"


def test_one_accounts_split_buys_and_a_sell_are_not_netting():
    s = Stream()
    s.trade(0, "A", "AAPL", "buy", "50", "100.00")
    s.trade(10, "A", "AAPL", "buy", "50", "100.02")
    s.trade(20, "A", "AAPL", "sell", "100", "100.01")
    assert findings(s, "wash_trade") == []


def test_no_wash_beyond_the_price_tolerance():
    s = Stream(owners={"A": "X", "B": "X"})
    s.trade(0, "A", "AAPL", "buy", "100", "100.00")
    s.trade(10, "B", "AAPL", "sell", "100", "100.10")  # 10 bp apart
    assert findings(s, "wash_trade") == []
    assert len(findings(s, "wash_trade", {"price_tolerance_bp": "10"})) == 1


def test_a_wash_trade_a_cent_apart_on_a_low_priced_stock():
    """A cent is 10 bp at 10: within one tick, one price, whatever the basis points say."""
    s = Stream()
    s.trade(0, "A", "LOW", "buy", "400", "10.00")
    s.trade(2, "A", "LOW", "sell", "400", "10.01")
    [found] = findings(s, "wash_trade")
    assert found.details["price_difference_bp"] == "9.99"
    assert findings(s, "wash_trade", {"price_tolerance_ticks": "0"}) == []


def test_wash_trade_between_related_parties_only_when_on_record():
    s = Stream(owners={"A": "Parent plc", "B": "Subsidiary Ltd"})
    s.trade(0, "A", "AAPL", "buy", "100", "100")
    s.trade(10, "B", "AAPL", "sell", "100", "100")
    assert findings(s, "wash_trade", context=Context()) == []
    related = Context(related_owners={"Parent plc": "Parent plc", "Subsidiary Ltd": "Parent plc"})
    [found] = findings(s, "wash_trade", context=related)
    assert found.details["related_parties"] is True
    assert found.details["owners"] == ["Parent plc", "Subsidiary Ltd"]


class HouseContext(Context):
    """Two of the firm's own desks' accounts."""

    def account_kind(self, code):
        return "proprietary" if code.startswith("P") else "client"


def _house_flow(traders: dict[str, str]) -> Stream:
    """The firm's TWAP desk buys 150 every 20 s; another desk sells 450 to facilitate a
    client in the same minute, at about the same price."""
    s = Stream(owners={"P1": "The firm", "P2": "The firm"})
    for k in range(3):
        s.trade(20 * k, "P1", "AAPL", "buy", "150", f"100.0{k}")
    s.trade(30, "P2", "AAPL", "sell", "450", "100.01")
    for event in s.events:
        event.user = traders[event.account]
    return s


def test_the_firms_desks_trading_two_ways_independently_are_not_a_wash():
    s = _house_flow({"P1": "twap-desk", "P2": "facilitation-desk"})
    assert findings(s, "wash_trade", context=HouseContext()) == []
    firm = {"house_group_by": "owner"}
    [found] = findings(s, "wash_trade", firm, context=HouseContext())
    assert found.details["pattern"] == "netting" and found.details["group"] == "The firm"


def test_one_traders_two_house_accounts_are_still_one_owner():
    s = _house_flow({"P1": "trader-1", "P2": "trader-1"})
    [found] = findings(s, "wash_trade", context=HouseContext())
    assert found.details["group"] == "The firm / trader-1"
    assert found.details["accounts"] == ["P1", "P2"]


@pytest.mark.django_db
def test_related_parties_are_recorded_audited_and_read_by_the_run(desk, make_user):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    one, two = desk.a1.beneficial_owner, desk.b.beneficial_owner
    with pytest.raises(PermissionDenied):
        related_party_record(
            owner=one, related_owner=two, relationship="x", documented_in="y", actor=make_user(
                Role.RISK_MANAGER
            ),
        )  # fmt: skip
    with pytest.raises(ValidationFailed):
        related_party_record(
            owner=one, related_owner=one, relationship="x", documented_in="y", actor=officer
        )
    with pytest.raises(ValidationFailed):
        related_party_record(
            owner=one, related_owner=two, relationship=" ", documented_in="y", actor=officer
        )
    assert not RelatedParty.objects.exists()
    party = related_party_record(
        owner=two, related_owner=one, relationship="spouse", documented_in="KYC 17", actor=officer
    )
    with pytest.raises(Conflict):
        related_party_record(
            owner=one, related_owner=two, relationship="x", documented_in="y", actor=officer
        )
    event = AuditEvent.objects.filter(object_type="surveillance.relatedparty").get()
    assert json.loads(event.record)["payload"]["after"]["relationship"] == "spouse"
    desk.trade(desk.a1, "buy", "10", "100")
    desk.trade(desk.b, "sell", "10", "100")
    surveillance_catch_up()
    assert Alert.objects.filter(detector="wash_trade").count() == 1
    related_party_remove(party=party, actor=officer)
    assert not RelatedParty.objects.exists()
    assert AuditEvent.objects.filter(object_type="surveillance.relatedparty").count() == 2


@pytest.mark.django_db
def test_related_parties_admin_is_compliances(client, make_user):
    assert_page_role_required(
        client, make_user, "/admin/surveillance/relatedparty/", Role.COMPLIANCE_OFFICER
    )
    assert_page_role_required(
        client, make_user, "/admin/surveillance/relatedparty/add/", Role.COMPLIANCE_OFFICER
    )


@pytest.mark.django_db
def test_related_parties_added_in_the_admin_go_through_the_service(client, make_user, desk):
    client.force_login(make_user(Role.COMPLIANCE_OFFICER))
    one, two = desk.a1.beneficial_owner, desk.b.beneficial_owner
    response = client.post(
        "/admin/surveillance/relatedparty/add/",
        {
            "owner": one.pk,
            "related_owner": two.pk,
            "relationship": "parent company",
            "documented_in": "group chart 2026",
        },
    )
    assert response.status_code == 302
    assert RelatedParty.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="surveillance.relatedparty").count() == 1
    same = client.post(
        "/admin/surveillance/relatedparty/add/",
        {"owner": one.pk, "related_owner": one.pk, "relationship": "x", "documented_in": "y"},
    )
    assert same.status_code == 200 and RelatedParty.objects.count() == 1


# --- spoofing: the benefit leg, the owner's accounts ------------------------------------------


def _baseline(s: Stream, account="A", n=6):
    for i in range(n):
        s.order(i * 10, account, "AAPL", "buy", "100", "189")


def test_spoofing_without_a_benefit_leg_scores_below_the_threshold():
    s = Stream()
    _baseline(s)
    spoof = s.order(100, "A", "AAPL", "buy", "5000", "189.9")
    s.cancel(101, spoof)
    assert findings(s, "spoofing") == []
    [low] = findings(s, "spoofing", {"min_score": "0"})
    assert low.score < Decimal("0.5") and low.details["benefit_leg"] is False


def test_spoofing_with_the_benefit_in_another_account_of_the_owner():
    s = Stream(owners={"A": "X", "B": "X"})
    _baseline(s)
    sell = s.order(100, "B", "AAPL", "sell", "100", "190")
    spoof = s.order(100.5, "A", "AAPL", "buy", "5000", "189.9")
    s.fill(101, sell, "100", "190")
    s.cancel(101.5, spoof)
    [found] = findings(s, "spoofing")
    assert found.details["benefit_leg"] is True and found.score >= Decimal("0.9")
    assert found.orders == (spoof, sell) and found.details["grouping"] == "owner"


def test_grouping_by_trader_and_strategy():
    s = Stream(owners={"A": "X", "B": "Y"})
    bids = [s.order(i, "A", "AAPL", "buy", "500", p) for i, p in enumerate(BIDS)]
    sell = s.order(5, "B", "AAPL", "sell", "100", "100.10")
    s.fill(6, sell, "100", "100.10")
    for i, bid in enumerate(bids):
        s.cancel(7 + i * 0.1, bid)
    for event in s.events:  # one trader sent both owners' orders, for two strategies
        event.user = "desk-trader"
        event.strategy = "momo-1" if event.account == "A" else "mm-2"
    assert findings(s, "layering") == []  # two owners
    [found] = findings(s, "layering", {"group_by": "owner,trader,strategy"})
    assert found.details["grouping"] == "trader" and found.details["group"] == "desk-trader"
    assert found.key == "layering:trader:desk-trader:AAPL"


# --- market context ---------------------------------------------------------------------------


class FakeMarket:
    def price_move_bp(self, sym, start_ts, end_ts):
        return Decimal("-12.5")

    def volume(self, sym, start_ts, end_ts):
        return Decimal(100000)

    def share_of_volume(self, sym, start_ts, end_ts, qty):
        return Decimal("0.01")

    def touch(self, sym, ts):
        return (Decimal("189.95"), Decimal("190.00"))

    def distance_from_touch_bp(self, sym, ts, side, price):
        return Decimal("2.6")

    def closing_price(self, sym, day_label):
        return None


def test_layering_and_spoofing_carry_the_market_context():
    s = Stream()
    bids, _sell = _layering(s, "A", "A")
    [layering] = findings(s, "layering", context=Context(market=FakeMarket()))
    market = layering.details["market"]
    assert market["price_move_bp"] == "-12.5"
    assert market["layer_distance_from_touch_bp"] == {str(b): "2.6" for b in bids}
    assert market["touch_at_execution"] == ["189.95", "190.00"]
    assert "market" not in findings(s, "layering", context=Context())[0].details

    spoofed = Stream()
    _baseline(spoofed)
    sell = spoofed.order(100, "A", "AAPL", "sell", "100", "190")
    spoof = spoofed.order(100.5, "A", "AAPL", "buy", "5000", "189.9")
    spoofed.fill(101, sell, "100", "190")
    spoofed.cancel(101.5, spoof)
    [found] = findings(spoofed, "spoofing", context=Context(market=FakeMarket()))
    assert found.details["market"] == {
        "price_move_bp": "-12.5",
        "distance_from_touch_bp": "2.6",
        "touch_at_placement": ["189.95", "190.00"],
    }
