"""The audit endpoints: roles, verification, export, checkpoints and proofs checked by a small
independent verifier (RFC 9162), written here without the platform's Merkle code."""

import base64
import hashlib
import json

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from apps.audit.events import EventType
from apps.audit.services import audit_record, checkpoint_create
from apps.rbac.roles import Role
from tests.permissions import assert_api_role_required


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def independent_inclusion_check(index, size, leaf, proof, root) -> bool:
    """RFC 9162 section 2.1.3.2, transcribed."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def independent_consistency_check(first, second, first_root, second_root, proof) -> bool:
    """RFC 9162 section 2.1.4.2, transcribed."""
    if first == second:
        return not proof and first_root == second_root
    if first > second or not proof:
        return False
    if first & (first - 1) == 0:  # a power of two: the old root starts the path
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


@pytest.fixture
def logged(db):
    for n in range(13):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n})
    return checkpoint_create()


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/api/v1/audit/events/", Role.COMPLIANCE_OFFICER),
        ("/api/v1/audit/verify/", Role.COMPLIANCE_OFFICER),
        ("/api/v1/audit/export/", Role.COMPLIANCE_OFFICER),
        ("/api/v1/audit/checkpoints/latest/", Role.COMPLIANCE_OFFICER),
        ("/api/v1/audit/events/1/proof/", Role.COMPLIANCE_OFFICER),
        ("/api/v1/audit/checkpoints/consistency/?first=1", Role.COMPLIANCE_OFFICER),
    ],
)
def test_audit_endpoints_need_their_role(api_client_for, logged, url, role):
    assert_api_role_required(api_client_for, "get", url, role)


def test_purge_needs_admin(api_client_for, logged):
    assert_api_role_required(api_client_for, "post", "/api/v1/audit/purge/", Role.ADMIN)


def test_events_list_and_filter(api_client_for, logged):
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    body = client.get("/api/v1/audit/events/?event_type=CONFIG_CHANGED&actor=t").json()
    assert body["count"] == 13
    first = body["results"][0]
    digest = first.pop("hash")
    assert hashlib.sha256(rfc8785.dumps(first)).hexdigest() == digest


def test_verify_endpoint(api_client_for, logged):
    body = api_client_for(Role.COMPLIANCE_OFFICER).get("/api/v1/audit/verify/").json()
    assert body["ok"] is True and body["checkpoint_tree_size"] == logged.tree_size


def test_export_verifies_with_an_outside_program(api_client_for, logged):
    response = api_client_for(Role.COMPLIANCE_OFFICER).get("/api/v1/audit/export/")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    prev, expected = "0" * 64, 1
    for line in lines:
        event = json.loads(line)
        digest = event.pop("hash")
        assert event["seq"] == expected and event["prev_hash"] == prev
        assert hashlib.sha256(rfc8785.dumps(event)).hexdigest() == digest
        prev, expected = digest, expected + 1
    assert json.loads(lines[-1])["event_type"] == "DATA_ACCESS"  # the export itself


def test_checkpoint_is_signed(api_client_for, logged):
    body = api_client_for(Role.COMPLIANCE_OFFICER).get("/api/v1/audit/checkpoints/latest/").json()
    message = (
        f"{body['log_id']}\n{body['tree_size']}\n{body['root_hash']}\n{body['created_at']}\n"
    ).encode()
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(body["public_key"]))
    key.verify(base64.b64decode(body["signature"]), message)  # raises when invalid


def test_every_inclusion_proof_checks_out(api_client_for, logged):
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    export = client.get("/api/v1/audit/events/?limit=1000").json()["results"]
    for seq in range(1, logged.tree_size + 1):
        body = client.get(f"/api/v1/audit/events/{seq}/proof/").json()
        event = dict(export[seq - 1])
        event.pop("hash")
        leaf = _h(b"\x00" + rfc8785.dumps(event))
        assert leaf.hex() == body["leaf_hash"]
        assert independent_inclusion_check(
            seq - 1,
            body["tree_size"],
            leaf,
            [bytes.fromhex(p) for p in body["proof"]],
            bytes.fromhex(body["checkpoint"]["root_hash"]),
        ), seq


def test_consistency_between_every_pair_of_checkpoints(api_client_for, logged):
    sizes = [logged.tree_size]
    for extra in (1, 2, 5, 11):
        for n in range(extra):
            audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"more": n})
        sizes.append(checkpoint_create().tree_size)
    client = api_client_for(Role.COMPLIANCE_OFFICER)
    for i, first in enumerate(sizes):
        for second in sizes[i:]:
            body = client.get(
                f"/api/v1/audit/checkpoints/consistency/?first={first}&second={second}"
            ).json()
            assert independent_consistency_check(
                first,
                second,
                bytes.fromhex(body["first"]["root_hash"]),
                bytes.fromhex(body["second"]["root_hash"]),
                [bytes.fromhex(p) for p in body["proof"]],
            ), (first, second)
    # A proof does not carry over to another checkpoint's root, nor survive a changed hash.
    body = client.get(
        f"/api/v1/audit/checkpoints/consistency/?first={sizes[0]}&second={sizes[-1]}"
    ).json()
    proof = [bytes.fromhex(p) for p in body["proof"]]
    first_root = bytes.fromhex(body["first"]["root_hash"])
    other_root = bytes.fromhex(
        client.get(f"/api/v1/audit/checkpoints/consistency/?first={sizes[-2]}").json()["first"][
            "root_hash"
        ]
    )
    assert not independent_consistency_check(sizes[0], sizes[-1], first_root, other_root, proof)
    proof[0] = _h(proof[0])
    assert not independent_consistency_check(
        sizes[0], sizes[-1], first_root, bytes.fromhex(body["second"]["root_hash"]), proof
    )


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit/events/999/proof/",
        "/api/v1/audit/events/1/proof/?tree_size=abc",
        "/api/v1/audit/checkpoints/consistency/",
        "/api/v1/audit/checkpoints/consistency/?first=-1",
        "/api/v1/audit/events/1/proof/?tree_size=99999999999999999999999",
    ],
)
def test_bad_proof_requests_are_clear_errors(api_client_for, logged, url):
    response = api_client_for(Role.COMPLIANCE_OFFICER).get(url)
    assert response.status_code in (400, 404)
    assert set(response.json()["error"]) == {"code", "message", "details"}
