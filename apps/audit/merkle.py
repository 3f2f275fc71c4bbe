"""RFC 6962 / RFC 9162 Merkle tree over the audit trail.

The hash chain proves an event was not altered after the next one was written; the Merkle
tree lets a third party check, from one signed root, that an event is in the log (inclusion
proof) and that a later log extends an earlier one without rewriting it (consistency proof),
with logarithmic proofs and using the same algorithms as Certificate Transparency, so that
existing verifiers can check ours.

Leaves are passed as leaf hashes (`leaf_hash(record)`), never as raw records: the database
stores them, and proofs are built from them through a `get_leaves(start, end)` callback
returning the leaf hashes of leaves [start, end), so no tree nodes need to be stored.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step and share nothing
with the proof generators but the two hash functions, so that a bug in one cannot hide a bug
in the other. They return False for any claim they cannot prove (including sizes or indexes
out of range) rather than raising, since their inputs usually come from someone else.
"""

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_proof",
    "consistency_proof_extending",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}), the root of the empty tree (RFC 6962 section 2.1)."""

GetLeaves = Callable[[int, int], Sequence[bytes]]
"""get_leaves(start, end) -> the leaf hashes of leaves start .. end - 1, in order."""

_HEX_HASH = re.compile(r"[0-9a-f]{64}\Z")
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the 0x00 prefix keeps a leaf from passing for an inner node."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right), the hash of an inner node."""
    return _sha256(b"\x01" + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 section 2.1, from the leaves' hashes.

    Computed level by level, pairing nodes from the left and carrying an odd last node up a
    level unchanged; that builds the same tree as splitting at the largest power of two below
    n, without recursion.
    """
    level = [_as_hash(leaf, "leaf hash") for leaf in leaves]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def subtree_hash(start: int, end: int, get_leaves: GetLeaves) -> bytes:
    """MTH(D[start:end]) from the leaf hashes that get_leaves(start, end) returns."""
    _require_int(start, "start")
    _require_int(end, "end")
    if not 0 <= start < end:
        raise ValueError(f"subtree [{start}, {end}) is empty or starts below 0")
    leaves = get_leaves(start, end)
    if len(leaves) != end - start:
        raise ValueError(
            f"get_leaves({start}, {end}) gave {len(leaves)} leaf hashes, not {end - start}"
        )
    return root(leaves)


def inclusion_proof(index: int, size: int, get_leaves: GetLeaves) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, the audit path of one leaf.

    The hashes are listed from the leaf's sibling up to the child of the root.
    """
    _require_int(index, "index")
    _require_int(size, "size")
    if size < 1:
        raise ValueError(f"tree size must be at least 1, got {size}")
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size} (0..{size - 1})")
    # Walk down from the root; each step adds the hash of the half not holding the leaf.
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:  # PATH(m, D[0:k]) : MTH(D[k:n])
            path.append(subtree_hash(middle, end, get_leaves))
            end = middle
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            path.append(subtree_hash(start, middle, get_leaves))
            start = middle
    path.reverse()  # the RFC lists the deepest hash first
    return path


