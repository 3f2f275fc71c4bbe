"""merkle: RFC 6962 roots, RFC 9162 proofs that verify, and tampering that does not.

Checked three ways: trees worked out by hand, the Certificate Transparency reference vectors,
and a deliberately naive recursive transcription of the RFC written here, which shares no
code with the module (so a shared mistake cannot make both sides agree).
"""

import hashlib

import pytest

from apps.audit import merkle
from apps.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

# --- the naive reference: RFC 6962 section 2.1 / RFC 9162 section 2.1, word for word -------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_leaf(data: bytes) -> bytes:
    return sha(b"\x00" + data)


def ref_node(left: bytes, right: bytes) -> bytes:
    return sha(b"\x01" + left + right)


def ref_k(n: int) -> int:
    """The largest power of two smaller than n, by counting."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    """MTH over leaf hashes."""
    n = len(hashes)
    if n == 0:
        return sha(b"")
    if n == 1:
        return hashes[0]
    k = ref_k(n)
    return ref_node(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return ref_path(m, hashes[:k]) + [ref_mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [ref_mth(hashes)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, hashes[:k], complete) + [ref_mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [ref_mth(hashes[:k])]


def ref_proof(m: int, hashes: list[bytes]) -> list[bytes]:
    return ref_subproof(m, hashes, True)


# Structural verifiers: rebuild the roots by retracing PATH / SUBPROOF for the claimed sizes,
# taking proof hashes from the end (the top of the tree). A proof verifies if it is used up
# exactly and gives the claimed roots. This is a different route to the RFC 9162 verifiers'
# answer, so comparing the two on many claims, true and false, tests the bit twiddling.


class ProofUsedUp(Exception):
    pass


def take(proof: list[bytes]) -> bytes:
    if not proof:
        raise ProofUsedUp
    return proof.pop()


def ref_verify_inclusion(index, size, leaf, proof, expected_root) -> bool:
    if not 0 <= index < size:
        return False
    remaining = list(proof)

    def rebuild(m: int, n: int) -> bytes:
        if n == 1:
            return leaf
        k = ref_k(n)
        other = take(remaining)
        if m < k:
            return ref_node(rebuild(m, k), other)
        return ref_node(other, rebuild(m - k, n - k))

    try:
        result = rebuild(index, size)
    except ProofUsedUp:
        return False
    return not remaining and result == expected_root


def ref_verify_consistency(old_size, new_size, old_root, new_root, proof) -> bool:
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    remaining = list(proof)

    def rebuild(m: int, n: int, complete: bool) -> tuple[bytes, bytes]:
        """(hash of the old tree's part of this subtree, hash of this subtree)."""
        if m == n:
            if complete:  # this subtree is the whole old tree, which the proof leaves out
                return old_root, old_root
            node = take(remaining)
            return node, node
        k = ref_k(n)
        other = take(remaining)
        if m <= k:
            old, new = rebuild(m, k, complete)
            return old, ref_node(new, other)
        old, new = rebuild(m - k, n - k, False)
        return ref_node(other, old), ref_node(other, new)

    try:
        old, new = rebuild(old_size, new_size, True)
    except ProofUsedUp:
        return False
    return not remaining and old == old_root and new == new_root


# --- fixtures --------------------------------------------------------------------------------

LEAVES = [ref_leaf(f"event {i}".encode()) for i in range(300)]


def getter(hashes: list[bytes]):
    """A get_leaves backed by a list, recording its calls."""
    calls: list[tuple[int, int]] = []

    def get_leaves(start: int, end: int) -> list[bytes]:
        calls.append((start, end))
        return hashes[start:end]

    get_leaves.calls = calls  # type: ignore[attr-defined]
    return get_leaves


GET = getter(LEAVES)

# Certificate Transparency's reference tree (RFC 6962 test vectors, as used by the CT and
# transparency-dev test suites): eight leaf inputs and the root after each of them.
CT_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based leaf index, tree size, audit path)
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, consistency proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_LEAVES = [ref_leaf(data) for data in CT_INPUTS]


def flip(digest: bytes, byte: int = 0) -> bytes:
    """The same hash with one bit changed."""
    return digest[:byte] + bytes([digest[byte] ^ 1]) + digest[byte + 1 :]


