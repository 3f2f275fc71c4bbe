"""The keys a checkpoint may be signed with: those the operator pinned, and those a rotation
hands over to or from them.

A key id inside a checkpoint only says which of these keys to try; it never brings a key of its
own. A rotation checkpoint names the outgoing and the incoming public key, and is signed by both
(the outgoing key in `signature`, the incoming one in `rotation.to_signature`), so trust passes
across it either way: pin the first key and the later ones follow, or pin the current one and
the earlier ones follow. A key that handed over at tree size N signs nothing larger afterwards.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from apps.audit import signing
from apps.audit.services import checkpoint_message

_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


def load_keyring(path: str) -> list[bytes]:
    """Public keys from a keyring file: PEM blocks, or one key a line as 64 hex digits (blank
    lines and lines starting with # are skipped). Raises ValueError when it holds none."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    with open(path, "rb") as fh:
        data = fh.read()
    keys: list[bytes] = []
    blocks = _PEM.findall(data)
    for block in blocks:
        key = serialization.load_pem_public_key(block)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("a key in the keyring is not an Ed25519 key")
        keys.append(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    if not blocks:
        for number, line in enumerate(data.decode("ascii").splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                raw = bytes.fromhex(line)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError(f"keyring line {number} is not 64 hex digits")
            keys.append(raw)
    if not keys:
        raise ValueError("the keyring holds no key")
    return keys


def message_of(entry: Mapping[str, Any]) -> bytes:
    """The signed message of a checkpoint given as a dict (a witness line, an API answer)."""
    created = entry["created_at"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return checkpoint_message(
        tree_size=entry["tree_size"],
        root_hash=entry["root_hash"],
        created_at=created,
        rotation=entry.get("rotation"),
    )


def as_entry(checkpoint) -> dict:
    """A stored Checkpoint as the dict the keyring reads."""
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "created_at": checkpoint.created_at,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "rotation": checkpoint.rotation,
    }


class Keyring:
    def __init__(self, pinned: Iterable[bytes]):
        self.keys: dict[str, bytes] = {signing.key_id_of(k): bytes(k) for k in pinned}
        self.retired: dict[str, int] = {}  # key id -> the tree size it handed over at

    def learn(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Take in the rotations among `entries` that are signed by both their keys and touch a
        trusted key, until no more can be added."""
        rotations = []
        for entry in entries:
            rotation = entry.get("rotation")
            if not rotation:
                continue
            try:
                old, new = bytes.fromhex(rotation["from"]), bytes.fromhex(rotation["to"])
                message = message_of(entry)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            if len(old) != 32 or len(new) != 32 or entry["key_id"] != signing.key_id_of(old):
                continue
            if signing.verify(message, str(entry["signature"]), old) and signing.verify(
                message, str(rotation.get("to_signature")), new
            ):
                rotations.append((old, new, entry["tree_size"]))
        changed = True
        while changed:
            changed = False
            for old, new, size in rotations:
                known = self.keys.values()
                if (old in known) != (new in known):
                    for key in (old, new):
                        self.keys.setdefault(signing.key_id_of(key), key)
                    changed = True
                if old in self.keys.values():
                    at = self.retired.get(signing.key_id_of(old))
                    self.retired[signing.key_id_of(old)] = size if at is None else min(at, size)

    def problem(self, entry: Mapping[str, Any]) -> str | None:
        """Why the checkpoint `entry` is not validly signed by a trusted key, or None."""
        key_id = entry.get("key_id")
        key = self.keys.get(key_id)
        if key is None:
            return f"key id {key_id} is not a pinned key (nor handed over to or from one)"
        retired = self.retired.get(key_id)
        if retired is not None and entry["tree_size"] > retired:
            return f"key id {key_id} handed over at tree size {retired} and signs nothing after"
        try:
            message = message_of(entry)
        except (KeyError, TypeError, ValueError, AttributeError):
            return "it is not a well-formed checkpoint"
        if not signing.verify(message, str(entry.get("signature")), key):
            return f"its signature does not verify with key id {key_id}"
        return None
