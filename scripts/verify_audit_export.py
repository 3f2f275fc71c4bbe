#!/usr/bin/env python3
"""Verify an export of the audit trail against a witness and pinned keys, on its own.

    python verify_audit_export.py audit.jsonl --witness WITNESS_DIR --public-key audit.pem

Needs Python 3.10+ and the `cryptography` package, nothing of the platform: it follows
docs/audit-format.md. Exit 0 and a line starting "OK:" when the export is whole; exit 1 and
"BROKEN at sequence N: why" naming the first event it cannot account for; exit 2 when the files
cannot be read.

It checks each event's hash (RFC 8785 canonical JSON, SHA-256) and the chain; the witness lines'
signatures (Ed25519, with the pinned keys and the keys a rotation hands over to or from them),
that they form one chain (each names the one before and proves, by an RFC 9162 consistency proof,
that it extends it); the Merkle root (RFC 6962) of the export at every witnessed tree size it
covers; that the export reaches the last witnessed checkpoint (or, with --as-of N, tree size N);
and the signed statement of every purge. Every line must be UTF-8 JSON with no name twice in one
object.

    python verify_audit_export.py old-audit.jsonl --witness WITNESS_DIR --public-key audit.pem \
        --as-of 15

holds an older export to the witness as of tree size 15 (the size it was taken at, known from
outside the export): it must reach 15, and checkpoints witnessed past it are not required.
"""

import argparse
import base64
import hashlib
import json
import re
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "0" * 64
MAX_SAFE_INT = 2**53 - 1
FIELDS = {
    "seq", "occurred_at", "event_type", "actor_type", "actor", "actor_token", "ip",
    "user_agent", "request_id", "object_type", "object_id", "payload", "regulatory",
    "retention_class", "prev_hash", "hash",
}  # fmt: skip
WITNESS_FIELDS = {
    "log_id", "tree_size", "root_hash", "created_at", "key_id", "signature",
    "prev_tree_size", "prev_root_hash", "consistency_proof", "rotation",
}  # fmt: skip


class Broken(Exception):
    def __init__(self, seq, why):
        super().__init__(why)
        self.seq, self.why = seq, why


class Unreadable(Exception):
    pass


class DuplicateName(ValueError):
    pass


def _unique_object(pairs) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateName(f"the name {json.dumps(name)} appears twice in one object")
            seen.add(name)
    return obj


def parse(text: str):
    """json.loads, refusing an object that holds a name twice (json.loads keeps the last, other
    parsers the first: one line would read two ways)."""
    return json.loads(text, object_pairs_hook=_unique_object)


# --- RFC 8785 for the event model (str, int, bool, null, list, object; no floats) ------------