# --- hashing and roots -----------------------------------------------------------------------


def test_hash_functions_use_the_rfc_prefixes():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT


def test_small_trees_by_hand():
    lh = [sha(b"\x00" + f"event {i}".encode()) for i in range(7)]
    assert lh == LEAVES[:7]

    def n(a: bytes, b: bytes) -> bytes:
        return sha(b"\x01" + a + b)

    assert root(lh[:1]) == lh[0]
    assert root(lh[:2]) == n(lh[0], lh[1])
    assert root(lh[:3]) == n(n(lh[0], lh[1]), lh[2])
    assert root(lh[:5]) == n(n(n(lh[0], lh[1]), n(lh[2], lh[3])), lh[4])
    assert root(lh[:7]) == n(n(n(lh[0], lh[1]), n(lh[2], lh[3])), n(n(lh[4], lh[5]), lh[6]))


def test_certificate_transparency_roots():
    assert [leaf_hash(data) for data in CT_INPUTS] == CT_LEAVES
    for size, expected in enumerate(CT_ROOTS):
        assert root(CT_LEAVES[:size]).hex() == expected
        frontier = Frontier()
        frontier.extend(CT_LEAVES[:size])
        assert frontier.root().hex() == expected


def test_roots_match_the_naive_reference():
    for size in range(301):
        assert root(LEAVES[:size]) == ref_mth(LEAVES[:size]), size


def test_subtree_hash_asks_for_exactly_its_range():
    get = getter(LEAVES)
    assert subtree_hash(3, 11, get) == ref_mth(LEAVES[3:11])
    assert get.calls == [(3, 11)]


def test_subtree_hash_refuses_empty_ranges_and_short_answers():
    with pytest.raises(ValueError, match="empty"):
        subtree_hash(4, 4, GET)
    with pytest.raises(ValueError, match="starts below 0"):
        subtree_hash(-1, 4, GET)
    with pytest.raises(ValueError, match=r"get_leaves\(0, 4\) gave 3 leaf hashes, not 4"):
        subtree_hash(0, 4, lambda start, end: LEAVES[start : end - 1])


def test_leaf_hashes_must_be_32_bytes():
    with pytest.raises(ValueError, match="must be 32 bytes, got 31"):
        root([LEAVES[0], LEAVES[1][:31]])
    with pytest.raises(ValueError, match="must be bytes, got str"):
        Frontier().append(LEAVES[0].hex())  # type: ignore[arg-type]
    # memoryview is what Django hands back for a BinaryField.
    assert root([memoryview(LEAVES[0]), bytearray(LEAVES[1])]) == ref_mth(LEAVES[:2])


# --- Frontier --------------------------------------------------------------------------------


def test_frontier_equals_root_for_every_size_to_300():
    frontier = Frontier()
    assert frontier.size == 0
    assert frontier.root() == EMPTY_ROOT
    for size in range(1, 301):
        frontier.append(LEAVES[size - 1])
        assert frontier.size == size
        assert frontier.root() == root(LEAVES[:size]) == ref_mth(LEAVES[:size]), size
        # Its subtrees are the binary decomposition of the size, largest first.
        assert len(frontier._hashes) == size.bit_count()


def test_frontier_round_trips_through_its_list_form():
    frontier = Frontier()
    assert frontier.to_list() == []
    assert Frontier.from_list([]).size == 0
    for size in range(1, 301):
        frontier.append(LEAVES[size - 1])
        stored = frontier.to_list()
        assert len(stored) == size.bit_length()
        assert all(isinstance(entry, str) for entry in stored)
        restored = Frontier.from_list(stored)
        assert restored.size == size
        assert restored.root() == frontier.root()
        assert restored.to_list() == stored
        # A restored frontier keeps growing like the original.
        restored.extend(LEAVES[size : size + 5])
        assert restored.root() == ref_mth(LEAVES[: size + 5])


def test_frontier_list_form_for_five_leaves():
    frontier = Frontier()
    frontier.extend(LEAVES[:5])
    assert frontier.to_list() == [ref_mth(LEAVES[:4]).hex(), "", LEAVES[4].hex()]