def consistency_proof(old_size: int, new_size: int, get_leaves: GetLeaves) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1; empty when the sizes match."""
    _require_int(old_size, "old_size")
    _require_int(new_size, "new_size")
    if not 0 < old_size <= new_size:
        raise ValueError(f"need 0 < old_size <= new_size, got {old_size} and {new_size}")
    # SUBPROOF(m, D[start:end], complete), unrolled: walk down to the subtree that is the
    # old tree's last complete piece, adding the hash of each half left out on the way.
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            proof.append(subtree_hash(start + k, end, get_leaves))
            end = start + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            proof.append(subtree_hash(start, start + k, get_leaves))
            start, m, complete = start + k, m - k, False
    if not complete:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}; with true it is {}
        proof.append(subtree_hash(start, end, get_leaves))
    proof.reverse()  # the RFC lists the deepest hash first
    return proof


def consistency_proof_extending(old: "Frontier", new_leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old.size, D[old.size + len(new_leaves)]), from the old tree's frontier and the
    leaves appended since, without reading the old leaves.

    Every hash the proof takes from inside the old tree is one of its complete subtrees (the
    frontier holds them), and every other lies wholly among the new leaves; so a checkpoint can
    prove it extends the one before it at the cost of the leaves appended between them.
    """
    old_size = old.size
    new_size = old_size + len(new_leaves)
    if old_size == 0:
        return []
    # The old tree's complete subtrees by (start, end), largest (leftmost) first.
    blocks: dict[tuple[int, int], bytes] = {}
    position = 0
    hashes = iter(old.hashes())
    for bit in reversed(range(old_size.bit_length())):
        if old_size >> bit & 1:
            blocks[(position, position + (1 << bit))] = next(hashes)
            position += 1 << bit
    leaves = [_as_hash(leaf, "leaf hash") for leaf in new_leaves]

    def get(start: int, end: int) -> bytes:
        if (start, end) in blocks:
            return blocks[(start, end)]
        if start < old_size:  # cannot happen for a proof; guards the reasoning above
            raise ValueError(f"subtree [{start}, {end}) is neither old nor new")
        return root(leaves[start - old_size : end - old_size])

    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(get(start + k, end))
            end = start + k
        else:
            proof.append(get(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(get(start, end))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows the leaf with hash `leaf_hash` at `index` in the tree `root`.

    RFC 9162 section 2.1.3.2; False (never an exception) for anything not proven.
    """
    if not (_is_count(index) and _is_count(size) and index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root) and _all_hashes(proof)):
        return False
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree `new_root` extends the tree `old_root` unchanged.

    RFC 9162 section 2.1.4.2; False (never an exception) for anything not proven. Equal sizes
    need an empty proof and equal roots; every tree extends the empty one (size 0, root
    EMPTY_ROOT), with an empty proof.
    """
    if not (_is_count(old_size) and _is_count(new_size) and old_size <= new_size):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root) and _all_hashes(proof)):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = [bytes(h) for h in proof]
    if old_size & (old_size - 1) == 0:  # a power of 2: the old root is a node of the new tree
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class Frontier:
    """The root of an append-only log, kept up to date in O(log n) memory.

    It holds the hashes of the complete subtrees that make up the tree (one per set bit of
    the size, largest first). Appending a leaf merges equal-sized subtrees like a binary carry;
    the root folds them from the right: H(S_a, H(S_b, ... S_z)).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf, given its leaf hash."""
        node = _as_hash(leaf_hash, "leaf hash")
        hashes, carry = self._hashes, self._size
        while carry & 1:  # each trailing 1 bit of the old size is a subtree to merge with
            node = node_hash(hashes.pop(), node)
            carry >>= 1
        hashes.append(node)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaves, in order."""
        for leaf in leaf_hashes:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of the leaves so far; EMPTY_ROOT before the first."""
        if not self._hashes:
            return EMPTY_ROOT
        hashes = reversed(self._hashes)
        result = next(hashes)
        for left in hashes:
            result = node_hash(left, result)
        return result

    def hashes(self) -> list[bytes]:
        """The complete subtree hashes, largest first (one per set bit of the size)."""
        return list(self._hashes)

    @classmethod
    def from_hashes(cls, hashes: Sequence[bytes], size: int) -> "Frontier":
        """The Frontier of `size` leaves whose complete subtree hashes are `hashes`."""
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} subtrees")
        frontier = cls()
        frontier._hashes = list(hashes)
        frontier._size = size
        return frontier

    def to_list(self) -> list[str]:
        """A JSON-friendly form: one entry per bit of the size, most significant first.

        An entry is the hex hash of the complete subtree of 2**bit leaves when that bit is set,
        "" when it is not, so the size needs no separate field: 5 leaves give
        [hash of leaves 0-3, "", hash of leaf 4]; the empty tree gives [].
        """
        hashes = iter(self._hashes)
        return [
            next(hashes).hex() if self._size >> bit & 1 else ""
            for bit in reversed(range(self._size.bit_length()))
        ]

    @classmethod
    def from_list(cls, items: Sequence[str]) -> "Frontier":
        """The Frontier that `to_list` described; ValueError if `items` is not such a list."""
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"a frontier is a list of hex strings, got {type(items).__name__}")
        if items and items[0] == "":
            raise ValueError("a frontier list must not start with an empty entry")
        frontier = cls()
        for position, item in enumerate(items):
            if not isinstance(item, str) or not (item == "" or _HEX_HASH.match(item)):
                raise ValueError(f"frontier entry {position} is not 64 lowercase hex or ''")
            frontier._size = frontier._size << 1 | (item != "")
            if item:
                frontier._hashes.append(bytes.fromhex(item))
        return frontier

    def __repr__(self) -> str:
        return f"<Frontier size={self._size} root={self.root().hex()[:16]}...>"


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _require_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def _as_hash(value: Any, name: str) -> bytes:
    """`value` as bytes, if it is a 32-byte hash (memoryview: what Django gives for binary)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        if len(value) == HASH_SIZE:
            return value
        raise ValueError(f"a {name} must be {HASH_SIZE} bytes, got {len(value)}")
    raise ValueError(f"a {name} must be bytes, got {type(value).__name__}")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray)) and len(value) == HASH_SIZE


def _all_hashes(values: Any) -> bool:
    return isinstance(values, (list, tuple)) and all(_is_hash(v) for v in values)
