"""The webhook signature: HMAC-SHA256 over the timestamp, a dot and the body.

    X-Compliance-Timestamp: 1795258800
    X-Compliance-Signature: sha256=<hex of HMAC-SHA256(secret, "1795258800." + body)>

The receiver recomputes the HMAC over the bytes it received and refuses a timestamp too far
from its clock (replay). `webhook_signature_verify` is that check, for receivers in Python.
"""

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Compliance-Timestamp"
SIGNATURE_HEADER = "X-Compliance-Signature"
EVENT_HEADER = "X-Compliance-Event"
DELIVERY_HEADER = "X-Compliance-Delivery"
SCHEME = "sha256="
TOLERANCE_SECONDS = 300


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def webhook_signature_verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when the signature is right and the timestamp within `tolerance` seconds."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature or "")
