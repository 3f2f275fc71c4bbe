"""An event the sequencer could never place must not be stored: PostgreSQL's jsonb, which the
sequencing trigger reads each record as, cannot hold U+0000, and one such event pending would
hold back every event after it."""

import pytest
from django.http import QueryDict

from apps.audit.events import EventType
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_verify
from apps.audit.sequencer import audit_sequence
from apps.audit.services import AuditPayloadError, audit_read_record, audit_record, read_params

pytestmark = pytest.mark.audit_after_commit


def test_an_event_with_a_nul_character_is_refused_and_nothing_is_stored(db):
    with pytest.raises(AuditPayloadError) as refused:
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"q": "a\x00b"})
    assert "payload" in refused.value.details
    with pytest.raises(AuditPayloadError):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"a\x00": 1})
    assert not AuditEvent.objects.exists()


def test_a_read_whose_query_holds_a_nul_is_recorded_and_the_chain_keeps_moving(db):
    params = read_params(QueryDict("q=a%00b&x%00=1"))
    assert params == {"q": "a\ufffdb", "x\ufffd": "1"}
    audit_read_record(actor="t", action="list", via="api", params=params)
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": 1})
    assert audit_sequence() == 2
    assert not AuditEvent.objects.filter(seq__lt=0).exists()
    assert audit_verify().ok


def test_a_literal_backslash_u0000_is_text_and_is_kept(db):
    audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"q": "\\u0000"})
    assert audit_sequence() == 1
    assert audit_verify().ok


def test_a_client_whose_user_agent_holds_a_nul_still_trades(api_client_for, account, instrument):
    """What a client says about itself is kept with the NUL replaced, not refused: an order is
    decided whatever the client's User-Agent header holds."""
    from apps.rbac.roles import Role
    from tests.rules.factories import order_body

    client = api_client_for(Role.TRADER)
    answer = client.post(
        "/api/v1/orders/", order_body("ua-nul"), format="json", HTTP_USER_AGENT="bot\x00/1.0"
    )
    assert answer.status_code == 201, answer.content
    audit_sequence()
    event = AuditEvent.objects.filter(event_type=EventType.ORDER_SUBMITTED).get()
    assert "bot\ufffd/1.0" in event.record
