"""Laws of the hash chain: sealed drafts verify, and every kind of tampering is named."""

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from audit.chain import ChainFault, genesis_hash, link, row_hash, verify_chain
from audit.record import AuditDraft, DecisionShape, canonical_bytes, canonical_json

CHAIN = "c" * 32
OTHER_CHAIN = "d" * 32

# Every stored column the hash covers except `seq` (which names the position itself),
# plus the stored `hash`: changing any of them must be reported at that very row.
TAMPERABLE = (
    "chain_id",
    "event_id",
    "ts",
    "kind",
    "caller",
    "purpose",
    "dataset",
    "subject_ref",
    "fields",
    "obligations",
    "outcome",
    "reason",
    "decision_id",
    "policy_revision",
    "decision_shape",
    "detail",
    "prev_hash",
    "hash",
)

_names = st.text(st.characters(codec="utf-8"), max_size=6)
_json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _names
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3)
    ),
    max_leaves=6,
)

drafts = st.builds(
    AuditDraft,
    kind=st.sampled_from(["access.read", "access.query", "consent.granted"]),
    outcome=st.sampled_from(["allowed", "denied", "failed"]),
    caller=st.none() | _names,
    purpose=st.none() | _names,
    dataset=st.none() | _names,
    subject_ref=st.none() | _names,
    fields=st.lists(_names, max_size=2).map(tuple),
    obligations=st.dictionaries(_names, _names, max_size=2),
    reason=st.none() | _names,
    decision_id=st.none() | st.uuids().map(str),
    policy_revision=st.none() | _names,
    decision=st.none() | st.builds(DecisionShape.of, _names, _json, _json),
    detail=st.dictionaries(_names, _json_scalars, max_size=2),
    ts=st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    event_id=st.uuids().map(str),
)
draft_lists = st.lists(drafts, max_size=6)
nonempty_draft_lists = st.lists(drafts, min_size=1, max_size=6)


def seal_all(items: list[AuditDraft], chain_id: str = CHAIN) -> list[dict[str, Any]]:
    """Link drafts in order into the rows a writer would store."""
    rows, prev = [], genesis_hash(chain_id)
    for seq, draft in enumerate(items, start=1):
        row = link(draft, chain_id=chain_id, seq=seq, prev_hash=prev)
        rows.append(row)
        prev = row["hash"]
    return rows


def head_of(rows: list[dict[str, Any]], chain_id: str = CHAIN) -> dict[str, Any]:
    """The recorded head of a chain whose rows are `rows`."""
    return {
        "head_seq": len(rows),
        "head_hash": rows[-1]["hash"] if rows else genesis_hash(chain_id),
    }


def verify(
    rows: list[dict[str, Any]], head: Mapping[str, Any], chain_id: str = CHAIN
) -> tuple[int, ChainFault | None]:
    """verify_chain over `rows` against `head`."""
    return verify_chain(
        chain_id, rows, head_seq=head["head_seq"], head_hash=head["head_hash"]
    )


def flip(value: Any, index: int) -> Any:
    """`value` with one bit of one character flipped (None becomes text)."""
    if value is None or value == "":
        return "x"
    i = index % len(value)
    return value[:i] + chr(ord(value[i]) ^ 1) + value[i + 1 :]


class TestSealedChains:
    """Rows linked in order, untouched, always verify."""

    @given(draft_lists)
    def test_when_drafts_are_linked_in_order_then_chain_verifies(self, items):
        """Any list of drafts, sealed in order, verifies against its head."""
        rows = seal_all(items)

        count, fault = verify(rows, head_of(rows))

        assert (count, fault) == (len(items), None)

    @given(drafts, st.integers(1, 10**6), _names)
    def test_link_stores_the_hash_of_its_own_columns(self, draft, seq, prev):
        """A linked row carries its chain position and the hash of its columns."""
        row = link(draft, chain_id=CHAIN, seq=seq, prev_hash=prev)

        assert (row["chain_id"], row["seq"], row["prev_hash"]) == (CHAIN, seq, prev)
        assert row["hash"] == row_hash(row)

    @given(nonempty_draft_lists)
    def test_when_rows_of_one_chain_are_checked_as_another_then_first_row_fails(
        self, items
    ):
        """A chain's rows do not verify under another chain id: the genesis differs."""
        rows = seal_all(items)

        _, fault = verify(rows, head_of(rows), chain_id=OTHER_CHAIN)

        assert fault == ChainFault(OTHER_CHAIN, 1, rows[0]["event_id"], "broken_link")