def canonical(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise ValueError(f"integer {value} is outside ±(2**53 - 1)")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(f"{canonical(k)}:{canonical(value[k])}" for k in keys) + "}"
    raise ValueError(f"a {type(value).__name__} has no place in an audit event")


# --- RFC 6962 / 9162 Merkle tree ---------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The complete subtree hashes of the tree so far, largest first."""

    def __init__(self, hashes=(), size=0):
        self.hashes, self.size = list(hashes), size

    @classmethod
    def from_list(cls, items):
        frontier = cls()
        for item in items:
            frontier.size = frontier.size << 1 | (item != "")
            if item:
                frontier.hashes.append(bytes.fromhex(item))
        return frontier

    def append(self, leaf: bytes) -> None:
        node, carry = leaf, self.size
        while carry & 1:
            node = node_hash(self.hashes.pop(), node)
            carry >>= 1
        self.hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return hashlib.sha256(b"").digest()
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = node_hash(left, result)
        return result


def verify_consistency(old_size, new_size, old_root, new_root, proof) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == hashlib.sha256(b"").digest()
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --- keys and signatures -----------------------------------------------------------------------


def key_id_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def verify_signature(message: bytes, signature, raw_key: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(base64.b64decode(signature), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_keys(path: str) -> list:
    data = Path(path).read_bytes()
    blocks = re.findall(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", data, re.S)
    keys = []
    for block in blocks:
        key = serialization.load_pem_public_key(block)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{path}: not an Ed25519 key")
        keys.append(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    if not blocks:
        for line in data.decode("ascii").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                raw = bytes.fromhex(line)
                if len(raw) != 32:
                    raise ValueError(f"{path}: an Ed25519 public key is 64 hex digits")
                keys.append(raw)
    if not keys:
        raise ValueError(f"{path}: no key")
    return keys


def checkpoint_message(log_id: str, entry: dict) -> bytes:
    message = f"{log_id}\n{entry['tree_size']}\n{entry['root_hash']}\n{entry['created_at']}\n"
    rotation = entry.get("rotation")
    if rotation:
        message += f"rotate {rotation['from']} {rotation['to']}\n"
    return message.encode()


class Keyring:
    def __init__(self, pinned, log_id):
        self.keys = {key_id_of(k): k for k in pinned}
        self.retired = {}
        self.log_id = log_id

    def learn(self, entries) -> None:
        rotations = []
        for entry in entries:
            rotation = entry.get("rotation")
            if not rotation:
                continue
            try:
                old, new = bytes.fromhex(rotation["from"]), bytes.fromhex(rotation["to"])
                message = checkpoint_message(self.log_id, entry)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            if len(old) != 32 or len(new) != 32 or entry["key_id"] != key_id_of(old):
                continue
            if verify_signature(message, entry["signature"], old) and verify_signature(
                message, rotation.get("to_signature"), new
            ):
                rotations.append((old, new, entry["tree_size"]))
        changed = True
        while changed:
            changed = False
            for old, new, size in rotations:
                known = self.keys.values()
                if (old in known) != (new in known):
                    for key in (old, new):
                        self.keys.setdefault(key_id_of(key), key)
                    changed = True
                if old in self.keys.values():
                    at = self.retired.get(key_id_of(old))
                    self.retired[key_id_of(old)] = size if at is None else min(at, size)

    def problem(self, entry):
        key = self.keys.get(entry.get("key_id"))
        if key is None:
            return (
                f"key id {entry.get('key_id')} is not a pinned key (nor handed over to or from one)"
            )
        retired = self.retired.get(entry["key_id"])
        if retired is not None and entry["tree_size"] > retired:
            return f"key id {entry['key_id']} handed over at {retired} and signs nothing after"
        if not verify_signature(checkpoint_message(self.log_id, entry), entry["signature"], key):
            return f"its signature does not verify with key id {entry['key_id']}"
        return None


# --- the witness -------------------------------------------------------------------------------


def read_witness(path: str) -> list:
    root = Path(path)
    files = sorted(root.glob("witness-*.jsonl")) if root.is_dir() else [root]
    if not root.exists():
        raise Unreadable(f"the witness {root} does not exist")
    entries = []
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                entry = parse(line)
                ok = isinstance(entry, dict) and set(entry) >= WITNESS_FIELDS
                ok = ok and type(entry["tree_size"]) is int and entry["tree_size"] > 0
                ok = ok and type(entry["prev_tree_size"]) is int
                ok = ok and isinstance(entry["consistency_proof"], list)
            except ValueError:
                ok = False
            if not ok:
                raise Unreadable(f"{file.name} line {number} is not a witness line")
            entries.append(entry)
    entries.sort(key=lambda e: e["tree_size"])
    return entries


def check_witness(witness, keyring) -> None:
    for entry in witness:
        problem = keyring.problem(entry)
        if problem:
            raise Broken(
                entry["prev_tree_size"] + 1,
                f"the witnessed checkpoint at {entry['tree_size']} is not signed by a trusted "
                f"key: {problem}",
            )
    for index, entry in enumerate(witness):
        size, prev_size = entry["tree_size"], entry["prev_tree_size"]
        if index:
            before = witness[index - 1]
            if before["tree_size"] == size:
                raise Broken(prev_size + 1, f"the witness holds two checkpoints at {size}")
            if (prev_size, entry["prev_root_hash"]) != (before["tree_size"], before["root_hash"]):
                raise Broken(
                    before["tree_size"] + 1,
                    f"a gap in the witnessed checkpoints: the line at {size} names the "
                    f"checkpoint at {prev_size} before it, but the previous line is at "
                    f"{before['tree_size']}",
                )
        try:
            old_root = (
                bytes.fromhex(entry["prev_root_hash"]) if prev_size else hashlib.sha256().digest()
            )
            proof = [bytes.fromhex(h) for h in entry["consistency_proof"]]
            ok = verify_consistency(
                prev_size, size, old_root, bytes.fromhex(entry["root_hash"]), proof
            )
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise Broken(
                prev_size + 1,
                f"the consistency proof of the witnessed checkpoint at {size} does not show "
                f"that it extends the one at {prev_size}",
            )


# --- the export --------------------------------------------------------------------------------


def purge_problem(payload, keyring, log_id):
    statement, signature = payload.get("statement"), payload.get("signature")
    if not isinstance(statement, dict) or not isinstance(signature, str):
        return "the purge carries no signed statement"
    for name in ("purged_from", "purged_to", "count", "anchor_hash"):
        if statement.get(name) != payload.get(name):
            return f"the purge statement's {name} differs from the event's"
    key = keyring.keys.get(payload.get("key_id"))
    if key is None:
        return f"the purge statement is signed by key id {payload.get('key_id')}, not a pinned key"
    message = b"audit-purge\n" + canonical(statement).encode()
    if not verify_signature(message, signature, key):
        return "the purge statement's signature does not verify"
    return None


def find_anchor(path, purged_to):
    found = None
    with open(path, "rb") as fh:
        for line in fh:
            if b'"DATA_PURGED"' not in line:
                continue
            try:
                event = parse(line.decode("utf-8"))
                payload = event["payload"]
                if event["event_type"] == "DATA_PURGED" and payload["purged_to"] == purged_to:
                    found = (payload["anchor_hash"], Frontier.from_list(payload["anchor_frontier"]))
            except (ValueError, KeyError, TypeError):
                continue
    return found


def verify(path, witness, keyring, log_id, as_of=None) -> str:
    check_witness(witness, keyring)
    roots = {e["tree_size"]: e["root_hash"] for e in witness}
    frontier, prev_hash, expected = Frontier(), None, None
    matched, count, first, last_event = 0, 0, None, None
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            where = f"line {number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Broken(expected, f"{where}: not UTF-8 (at byte {exc.start})") from None
            try:
                event = parse(line)
            except DuplicateName as exc:
                raise Broken(expected, f"{where}: {exc}") from None
            except ValueError as exc:
                raise Broken(expected, f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(event, dict) or set(event) != FIELDS:
                raise Broken(expected, f"{where}: not an audit event")
            seq, digest = event["seq"], event.pop("hash")
            try:
                record = canonical(event).encode()
            except UnicodeEncodeError:
                raise Broken(seq, f"{where}: a string holds a lone surrogate") from None
            except ValueError as exc:
                raise Broken(seq, f"{where}: {exc}") from None
            if expected is None:
                expected, prev_hash = seq, GENESIS
                if seq != 1:
                    anchor = find_anchor(path, seq - 1) if isinstance(seq, int) else None
                    if anchor is None or anchor[1].size != seq - 1:
                        raise Broken(seq, f"{where}: no DATA_PURGED event anchors the start")
                    prev_hash, frontier = anchor
                matched, first = seq - 1, seq
            if seq != expected:
                raise Broken(expected, f"{where}: expected sequence {expected}, found {seq}")
            if event["prev_hash"] != prev_hash:
                raise Broken(seq, f"{where}: prev_hash does not match the previous event's hash")
            if hashlib.sha256(record).hexdigest() != digest:
                raise Broken(seq, f"{where}: hash does not match the event (it was altered)")
            if event["event_type"] == "DATA_PURGED":
                payload = event["payload"] if isinstance(event["payload"], dict) else {}
                problem = purge_problem(payload, keyring, log_id)
                if problem:
                    raise Broken(seq, f"{where}: {problem}")
            frontier.append(leaf_hash(record))
            if seq in roots:
                if frontier.root().hex() != roots[seq]:
                    raise Broken(
                        matched + 1,
                        f"events {matched + 1}..{seq} do not give the root of the witnessed "
                        f"checkpoint at {seq}",
                    )
                matched = seq
            count += 1
            prev_hash, expected = digest, seq + 1
            last_event = event
    last = expected - 1 if count else 0
    payload = last_event.get("payload") if last_event else None
    if not (
        isinstance(payload, dict)
        and last_event["event_type"] == "DATA_ACCESS"
        and last_event["object_type"] == "audit.auditevent"
        and payload.get("action") == "export"
    ):
        raise Broken(
            last + 1,
            f"the export ends at {last} with no export event of its own: it was cut short",
        )
    # The export must reach the last witnessed checkpoint (or the tree size it is held to): its
    # own times cannot say which checkpoints came before it, whoever cut it wrote them.
    if as_of is None:
        reach = witness[-1]["tree_size"] if witness else 0
        if last < reach:
            raise Broken(
                last + 1,
                f"the export ends at {last} but the witness holds a checkpoint at {reach} "
                "(truncated; an older export is verified with --as-of the tree size it was "
                "taken at)",
            )
    elif last < as_of:
        raise Broken(
            last + 1, f"the export ends at {last}, short of tree size {as_of} (--as-of): truncated"
        )
    covered = sum(1 for e in witness if e["tree_size"] <= last)
    held = f"; held to the witness as of tree size {as_of}" if as_of is not None else ""
    return (
        f"OK: {count} events, sequence {first}..{last}, last hash {prev_hash}; agrees with "
        f"{covered} witnessed checkpoints{held}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the JSON Lines export")
    parser.add_argument("--witness", required=True, help="witness directory (or one file)")
    parser.add_argument(
        "--public-key",
        action="append",
        required=True,
        help="pinned Ed25519 public key or keyring file (PEM, or 64 hex digits a line); repeat",
    )
    parser.add_argument("--log-id", default="trade-compliance-audit")
    parser.add_argument(
        "--as-of",
        type=int,
        metavar="TREE_SIZE",
        help="hold an older export to the witness as of this tree size (the size it was taken "
        "at, known from outside the export): the export must reach it, and checkpoints "
        "witnessed past it are not required (without it: the export must reach the last one)",
    )
    args = parser.parse_args(argv)
    if args.as_of is not None and args.as_of < 1:
        parser.error("--as-of takes a tree size of 1 or more")
    try:
        pinned = [key for path in args.public_key for key in load_keys(path)]
        witness = read_witness(args.witness)
        open(args.export, "rb").close()
    except (OSError, ValueError, Unreadable) as exc:
        print(f"cannot read the files: {exc}", file=sys.stderr)
        return 2
    keyring = Keyring(pinned, args.log_id)
    keyring.learn(witness)
    try:
        print(verify(args.export, witness, keyring, args.log_id, args.as_of))
    except Broken as exc:
        print(f"BROKEN at sequence {exc.seq}: {exc.why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
