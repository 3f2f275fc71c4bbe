"""A typed Python client for the trade compliance platform's pre-trade gate.

from compliance_client import ComplianceClient, Order
client = ComplianceClient("https://compliance.example.com", token="...")
decision = client.submit(Order("ACC-001", "AAPL", "buy", "100", "189.50"))
"""

from compliance_client.client import (
    AsyncComplianceClient,
    AsyncPendingOrder,
    ComplianceClient,
    PendingOrder,
)
from compliance_client.errors import (
    ApiError,
    AuthenticationFailed,
    BadRequest,
    ComplianceError,
    Conflict,
    GateTimeout,
    GateUnavailable,
    IdempotencyConflict,
    NotFound,
    PermissionDenied,
    ProtocolError,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    WaitTimeout,
    WebhookSignatureError,
)
from compliance_client.models import (
    AmendResult,
    ApprovalOutcome,
    ApprovalRef,
    Check,
    Decision,
    FillResult,
    Instrument,
    KillSwitch,
    Order,
    OrderInfo,
    Position,
    new_client_order_id,
)
from compliance_client.webhooks import (
    WebhookEvent,
    WebhookReceiver,
    parse_webhook,
    verify_signature,
)

__version__ = "0.1.0"

__all__ = [
    "AmendResult",
    "ApiError",
    "ApprovalOutcome",
    "ApprovalRef",
    "AsyncComplianceClient",
    "AsyncPendingOrder",
    "AuthenticationFailed",
    "BadRequest",
    "Check",
    "ComplianceClient",
    "ComplianceError",
    "Conflict",
    "Decision",
    "FillResult",
    "GateTimeout",
    "GateUnavailable",
    "IdempotencyConflict",
    "Instrument",
    "KillSwitch",
    "NotFound",
    "Order",
    "OrderInfo",
    "PendingOrder",
    "PermissionDenied",
    "Position",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "WaitTimeout",
    "WebhookEvent",
    "WebhookReceiver",
    "WebhookSignatureError",
    "new_client_order_id",
    "parse_webhook",
    "verify_signature",
]