@pytest.mark.parametrize(
    "stored",
    [
        "ab" * 32,
        ["", "ab" * 32],
        ["ab" * 31],
        ["AB" * 32],
        ["ab" * 32, None],
        [" " + "ab" * 31 + "a"],
        ("zz" * 32,),
    ],
)
def test_frontier_refuses_malformed_lists(stored):
    with pytest.raises(ValueError):
        Frontier.from_list(stored)


# --- inclusion proofs ------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_verifies(size):
    tree_root = ref_mth(LEAVES[:size])
    for index in range(size):
        proof = inclusion_proof(index, size, GET)
        assert proof == ref_path(index, LEAVES[:size]), (index, size)
        assert verify_inclusion(index, size, LEAVES[index], proof, tree_root), (index, size)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13, 32, 33, 64])
def test_tampered_inclusion_proofs_fail(size):
    tree_root = ref_mth(LEAVES[:size])
    other_root = ref_mth(LEAVES[: size + 1])
    for index in range(size):
        proof = inclusion_proof(index, size, GET)
        leaf = LEAVES[index]
        assert verify_inclusion(index, size, leaf, proof, tree_root)
        assert not verify_inclusion(index, size, flip(leaf), proof, tree_root)
        assert not verify_inclusion(index, size, leaf, proof, flip(tree_root, 31))
        assert not verify_inclusion(index, size, leaf, proof, other_root)
        for position in range(len(proof)):
            bad = list(proof)
            bad[position] = flip(bad[position], position % 32)
            assert not verify_inclusion(index, size, leaf, bad, tree_root), (index, position)
        assert not verify_inclusion(index, size, leaf, [*proof, LEAVES[0]], tree_root)
        if proof:
            assert not verify_inclusion(index, size, leaf, proof[:-1], tree_root)
        if len(proof) > 1:
            assert not verify_inclusion(index, size, leaf, proof[::-1], tree_root)
        for wrong_index in range(size):
            if wrong_index != index:
                assert not verify_inclusion(wrong_index, size, leaf, proof, tree_root)
        assert not verify_inclusion(index, size, LEAVES[(index + 1) % 300], proof, tree_root)


def test_inclusion_verifier_agrees_with_the_structural_one_on_replayed_proofs():
    """Every proof for sizes up to 16, replayed against every claim up to 16, with extras."""
    roots = [ref_mth(LEAVES[:n]) for n in range(18)]
    accepted = rejected = 0
    for proof_size in range(1, 17):
        for proof_index in range(proof_size):
            proof = inclusion_proof(proof_index, proof_size, GET)
            leaf, tree_root = LEAVES[proof_index], roots[proof_size]
            for tail in ([], [LEAVES[0]], [tree_root]):
                claimed_proof = proof + tail
                for size in range(1, 17):
                    for index in range(size):
                        got = verify_inclusion(index, size, leaf, claimed_proof, tree_root)
                        want = ref_verify_inclusion(index, size, leaf, claimed_proof, tree_root)
                        assert got == want, (index, size, proof_index, proof_size, len(tail))
                        accepted += got
                        rejected += not got
    assert accepted > 136  # at least each honest claim; some others fit too (see below)
    assert rejected > 50_000


def test_consistency_verifier_agrees_with_the_structural_one_on_replayed_proofs():
    roots = [ref_mth(LEAVES[:n]) for n in range(18)]
    accepted = rejected = 0
    for proof_old in range(1, 17):
        for proof_new in range(proof_old, 17):
            proof = consistency_proof(proof_old, proof_new, GET)
            old_root, new_root = roots[proof_old], roots[proof_new]
            for tail in ([], [LEAVES[0]], [new_root]):
                claimed_proof = proof + tail
                for old_size in range(1, 17):
                    for new_size in range(old_size, 17):
                        args = (old_size, new_size, old_root, new_root, claimed_proof)
                        got = verify_consistency(*args)
                        assert got == ref_verify_consistency(*args), (
                            args[:2],
                            proof_old,
                            proof_new,
                        )
                        accepted += got
                        rejected += not got
    assert accepted > 136
    assert rejected > 50_000


