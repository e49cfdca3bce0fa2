"""RFC 6962 / RFC 9162 Merkle trees: hashes, proofs and their verification, pure.

Hashes are SHA-256 with the RFC's domain separation (RFC 9162 §2.1.1):

```
leaf hash   SHA-256(0x00 || data)
node hash   SHA-256(0x01 || left || right)
MTH({})     SHA-256("")
MTH(D[n])   node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two below n
```

A proof is a list of hashes, each the MTH of one range of leaves. The proof
functions here return those ranges (`inclusion_ranges`, `consistency_ranges`),
so whoever holds the tree decides how to compute them. Every such range, like
every range the RFC's recursion produces, splits into complete, aligned
subtrees (`subtrees`): leaves `[i·2^l, (i+1)·2^l)`, named `(level l, index i)`,
which never change once their last leaf is appended. A store keeps their
hashes (`TreeBuilder.append` reports each one as it completes), so a proof in
a tree of millions of leaves costs a few lookups. `fold` turns a range's
subtree hashes into its MTH.

`verify_inclusion` and `verify_consistency` are the verification algorithms of
RFC 9162 §2.1.3.2 and §2.1.4.2, for anyone holding only the proof and the root.
"""

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
Range = tuple[int, int]  # leaves [start, end)
Subtree = tuple[int, int]  # (level, index): leaves [index·2^level, (index+1)·2^level)


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf holding `data`."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node over its children's hashes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (> 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs form the audit path of leaf `index` in a tree of `size`.

    Ordered from the leaf's sibling up to the root's other child (RFC 9162 §2.1.3.1).

    Raises:
        ValueError: `index` is not a leaf of the tree.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    path.reverse()
    return path


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The ranges whose MTHs prove the tree of `first` leaves a prefix of that of `second`.

    RFC 9162 §2.1.4.1 (SUBPROOF); empty when the sizes are equal.

    Raises:
        ValueError: not `0 < first <= second`.
    """
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    proof: list[Range] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append((start + k, end))
            end = start + k
        else:
            proof.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append((start, end))
    proof.reverse()
    return proof


def subtrees(start: int, end: int) -> list[Subtree]:
    """The complete, aligned subtrees that make up leaves `[start, end)`, left to right.

    For the ranges of a Merkle tree (any range from the functions above, or a
    whole tree) they have strictly decreasing sizes, and `fold` of their hashes
    is the range's MTH.
    """
    parts: list[Subtree] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - 1).bit_length()
        while (1 << level) > end - start:
            level -= 1
        parts.append((level, start >> level))
        start += 1 << level
    return parts


def fold(hashes: Sequence[bytes]) -> bytes:
    """The MTH of a range from its subtrees' hashes, in `subtrees` order."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """The MTH of a tree with these leaf hashes."""
    builder = TreeBuilder()
    for leaf in leaf_hashes:
        builder.append(leaf)
    return builder.root()


class TreeBuilder:
    """Appends leaves and keeps only the frontier: the hashes of `subtrees(0, size)`.

    Start from an existing tree by passing its size and its frontier hashes.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        if len(frontier) != len(subtrees(0, size)):
            raise ValueError(f"a tree of {size} leaves needs its subtree hashes")
        self._size = size
        self._frontier = list(frontier)

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return self._size

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the subtrees it completes as (level, index, hash).

        The leaf itself is level 0; higher levels follow in increasing order.
        """
        index, node = self._size, leaf
        completed = [(0, index, node)]
        level = 0
        while index & 1:
            node = node_hash(self._frontier.pop(), node)
            index >>= 1
            level += 1
            completed.append((level, index, node))
        self._frontier.append(node)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """The MTH of the leaves appended so far."""
        return fold(self._frontier)


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether `path` proves leaf hash `leaf` is leaf `index` of the tree `root` of `size`.

    RFC 9162 §2.1.3.2.
    """
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
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
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Whether `proof` shows the tree `first_root` is a prefix of the tree `second_root`.

    RFC 9162 §2.1.4.2; equal sizes need an empty proof and equal roots.
    """
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
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
    return sn == 0 and fr == first_root and sr == second_root
