"""The Ed25519 key that signs checkpoints.

From AUDIT_SIGNING_KEY (base64 of the 32-byte private seed) or AUDIT_SIGNING_KEY_FILE (PEM).
With neither, a development key is generated once under VAR_DIR; with DEBUG off a key must be
configured, since a key that changes with every deployment proves nothing.
"""

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _load_or_create_dev_key() -> Ed25519PrivateKey:
    path = settings.VAR_DIR / "audit-signing-key.pem"
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


@lru_cache(maxsize=1)
def private_key() -> Ed25519PrivateKey:
    if settings.AUDIT_SIGNING_KEY:
        seed = base64.b64decode(settings.AUDIT_SIGNING_KEY)
        return Ed25519PrivateKey.from_private_bytes(seed)
    if settings.AUDIT_SIGNING_KEY_FILE:
        with open(settings.AUDIT_SIGNING_KEY_FILE, "rb") as fh:
            return serialization.load_pem_private_key(fh.read(), password=None)
    if not settings.DEBUG:
        raise ImproperlyConfigured("Set AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE.")
    return _load_or_create_dev_key()


def public_key_bytes() -> bytes:
    return (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def key_id() -> str:
    return key_id_of(public_key_bytes())


def load_public_key(path: str) -> bytes:
    """A pinned public key from the operator: a PEM file, or the raw 32 bytes as hex (as the
    checkpoint API shows it). Raises ValueError when it is neither an Ed25519 key."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data.lstrip().startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an Ed25519 key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = bytes.fromhex(data.decode("ascii").strip())
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (64 hex digits)")
    return raw


def raw_public(key: Ed25519PrivateKey) -> str:
    """The raw public key of a private key, as 64 hex digits."""
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_private_key(path: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (PKCS8, unencrypted)."""
    with open(path, "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the private key is not an Ed25519 key")
    return key


def sign(message: bytes, key: Ed25519PrivateKey | None = None) -> str:
    return base64.b64encode((key or private_key()).sign(message)).decode()


def verify(message: bytes, signature_b64: str, public_key: bytes | None = None) -> bool:
    from cryptography.exceptions import InvalidSignature

    key = Ed25519PublicKey.from_public_bytes(public_key or public_key_bytes())
    try:
        key.verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True
