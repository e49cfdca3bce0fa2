"""RFC 6962/9162 Merkle trees against a naive reference written straight from the RFC."""

import functools
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_ranges,
    fold,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    root_of,
    subtrees,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 70
DATA = [hashlib.sha256(str(i).encode()).digest() for i in range(MAX_SIZE)]


@functools.cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) exactly as RFC 9162 §2.1.1 defines it."""
    if end == start:
        return hashlib.sha256(b"").digest()
    if end - start == 1:
        return hashlib.sha256(b"\x00" + DATA[start]).digest()
    k = 1
    while k * 2 < end - start:
        k *= 2
    return hashlib.sha256(
        b"\x01" + mth(start, start + k) + mth(start + k, end)
    ).digest()


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) of RFC 9162 §2.1.3.1."""
    if end - start <= 1:
        return []
    k = 1
    while k * 2 < end - start:
        k *= 2
    if m < k:
        return [*ref_path(m, start, start + k), mth(start + k, end)]
    return [*ref_path(m - k, start + k, end), mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1."""
    if m == end - start:
        return [] if whole else [mth(start, end)]
    k = 1
    while k * 2 < end - start:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, start, start + k, whole), mth(start + k, end)]
    return [*ref_subproof(m - k, start + k, end, False), mth(start, start + k)]


def hashes_of(ranges: list[tuple[int, int]]) -> list[bytes]:
    """The MTH of each range, from the reference."""
    return [mth(a, b) for a, b in ranges]


def subtree_mth(level: int, index: int) -> bytes:
    """The reference MTH of one complete subtree."""
    return mth(index << level, (index + 1) << level)


def leaves(n: int) -> list[bytes]:
    """The leaf hashes of the first `n` data items."""
    return [leaf_hash(d) for d in DATA[:n]]


SIZES = range(1, MAX_SIZE + 1)


class TestHashes:
    """Leaf, node and empty-tree hashes, and whole-tree roots."""

    def test_empty_tree_hash_is_sha256_of_nothing(self):
        """MTH of no leaves is SHA-256 of the empty string (RFC 9162 §2.1.1)."""
        assert root_of([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()

    def test_leaf_and_node_hashes_are_domain_separated(self):
        """A leaf is hashed under 0x00 and a node under 0x01, so neither passes as the other."""
        a, b = DATA[0], DATA[1]

        assert leaf_hash(a + b) == hashlib.sha256(b"\x00" + a + b).digest()
        assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
        assert leaf_hash(a + b) != node_hash(a, b)

    def test_roots_match_the_reference(self):
        """The builder's root equals the RFC's MTH for every size."""
        roots = {n: root_of(leaves(n)) for n in SIZES}

        assert roots == {n: mth(0, n) for n in SIZES}

    def test_each_completed_subtree_is_the_mth_of_its_leaves(self):
        """Every (level, index, hash) the builder reports is the MTH of those leaves."""
        builder = TreeBuilder()
        for leaf in leaves(MAX_SIZE):
            for level, index, node in builder.append(leaf):
                assert node == subtree_mth(level, index), (level, index)

    def test_a_builder_resumed_from_a_frontier_gives_the_same_root(self):
        """Resuming from the `subtrees(0, n)` hashes and appending gives the full root."""
        for n in range(MAX_SIZE + 1):
            frontier = [subtree_mth(lv, i) for lv, i in subtrees(0, n)]
            builder = TreeBuilder(n, frontier)
            for leaf in leaves(MAX_SIZE)[n:]:
                builder.append(leaf)

            assert builder.root() == mth(0, MAX_SIZE), n

    def test_a_builder_refuses_a_frontier_of_the_wrong_length(self):
        """A frontier that does not fit the size is refused, not silently used."""
        with pytest.raises(ValueError, match="needs its subtree hashes"):
            TreeBuilder(3, [DATA[0]])


class TestInclusion:
    """Audit paths for every leaf of every tree up to MAX_SIZE."""

    def test_paths_match_the_reference_and_verify(self):
        """For every size and index the path is PATH(m, D[n]) and §2.1.3.2 accepts it."""
        for n in SIZES:
            for m in range(n):
                path = hashes_of(inclusion_ranges(m, n))

                assert path == ref_path(m, 0, n), (m, n)
                assert verify_inclusion(m, n, leaf_hash(DATA[m]), path, mth(0, n))

    def test_ranges_fold_from_their_subtrees(self):
        """Each path range is the fold of its complete subtrees, as a store computes it."""
        for n in SIZES:
            for m in range(n):
                for a, b in inclusion_ranges(m, n):
                    parts = [subtree_mth(lv, i) for lv, i in subtrees(a, b)]

                    assert fold(parts) == mth(a, b), (a, b)

    @given(st.data())
    def test_a_proof_for_another_leaf_index_or_root_fails(self, data):
        """Changing the leaf, its index, the size or one path hash makes verification fail."""
        n = data.draw(st.integers(2, MAX_SIZE))
        m = data.draw(st.integers(0, n - 1))
        path = hashes_of(inclusion_ranges(m, n))
        root, leaf = mth(0, n), leaf_hash(DATA[m])
        other = data.draw(st.integers(0, n - 1).filter(lambda i: i != m))
        flip = data.draw(st.integers(0, len(path) - 1))
        broken = [*path[:flip], bytes(32), *path[flip + 1 :]]

        assert not verify_inclusion(m, n, leaf_hash(DATA[other]), path, root)
        assert not verify_inclusion(other, n, leaf, path, root)
        assert not verify_inclusion(m, n, leaf, broken, root)
        assert not verify_inclusion(m, n, leaf, path[:-1], root)
        assert not verify_inclusion(m, n, leaf, [*path, root], root)
        assert not verify_inclusion(n, n, leaf, path, root)

    def test_a_leaf_outside_the_tree_has_no_path(self):
        """Asking for the path of a leaf past the end is an error."""
        with pytest.raises(ValueError, match="not in a tree"):
            inclusion_ranges(5, 5)


class TestConsistency:
    """Consistency proofs for every pair of sizes up to MAX_SIZE."""

    def test_proofs_match_the_reference_and_verify(self):
        """For every m <= n the proof is PROOF(m, D[n]) and §2.1.4.2 accepts it."""
        for n in SIZES:
            for m in range(1, n + 1):
                proof = hashes_of(consistency_ranges(m, n))

                assert proof == ref_subproof(m, 0, n, True), (m, n)
                assert verify_consistency(m, n, mth(0, m), mth(0, n), proof), (m, n)

    @given(st.data())
    def test_a_forked_or_altered_history_fails(self, data):
        """Another old root, a changed proof hash or swapped sizes are all refused."""
        n = data.draw(st.integers(2, MAX_SIZE))
        m = data.draw(st.integers(1, n - 1))
        proof = hashes_of(consistency_ranges(m, n))
        forked = root_of([*leaves(m - 1), leaf_hash(b"forked")])
        flip = data.draw(st.integers(0, len(proof) - 1))
        broken = [*proof[:flip], bytes(32), *proof[flip + 1 :]]
        old, new = mth(0, m), mth(0, n)

        assert not verify_consistency(m, n, forked, new, proof)
        assert not verify_consistency(m, n, old, new, broken)
        assert not verify_consistency(n, m, new, old, proof)
        assert not verify_consistency(m, n, old, new, [])

    def test_equal_sizes_need_equal_roots_and_no_proof(self):
        """A tree is consistent with itself through an empty proof, and only so."""
        root = mth(0, 9)

        assert consistency_ranges(9, 9) == []
        assert verify_consistency(9, 9, root, root, [])
        assert not verify_consistency(9, 9, root, mth(0, 8), [])
        assert not verify_consistency(9, 9, root, root, [root])

    @pytest.mark.parametrize(("first", "second"), [(0, 3), (4, 3), (-1, 2)])
    def test_sizes_out_of_order_have_no_proof(self, first, second):
        """No proof exists from an empty tree or to a smaller one."""
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_ranges(first, second)