def test_replayed_proofs_that_only_the_loop_guard_stops():
    """Found by searching: without RFC 9162's "if sn is 0, fail" inside the loop, these pass."""
    roots = [ref_mth(LEAVES[:n]) for n in range(9)]
    proof = consistency_proof(7, 8, GET)
    assert verify_consistency(7, 8, roots[7], roots[8], proof)
    assert not verify_consistency(3, 4, roots[7], roots[8], proof)
    proof = inclusion_proof(1, 2, GET)
    assert verify_inclusion(1, 2, LEAVES[1], proof, roots[2])
    assert not verify_inclusion(0, 1, LEAVES[1], proof, roots[2])


def test_tree_sizes_must_come_from_the_signed_checkpoint():
    """A proof does not pin the tree size by itself: RFC 9162 verification accepts a claim of
    size 4 for a size-3 root, because the proof supplies the right subtree's hash (here a leaf
    hash standing in for a node). Sizes and roots must come from a signed checkpoint."""
    roots = [ref_mth(LEAVES[:n]) for n in range(5)]
    assert verify_inclusion(0, 4, LEAVES[0], inclusion_proof(0, 3, GET), roots[3])
    assert verify_consistency(1, 4, roots[1], roots[3], consistency_proof(1, 3, GET))
    # But never for the right root of the claimed size.
    assert not verify_inclusion(0, 4, LEAVES[0], inclusion_proof(0, 3, GET), roots[4])
    assert not verify_consistency(1, 4, roots[1], roots[4], consistency_proof(1, 3, GET))


def test_inclusion_at_a_larger_size_is_not_accepted_against_the_smaller_root():
    # Leaf 4 of 6 and of 8 have different paths; a path for one size proves nothing for another.
    proof6 = inclusion_proof(4, 6, GET)
    assert verify_inclusion(4, 6, LEAVES[4], proof6, ref_mth(LEAVES[:6]))
    assert not verify_inclusion(4, 8, LEAVES[4], proof6, ref_mth(LEAVES[:8]))
    assert not verify_inclusion(4, 8, LEAVES[4], proof6, ref_mth(LEAVES[:6]))


def test_certificate_transparency_inclusion_vectors():
    for index, size, expected in CT_INCLUSION:
        proof = inclusion_proof(index, size, getter(CT_LEAVES))
        assert [h.hex() for h in proof] == expected
        tree_root = bytes.fromhex(CT_ROOTS[size])
        assert verify_inclusion(index, size, CT_LEAVES[index], proof, tree_root)


def test_inclusion_proof_fetches_each_leaf_at_most_once():
    get = getter(LEAVES)
    inclusion_proof(37, 100, get)
    fetched = sorted(i for start, end in get.calls for i in range(start, end))
    assert fetched == [i for i in range(100) if i != 37]


@pytest.mark.parametrize(
    ("index", "size", "message"),
    [
        (0, 0, "tree size must be at least 1"),
        (5, 5, r"leaf index 5 is outside a tree of size 5 \(0..4\)"),
        (-1, 5, "leaf index -1 is outside"),
    ],
)
def test_inclusion_proof_input_checks(index, size, message):
    with pytest.raises(ValueError, match=message):
        inclusion_proof(index, size, GET)


def test_inclusion_proof_wants_ints():
    with pytest.raises(TypeError, match="index must be an int"):
        inclusion_proof("1", 5, GET)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="size must be an int"):
        inclusion_proof(1, True, GET)


def test_verify_inclusion_says_false_to_nonsense_instead_of_raising():
    proof = inclusion_proof(1, 4, GET)
    tree_root = ref_mth(LEAVES[:4])
    assert verify_inclusion(1, 4, LEAVES[1], proof, tree_root)
    assert not verify_inclusion(4, 4, LEAVES[1], proof, tree_root)
    assert not verify_inclusion(-1, 4, LEAVES[1], proof, tree_root)
    assert not verify_inclusion(0, 0, LEAVES[1], [], EMPTY_ROOT)
    assert not verify_inclusion(1, 4, LEAVES[1][:31], proof, tree_root)
    assert not verify_inclusion(1, 4, LEAVES[1], [p[:31] for p in proof], tree_root)
    assert not verify_inclusion(1, 4, LEAVES[1], proof, tree_root.hex())  # type: ignore[arg-type]
    assert not verify_inclusion("1", 4, LEAVES[1], proof, tree_root)  # type: ignore[arg-type]
    assert not verify_inclusion(1, 4, LEAVES[1], None, tree_root)  # type: ignore[arg-type]
    # A one-leaf tree: the root is the leaf hash and the proof is empty.
    assert verify_inclusion(0, 1, LEAVES[0], [], LEAVES[0])
    assert not verify_inclusion(0, 1, LEAVES[0], [LEAVES[1]], LEAVES[0])


