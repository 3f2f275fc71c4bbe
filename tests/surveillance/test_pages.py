"""The surveillance pages through Django's test client: who sees what, the list's filters and
false-positive table, the alert page's evidence and timeline chart, and the case forms."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import lxml.html
import pytest

from apps.audit.models import AuditEvent
from apps.core.templatetags.present import evidence
from apps.rbac.roles import Role
from apps.surveillance.models import Alert, AlertNote, AlertStatus
from apps.surveillance.runner import surveillance_catch_up
from apps.surveillance.services import alert_assign, alert_close
from apps.trading.models import Account, Fill, Order
from tests.permissions import assert_page_role_required
from tests.surveillance.factories import AlertFactory
from tests.surveillance.test_runs import manipulative_flow

SVG = "{http://www.w3.org/2000/svg}"
LIST = "/surveillance/alerts/"
LOWER_ROLES = (Role.VIEWER, Role.TRADER, Role.RISK_MANAGER)


@pytest.fixture
def alerts(desk):
    """Five alerts from one run over a manipulative flow, by detector."""
    manipulative_flow(desk)
    surveillance_catch_up()
    found = {a.detector: a for a in Alert.objects.all()}
    assert set(found) == {"wash_trade", "spoofing", "layering", "rapid_fire", "gate_reconciliation"}
    return found


@pytest.fixture
def officer(make_user):
    return make_user(Role.COMPLIANCE_OFFICER)


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def page_of(alert) -> str:
    return f"{LIST}{alert.pk}/"


def listed_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="alert-(\d+)"', html)]


def snapshot(alert) -> tuple:
    """What a refused or bad request must leave as it was."""
    alert.refresh_from_db()
    return (
        alert.status,
        alert.disposition,
        alert.assignee_id,
        alert.closed_at,
        AlertNote.objects.filter(alert=alert).count(),
        AuditEvent.objects.filter(object_type="surveillance.alert").count(),
    )


def chart_of(html: str) -> ET.Element:
    match = re.search(r"<svg.*?</svg>", html, re.S)
    assert match, "no inline SVG on the page"
    return ET.fromstring(match.group(0))


def classes(element) -> set[str]:
    return set((element.get("class") or "").split())


def markers(svg, kind: str) -> list:
    return [e for e in svg.iter() if {"marker", kind} <= classes(e)]


# --- who may see and do what ------------------------------------------------------------------


def test_pages_need_a_compliance_officer(client, make_user, alerts):
    """MAR: no tipping off. Below a Compliance Officer the pages answer 403."""
    for url in (LIST, page_of(alerts["spoofing"])):
        assert_page_role_required(client, make_user, url, Role.COMPLIANCE_OFFICER)


def test_the_navigation_shows_surveillance_and_audit_to_compliance_only(client, make_user, db):
    for role in Role:
        client.force_login(make_user(role))
        page = client.get("/").content.decode()
        shown = role >= Role.COMPLIANCE_OFFICER
        assert ('href="/surveillance/alerts/"' in page) is shown, role
        assert ('href="/admin/audit/auditevent/"' in page) is shown, role


@pytest.mark.parametrize("action", ["assign", "comment", "status", "close"])
def test_anonymous_posts_go_to_the_login_page(client, alerts, action):
    alert = alerts["spoofing"]
    before = snapshot(alert)
    response = client.post(page_of(alert), {"action": action, "text": "x"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert snapshot(alert) == before


@pytest.mark.parametrize(
    "form",
    [
        {"action": "assign", "assignee": ""},
        {"action": "comment", "text": "looked at it"},
        {"action": "status", "status": "in_review"},
        {"action": "close", "disposition": "false_positive", "comment": "fine"},
    ],
    ids=lambda form: form["action"],
)
def test_case_forms_are_refused_below_a_compliance_officer(
    client, make_user, officer, alerts, form
):
    alert = alerts["wash_trade"]
    alert_assign(alert=alert, assignee=officer, actor=officer)  # so that unassigning would show
    before = snapshot(alert)
    for role in LOWER_ROLES:
        client.force_login(make_user(role))
        page = client.get(page_of(alert))
        assert page.status_code == 403
        assert b'name="action"' not in page.content and alert.title.encode() not in page.content
        assert client.post(page_of(alert), form).status_code == 403
    assert snapshot(alert) == before


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_alerts_newest_first_with_their_severity(officer_client, alerts):
    html = officer_client.get(LIST).content.decode()
    expected = list(Alert.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert listed_ids(html) == expected
    row = lxml.html.fromstring(html).get_element_by_id(f"alert-{alerts['wash_trade'].pk}")
    assert row.find_class("sev-critical")[0].text_content() == "Critical"
    row = lxml.html.fromstring(html).get_element_by_id(f"alert-{alerts['spoofing'].pk}")
    assert row.find_class("sev-warning")[0].text_content() == "Warning"
    assert '<a href="/surveillance/alerts/">Surveillance</a>' in html  # in the nav


@pytest.mark.parametrize(
    "query, detectors",
    [
        ({"detector": "wash_trade"}, {"wash_trade"}),
        ({"severity": "critical"}, {"wash_trade", "gate_reconciliation"}),
        ({"account": "ACC-B"}, {"spoofing", "rapid_fire"}),
        ({"instrument": "MSFT"}, {"layering"}),
        ({"status": "closed"}, {"layering"}),
        ({"disposition": "true_positive"}, {"layering"}),
        ({"status": "open"}, {"wash_trade", "spoofing", "rapid_fire", "gate_reconciliation"}),
        ({"assignee": "case-owner"}, {"spoofing"}),
        ({"severity": "warning", "account": "ACC-B"}, {"spoofing", "rapid_fire"}),
        ({"detector": ["wash_trade", "layering"]}, {"wash_trade", "layering"}),
        ({"account": "NOPE"}, set()),
    ],
)
def test_the_list_filters(officer_client, make_user, officer, alerts, query, detectors):
    owner = make_user(Role.COMPLIANCE_OFFICER, username="case-owner")
    alert_assign(alert=alerts["spoofing"], assignee=owner, actor=officer)
    alert_close(alert=alerts["layering"], disposition="true_positive", comment="ok", actor=officer)
    html = officer_client.get(LIST, query).content.decode()
    assert set(listed_ids(html)) == {alerts[d].pk for d in detectors}
    if not detectors:
        assert "No alerts match these filters" in html


def test_the_list_is_paginated(officer_client, db, django_assert_max_num_queries):
    made = AlertFactory.create_batch(55)
    with django_assert_max_num_queries(15):
        first = officer_client.get(LIST).content.decode()
    assert len(listed_ids(first)) == 50 and "Page 1 of 2 · 55 alerts" in first
    second = officer_client.get(LIST, {"page": 2}).content.decode()
    assert set(listed_ids(first)) | set(listed_ids(second)) == {a.pk for a in made}
    filtered = officer_client.get(LIST, {"severity": "warning", "page": 2}).content.decode()
    assert "severity=warning&amp;page=1" in filtered


@pytest.mark.parametrize(
    "query",
    [
        {"detector": "nonsense"},
        {"severity": "x" * 10_000},
        {"status": ["open", "bogus"]},
        {"disposition": "maybe"},
        {"account": "A" * 10_240},
        {"account": "A\x00B"},
        {"instrument": "\x00"},
        {"assignee": "'; DROP TABLE surveillance_alert; --"},
        {"created_after": "not-a-time"},
        {"created_before": "9" * 400},
        {"page": "not a number"},
        {"page": str(10**30)},
        {"page": "-1"},
    ],
)
def test_garbage_filters_never_fail(officer_client, alerts, query):
    response = officer_client.get(LIST, query)
    assert response.status_code == 200
    assert 'id="false-positives"' in response.content.decode()


# --- false-positive analytics -----------------------------------------------------------------


def fp_rows(html: str) -> dict[str, dict]:
    doc = lxml.html.fromstring(html)
    rows = {}
    for tr in doc.get_element_by_id("false-positives").iter("tr"):
        if not (tr.get("id") or "").startswith("fp-"):
            continue

        def cell(name, tr=tr):
            return tr.find_class(name)[0].text_content().strip()

        percent = tr.find_class("fp-percent")
        rows[tr.get("id")[3:]] = {
            "open": int(cell("fp-open")),
            "closed": int(cell("fp-closed")),
            "false_positive": int(cell("fp-false")),
            "rate": percent[0].text_content() if percent else None,
        }
    return rows


def test_false_positive_table_matches_the_database(officer_client, officer, desk, alerts):
    extra = AlertFactory.create_batch(3, detector="wash_trade", severity="critical")
    for alert, disposition in [
        (alerts["wash_trade"], "false_positive"),
        (extra[0], "false_positive"),
        (extra[1], "true_positive"),
        (alerts["spoofing"], "duplicate"),
    ]:
        alert_close(alert=alert, disposition=disposition, comment="reviewed", actor=officer)
    rows = fp_rows(officer_client.get(LIST).content.decode())
    assert set(rows) == {d for d, _ in Alert._meta.get_field("detector").choices}
    for detector, row in rows.items():
        mine = Alert.objects.filter(detector=detector)
        closed = mine.filter(status="closed")
        assert row["open"] == mine.exclude(status="closed").count(), detector
        assert row["closed"] == closed.count(), detector
        assert row["false_positive"] == closed.filter(disposition="false_positive").count()
    assert rows["wash_trade"] == {"open": 1, "closed": 3, "false_positive": 2, "rate": "66.7%"}
    assert rows["spoofing"]["rate"] == "0.0%"
    assert rows["layering"]["rate"] is None  # none closed: no rate, not 0%


# --- the alert page ---------------------------------------------------------------------------


def window_rows(alert):
    """The orders and fills the chart must show, worked out here from the database."""
    start = alert.window_start - timedelta(seconds=30)
    end = alert.window_end + timedelta(seconds=30)
    accounts = Account.objects.filter(beneficial_owner=alert.account.beneficial_owner)
    orders = Order.objects.filter(
        account__in=accounts, instrument=alert.instrument, created_at__range=(start, end)
    )
    fills = Fill.objects.filter(
        order__account__in=accounts,
        order__instrument=alert.instrument,
        executed_at__range=(start, end),
    )
    return list(orders), list(fills.select_related("order"))


@pytest.mark.parametrize(
    "detector", ["wash_trade", "spoofing", "layering", "rapid_fire", "gate_reconciliation"]
)
def test_the_chart_draws_every_order_and_fill_in_the_window(officer_client, alerts, detector):
    alert = alerts[detector]
    svg = chart_of(officer_client.get(page_of(alert)).content.decode())
    orders, fills = window_rows(alert)
    assert orders or fills

    drawn = markers(svg, "order")
    assert len(drawn) == len(orders)
    assert {int(m.get("data-id")) for m in drawn} == {o.pk for o in orders}
    sides = {o.pk: o.side for o in orders}
    for marker in drawn:
        side = sides[int(marker.get("data-id"))]
        assert side in classes(marker) and marker.get("data-side") == side
        # a buy is an up-triangle (apex on top), a sell a down-triangle, in green and red
        ys = [float(p.split(",")[1]) for p in marker.get("points").split()]
        assert (ys[0] < ys[1]) == (side == "buy")
        assert marker.get("stroke") == ("#079455" if side == "buy" else "#d92d20")

    canceled = {o.pk for o in orders if o.status == "canceled"}
    assert {int(m.get("data-id")) for m in drawn if "canceled" in classes(m)} == canceled
    for marker in drawn:
        hollow = marker.get("fill") == "#fff"
        assert hollow == (int(marker.get("data-id")) in canceled)
    cancel_lines = [g for g in svg.iter(f"{SVG}g") if "cancel" in classes(g)]
    assert {int(g.get("data-order")) for g in cancel_lines} == canceled

    dots = markers(svg, "fill")
    assert len(dots) == len(fills)
    assert {int(m.get("data-id")): m.get("data-side") for m in dots} == {
        f.pk: f.order.side for f in fills
    }
    assert all(m.tag == f"{SVG}circle" for m in dots)

    evidence = set(alert.evidence["orders"]) | set(alert.evidence["fills"])
    marked = {int(m.get("data-id")) for m in drawn + dots if "evidence" in classes(m)}
    assert marked <= evidence
    assert {int(m.get("data-id")) for m in drawn if "evidence" in classes(m)} == (
        set(alert.evidence["orders"]) & {o.pk for o in orders}
    )

    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "Price (USD)" in texts and "Time (UTC" in texts
    for label in ("buy order", "sell order", "canceled order", "buy fill", "sell fill"):
        assert label in texts
    assert [e for e in svg.iter() if "alert-window" in classes(e)]


def test_the_chart_shows_the_spoof_as_a_canceled_buy_and_the_fill_opposite(officer_client, alerts):
    alert = alerts["spoofing"]
    svg = chart_of(officer_client.get(page_of(alert)).content.decode())
    spoof_id = alert.evidence["orders"][0]
    spoof = next(m for m in markers(svg, "order") if int(m.get("data-id")) == spoof_id)
    assert {"buy", "canceled", "evidence"} <= classes(spoof)
    fill_id = alert.evidence["fills"][0]
    fill = next(m for m in markers(svg, "fill") if int(m.get("data-id")) == fill_id)
    assert {"sell", "evidence"} <= classes(fill)


def test_the_chart_shows_a_reported_execution_the_gate_never_saw(officer_client, alerts):
    alert = alerts["gate_reconciliation"]
    html = officer_client.get(page_of(alert)).content.decode()
    drawn = markers(chart_of(html), "execution")
    assert [int(m.get("data-id")) for m in drawn] == alert.evidence["executions"]
    assert "ghost-1" in html and "Reported executions (drop copy)" in html


def test_the_alert_page_shows_evidence_occurrences_and_notes(officer_client, officer, alerts):
    alert = alerts["layering"]
    html = officer_client.get(page_of(alert)).content.decode()
    doc = lxml.html.fromstring(html)
    for order_id in alert.evidence["orders"]:
        assert doc.get_element_by_id(f"evidence-order-{order_id}") is not None
    for fill_id in alert.evidence["fills"]:
        assert doc.get_element_by_id(f"evidence-fill-{fill_id}") is not None
    assert alert.title in html
    occurrences = doc.get_element_by_id("occurrences").text_content()
    for occurrence in alert.occurrence_rows.all():
        assert f"#{occurrence.seq}" in occurrences
    notes = doc.get_element_by_id("notes").text_content()
    assert "raised" in notes and alert.title in notes
    shown = doc.get_element_by_id("details").text_content()
    for name, value in alert.evidence["details"].items():
        assert evidence(value) in shown, name  # as text: "397, 398, 399", not a Python list


def test_the_alert_page_reads_in_a_fixed_number_of_queries(
    officer_client, alerts, django_assert_max_num_queries
):
    # rapid fire: sixty-odd orders in the window, each drawn, none fetched one by one
    with django_assert_max_num_queries(20):
        response = officer_client.get(page_of(alerts["rapid_fire"]))
    assert len(markers(chart_of(response.content.decode()), "order")) > 60


@pytest.mark.parametrize("url", [f"{LIST}424242/", f"{LIST}{10**30}/", f"{LIST}abc/"])
def test_an_unknown_alert_is_404(officer_client, db, url):
    assert officer_client.get(url).status_code == 404
    assert officer_client.post(url, {"action": "comment", "text": "x"}).status_code == 404


# --- working the case -------------------------------------------------------------------------


def post(client, alert, **form):
    return client.post(page_of(alert), form)


def case_events(alert) -> list[dict]:
    events = AuditEvent.objects.filter(event_type="ALERT_UPDATED", object_id=str(alert.pk))
    return [json.loads(e.record)["payload"] for e in events.order_by("seq")]


def test_an_officer_works_the_case_on_the_page(officer_client, officer, alerts):
    alert = alerts["spoofing"]
    form = officer_client.get(page_of(alert)).content.decode()
    assert f'<option value="{officer.pk}" selected>{officer.username} (me)</option>' in form

    response = post(officer_client, alert, action="assign", assignee=str(officer.pk))
    assert response.status_code == 302 and response["Location"] == page_of(alert)
    page = officer_client.get(page_of(alert)).content.decode()
    assert f"Alert #{alert.pk} assigned to {officer.username}." in page
    alert.refresh_from_db()
    assert alert.assignee == officer

    assert post(officer_client, alert, action="comment", text="Asked the desk.").status_code == 302
    assert "Asked the desk." in officer_client.get(page_of(alert)).content.decode()

    assert post(officer_client, alert, action="status", status="escalated").status_code == 302
    alert.refresh_from_db()
    assert alert.status == "escalated"

    response = post(
        officer_client, alert, action="close", disposition="false_positive", comment="Quote pull."
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.disposition, alert.closed_by) == (
        "closed",
        "false_positive",
        officer,
    )
    page = officer_client.get(page_of(alert)).content.decode()
    assert "Closed: False positive" in page and 'id="close-form"' not in page
    assert "Reopen (in review)" in page

    assert post(officer_client, alert, action="status", status="in_review").status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.disposition) == ("in_review", "")

    assert post(officer_client, alert, action="assign", assignee="").status_code == 302
    alert.refresh_from_db()
    assert alert.assignee is None

    actions = [e["action"] for e in case_events(alert)]
    assert actions == ["assigned", "commented", "status", "closed", "status", "assigned"]


def test_the_assignee_list_holds_only_active_compliance_officers(
    officer_client, make_user, officer, alerts
):
    admin = make_user(Role.ADMIN)
    trader = make_user(Role.TRADER)
    gone = make_user(Role.COMPLIANCE_OFFICER)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    doc = lxml.html.fromstring(officer_client.get(page_of(alerts["spoofing"])).content)
    offered = {o.get("value") for o in doc.get_element_by_id("assignee").iter("option")}
    assert offered == {"", str(officer.pk), str(admin.pk)}
    assert str(trader.pk) not in offered and str(gone.pk) not in offered


@pytest.mark.parametrize(
    "form, message",
    [
        ({"action": "close", "disposition": "maybe", "comment": "x"}, "Disposition: One of"),
        ({"action": "close", "disposition": "", "comment": "x"}, "Disposition: One of"),
        (
            {"action": "close", "disposition": "false_positive", "comment": "  "},
            "Comment: Required",
        ),
        ({"action": "close", "disposition": "false_positive"}, "Comment: Required"),
        ({"action": "comment", "text": ""}, "Comment: Required"),
        ({"action": "comment", "text": "x" * 5000}, "Comment: At most 4000"),
        ({"action": "comment", "text": "fine\x00"}, "Comment: Must not contain NUL"),
        ({"action": "assign", "assignee": "abc"}, "Assignee: Choose an active"),
        ({"action": "assign", "assignee": "-1"}, "Assignee: Choose an active"),
        ({"action": "assign", "assignee": "424242"}, "Assignee: Choose an active"),
        ({"action": "assign", "assignee": "9" * 40}, "Assignee: Choose an active"),
        ({"action": "assign", "assignee": "1.5"}, "Assignee: Choose an active"),
        ({"action": "status", "status": "closed"}, "Status: One of"),
        ({"action": "status", "status": "nonsense"}, "Status: One of"),
        ({"action": "reopen"}, "Action: One of"),
        ({}, "Action: One of"),
    ],
)
def test_bad_input_is_400_with_the_reason_and_changes_nothing(
    officer_client, alerts, form, message
):
    alert = alerts["wash_trade"]
    before = snapshot(alert)
    response = post(officer_client, alert, **form)
    assert response.status_code == 400
    html = response.content.decode()
    errors = lxml.html.fromstring(html).get_element_by_id("case-errors").text_content()
    assert message in errors
    assert snapshot(alert) == before


def test_a_trader_cannot_be_given_a_case(officer_client, make_user, alerts):
    alert = alerts["wash_trade"]
    trader = make_user(Role.TRADER)
    before = snapshot(alert)
    response = post(officer_client, alert, action="assign", assignee=str(trader.pk))
    assert response.status_code == 400
    assert snapshot(alert) == before


def test_the_form_keeps_what_was_typed_after_an_error(officer_client, alerts):
    alert = alerts["wash_trade"]
    response = post(
        officer_client, alert, action="close", disposition="duplicate", comment="x" * 4001
    )
    assert response.status_code == 400
    doc = lxml.html.fromstring(response.content)
    assert doc.get_element_by_id("close-comment").text_content() == "x" * 4001
    chosen = [
        o.get("value")
        for o in doc.get_element_by_id("disposition").iter("option")
        if o.get("selected") is not None
    ]
    assert chosen == ["duplicate"]


def test_a_move_the_status_does_not_allow_is_409(officer_client, officer, alerts):
    alert = alerts["wash_trade"]
    before = snapshot(alert)
    response = post(officer_client, alert, action="status", status="open")
    assert response.status_code == 409
    assert "cannot become open" in response.content.decode()
    assert snapshot(alert) == before
    alert_close(alert=alert, disposition="duplicate", comment="same as #1", actor=officer)
    before = snapshot(alert)
    response = post(
        officer_client, alert, action="close", disposition="false_positive", comment="again"
    )
    assert response.status_code == 409
    assert "already closed" in response.content.decode()
    assert snapshot(alert) == before
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.CLOSED


def test_the_alert_page_shows_evidence_as_text_not_python(officer_client, alerts):
    wash = alerts["wash_trade"]
    page = officer_client.get(page_of(wash)).content.decode()
    details = page[page.index('id="details"') :]
    details = details[: details.index("</section>")]
    assert "['" not in details and "False" not in details and "True" not in details
    assert "Seconds apart" in details


def test_order_titles_name_the_symbol_not_a_database_id(alerts):
    order = Order.objects.select_related("instrument").first()
    title = str(order)
    assert order.instrument.symbol in title
    assert f" {order.instrument_id} (" not in title and "0000" not in title