class TestTampering:
    """Each kind of change to stored rows is reported at the first bad place."""

    @given(nonempty_draft_lists, st.data())
    def test_when_a_column_of_a_row_is_altered_then_that_row_is_reported(
        self, items, data
    ):
        """Flipping one character of any hashed column, or the hash, names that row."""
        rows = seal_all(items)
        head = head_of(rows)
        i = data.draw(st.integers(0, len(rows) - 1), label="row")
        column = data.draw(st.sampled_from(TAMPERABLE), label="column")
        rows[i] = rows[i] | {column: flip(rows[i][column], data.draw(st.integers(0)))}

        _, fault = verify(rows, head)

        expected = "broken_link" if column == "prev_hash" else "altered"
        assert fault is not None
        assert (fault.seq, fault.problem) == (i + 1, expected)

    @given(nonempty_draft_lists, st.data(), st.sampled_from([-1, 1]))
    def test_when_seq_of_a_row_is_altered_then_its_position_is_reported(
        self, items, data, delta
    ):
        """A row renumbered up or down is reported at its true position."""
        rows = seal_all(items)
        head = head_of(rows)
        i = data.draw(st.integers(0, len(rows) - 1), label="row")
        rows[i] = rows[i] | {"seq": rows[i]["seq"] + delta}

        _, fault = verify(rows, head)

        assert fault is not None
        assert fault.seq == i + 1
        assert fault.problem == ("missing" if delta > 0 else "out_of_order")

    @given(st.lists(drafts, min_size=2, max_size=6), st.data())
    def test_when_a_row_before_the_last_is_deleted_then_it_is_reported_missing(
        self, items, data
    ):
        """Deleting any row but the last is reported as `missing` at its seq."""
        rows = seal_all(items)
        head = head_of(rows)
        i = data.draw(st.integers(0, len(rows) - 2), label="deleted")
        del rows[i]

        _, fault = verify(rows, head)

        assert fault == ChainFault(CHAIN, i + 1, None, "missing")

    @given(nonempty_draft_lists, st.data())
    def test_when_the_tail_is_cut_then_truncated_is_reported(self, items, data):
        """Removing the last k rows is reported as `truncated` at the first lost seq."""
        rows = seal_all(items)
        head = head_of(rows)
        kept = data.draw(st.integers(0, len(rows) - 1), label="kept")

        count, fault = verify(rows[:kept], head)

        assert count == kept
        assert fault == ChainFault(CHAIN, kept + 1, None, "truncated")

    @given(draft_lists, nonempty_draft_lists, st.data())
    def test_when_a_foreign_row_is_inserted_then_the_insertion_point_is_reported(
        self, items, others, data
    ):
        """A row sealed in another chain, inserted anywhere, is reported where it sits."""
        rows = seal_all(items)
        head = head_of(rows)
        i = data.draw(st.integers(0, len(rows)), label="at")
        stranger = data.draw(st.sampled_from(seal_all(others, OTHER_CHAIN)))
        rows.insert(i, stranger)

        count, fault = verify(rows, head)

        assert fault is not None
        assert (count, fault.seq) == (i + 1, i + 1)

    @given(draft_lists, drafts, st.data())
    def test_when_a_forged_row_is_inserted_then_it_is_caught_at_or_right_after_it(
        self, items, extra, data
    ):
        """A row correctly linked to its predecessor is caught no later than the next seq."""
        rows = seal_all(items)
        head = head_of(rows)
        i = data.draw(st.integers(0, len(rows)), label="at")
        prev = rows[i - 1]["hash"] if i else genesis_hash(CHAIN)
        rows.insert(i, link(extra, chain_id=CHAIN, seq=i + 1, prev_hash=prev))

        _, fault = verify(rows, head)

        assert fault is not None
        assert i + 1 <= fault.seq <= i + 2

    @given(st.lists(drafts, min_size=2, max_size=6), st.data())
    def test_when_two_rows_are_swapped_then_the_first_swapped_position_is_reported(
        self, items, data
    ):
        """Swapping two rows is reported at the earlier of the two positions."""
        rows = seal_all(items)
        head = head_of(rows)
        i = data.draw(st.integers(0, len(rows) - 2), label="i")
        j = data.draw(st.integers(i + 1, len(rows) - 1), label="j")
        rows[i], rows[j] = rows[j], rows[i]

        _, fault = verify(rows, head)

        assert fault is not None
        assert fault.seq == i + 1


class TestHead:
    """The recorded head must match the last row exactly."""

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"head_seq": 1}, "truncated"),
            ({"head_seq": -1}, "head_mismatch"),
            ({"head_hash": "0" * 64}, "head_mismatch"),
        ],
        ids=["head-seq-raised", "head-seq-lowered", "head-hash-replaced"],
    )
    @given(items=draft_lists)
    def test_when_head_disagrees_with_rows_then_it_is_reported(
        self, change, problem, items
    ):
        """A head that does not match the last row is reported after the last row."""
        rows = seal_all(items)
        head = head_of(rows)
        if "head_seq" in change:
            assume(head["head_seq"] + change["head_seq"] >= 0)
            head["head_seq"] += change["head_seq"]
        else:
            head |= change

        count, fault = verify(rows, head)

        assert count == len(rows)
        assert fault == ChainFault(CHAIN, len(rows) + 1, None, problem)


class TestEncoding:
    """Hashes rest on an encoding that does not depend on incidental order."""

    @given(_names, _names)
    def test_genesis_differs_per_chain_id(self, a, b):
        """Two different chain ids never share a genesis hash."""
        assume(a != b)

        assert genesis_hash(a) != genesis_hash(b)

    @given(st.dictionaries(_names, _json, max_size=6), st.randoms())
    def test_canonical_bytes_ignore_dict_insertion_order(self, value, rnd):
        """Any mapping encodes to the same bytes whatever order its keys were set in."""
        items = list(value.items())
        rnd.shuffle(items)

        assert canonical_bytes(dict(items)) == canonical_bytes(value)

    @given(drafts, st.randoms())
    def test_row_hash_ignores_column_order_and_unhashed_keys(self, draft, rnd):
        """A row hashes the same with its columns reordered or extra keys added."""
        row = link(draft, chain_id=CHAIN, seq=1, prev_hash=genesis_hash(CHAIN))
        items = list(row.items())
        rnd.shuffle(items)

        assert row_hash(dict(items) | {"note": "not hashed"}) == row["hash"]

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ({"b": 1, "a": [2, 1]}, '{"a":[2,1],"b":1}'),
            ({"outer": {"z": None, "y": True}}, '{"outer":{"y":true,"z":null}}'),
            ({"标签": "高消费"}, '{"标签":"高消费"}'),
            ([], "[]"),
        ],
        ids=["sorted-compact", "nested-sorted", "utf8-not-escaped", "empty-list"],
    )
    def test_canonical_json_is_sorted_compact_utf8(self, value, text):
        """Canonical JSON sorts keys at every level, has no spaces, keeps UTF-8."""
        assert canonical_json(value) == text