# --- consistency proofs ----------------------------------------------------------------------


@pytest.mark.parametrize("new_size", range(1, 65))
def test_every_consistency_proof_verifies(new_size):
    new_root = ref_mth(LEAVES[:new_size])
    for old_size in range(1, new_size + 1):
        proof = consistency_proof(old_size, new_size, GET)
        assert proof == ref_proof(old_size, LEAVES[:new_size]), (old_size, new_size)
        old_root = ref_mth(LEAVES[:old_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof), (
            old_size,
            new_size,
        )


@pytest.mark.parametrize("new_size", [2, 3, 5, 7, 8, 9, 16, 17, 31, 64])
def test_tampered_consistency_proofs_fail(new_size):
    new_root = ref_mth(LEAVES[:new_size])
    for old_size in range(1, new_size):
        proof = consistency_proof(old_size, new_size, GET)
        old_root = ref_mth(LEAVES[:old_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)
        assert not verify_consistency(old_size, new_size, flip(old_root), new_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, flip(new_root), proof)
        for position in range(len(proof)):
            bad = list(proof)
            bad[position] = flip(bad[position], 7)
            assert not verify_consistency(old_size, new_size, old_root, new_root, bad), (
                old_size,
                position,
            )
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
        assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, new_root])
        assert not verify_consistency(old_size, new_size, old_root, new_root, [])
        # A history rewritten below old_size: the new tree differs in leaf 0.
        forged = [flip(LEAVES[0]), *LEAVES[1:new_size]]
        forged_proof = consistency_proof(old_size, new_size, getter(forged))
        assert not verify_consistency(old_size, new_size, old_root, ref_mth(forged), forged_proof)


def test_certificate_transparency_consistency_vectors():
    for old_size, new_size, expected in CT_CONSISTENCY:
        proof = consistency_proof(old_size, new_size, getter(CT_LEAVES))
        assert [h.hex() for h in proof] == expected
        old_root, new_root = bytes.fromhex(CT_ROOTS[old_size]), bytes.fromhex(CT_ROOTS[new_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_consistency_for_equal_sizes_and_the_empty_tree():
    tree_root = ref_mth(LEAVES[:9])
    assert consistency_proof(9, 9, GET) == []
    assert verify_consistency(9, 9, tree_root, tree_root, [])
    assert not verify_consistency(9, 9, tree_root, flip(tree_root), [])
    assert not verify_consistency(9, 9, tree_root, tree_root, [tree_root])
    assert verify_consistency(0, 9, EMPTY_ROOT, tree_root, [])
    assert not verify_consistency(0, 9, flip(EMPTY_ROOT), tree_root, [])
    assert not verify_consistency(0, 9, EMPTY_ROOT, tree_root, [tree_root])


@pytest.mark.parametrize(("old_size", "new_size"), [(0, 5), (-1, 5), (6, 5), (0, 0)])
def test_consistency_proof_input_checks(old_size, new_size):
    with pytest.raises(ValueError, match=r"need 0 < old_size <= new_size"):
        consistency_proof(old_size, new_size, GET)


def test_verify_consistency_says_false_to_nonsense_instead_of_raising():
    old_root, new_root = ref_mth(LEAVES[:3]), ref_mth(LEAVES[:7])
    proof = consistency_proof(3, 7, GET)
    assert verify_consistency(3, 7, old_root, new_root, proof)
    assert not verify_consistency(7, 3, new_root, old_root, proof)
    assert not verify_consistency(-3, 7, old_root, new_root, proof)
    assert not verify_consistency(3, 7, old_root[:16], new_root, proof)
    assert not verify_consistency(3, 7, old_root, new_root, [p.hex() for p in proof])
    assert not verify_consistency(3.0, 7, old_root, new_root, proof)  # type: ignore[arg-type]


def test_module_exports():
    assert set(merkle.__all__) <= set(dir(merkle))
