"""Overlap resolution: deterministic, covering, validated and longer first."""

from governance.pii.resolve import resolve
from governance.pii.types import Entity, EntityType

T = EntityType


def test_disjoint_entities_are_kept_sorted():
    """Nothing to resolve: the same entities, by start."""
    entities = [Entity(T.CN_QQ, 10, 15, 0.85), Entity(T.PERSON, 0, 2, 0.6)]

    assert resolve(entities) == sorted(entities, key=lambda e: e.start)


def test_a_validated_entity_wins_over_a_longer_one():
    """A checksum beats length: an ID inside a longer unvalidated match keeps its type."""
    kept = resolve(
        [Entity(T.CN_ID_CARD, 2, 20, 1.0), Entity(T.CN_ADDRESS, 0, 24, 0.75)]
    )

    assert kept == [Entity(T.CN_ID_CARD, 0, 24, 1.0)]


def test_the_longer_entity_wins_and_covers_what_it_overlaps():
    """A mobile that is the local part of an e-mail goes with the e-mail; no piece is left."""
    kept = resolve(
        [Entity(T.CN_MOBILE, 0, 11, 0.9), Entity(T.EMAIL_ADDRESS, 0, 24, 0.9)]
    )

    assert kept == [Entity(T.EMAIL_ADDRESS, 0, 24, 0.9)]


def test_a_partial_overlap_widens_the_winner_so_nothing_is_half_masked():
    """A name sticking out of an address is covered by the address entity."""
    kept = resolve([Entity(T.PERSON, 0, 3, 0.85), Entity(T.CN_ADDRESS, 2, 20, 0.75)])

    assert kept == [Entity(T.CN_ADDRESS, 0, 20, 0.75)]


def test_the_same_span_from_two_types_resolves_by_score_then_name():
    """Equal spans: the higher score wins; equal scores: the same winner every time."""
    a, b = Entity(T.CN_BANK_CARD, 0, 18, 0.95), Entity(T.CN_ID_CARD, 0, 18, 1.0)
    c, d = Entity(T.CN_QQ, 0, 11, 0.9), Entity(T.CN_MOBILE, 0, 11, 0.9)

    assert resolve([a, b]) == resolve([b, a]) == [b]
    assert resolve([c, d]) == resolve([d, c])
