"""Resolve overlapping candidates into disjoint entities, deterministically.

Candidates are ranked: a validated one (checksum, score ≥ 0.95) first, then
the longer span, then the higher score, then the earlier start, then the type
name. Each candidate in that order is kept unless it overlaps one already
kept; a dropped candidate that sticks out of the entity it overlaps widens that
entity to cover it, so no character of any candidate is left unmasked (no
partial masks). Widening may make a kept entity touch another; such entities
are merged, the higher-ranked one giving the type.
"""

from collections.abc import Iterable, Iterator
from itertools import pairwise

from governance.pii.types import VALIDATED, Entity


def _rank(entity: Entity) -> tuple[bool, int, float, int, str]:
    return (
        entity.score >= VALIDATED,
        len(entity),
        entity.score,
        -entity.start,
        entity.type.value,
    )


def resolve(candidates: Iterable[Entity]) -> list[Entity]:
    """Disjoint entities covering every candidate, sorted by start."""
    ordered = sorted(set(candidates), key=_position)
    if all(a.end <= b.start for a, b in pairwise(ordered)):
        return ordered  # nothing overlaps: the usual case
    resolved: list[Entity] = []
    for cluster in _clusters(ordered):
        resolved.extend(_resolve_cluster(cluster))
    return resolved


def _position(entity: Entity) -> tuple[int, int]:
    return entity.start, entity.end


def _clusters(ordered: list[Entity]) -> Iterator[list[Entity]]:
    """Groups of candidates (in text order) that overlap one another, transitively."""
    cluster: list[Entity] = []
    end = -1
    for candidate in ordered:
        if cluster and candidate.start >= end:
            yield cluster
            cluster = []
        cluster.append(candidate)
        end = max(end, candidate.end) if len(cluster) > 1 else candidate.end
    if cluster:
        yield cluster


def _resolve_cluster(cluster: list[Entity]) -> list[Entity]:
    if len(cluster) == 1:
        return cluster
    kept: list[Entity] = []
    for candidate in sorted(cluster, key=_rank, reverse=True):
        hits = [i for i, entity in enumerate(kept) if entity.overlaps(candidate)]
        if not hits:
            kept.append(candidate)
        for i in hits:
            entity = kept[i]
            kept[i] = Entity(
                entity.type,
                min(entity.start, candidate.start),
                max(entity.end, candidate.end),
                entity.score,
            )
    return _merge(kept)


def _merge(entities: list[Entity]) -> list[Entity]:
    """Merge entities that widening made overlap; the better-ranked keeps its type."""
    merged: list[Entity] = []
    for entity in sorted(entities, key=_position):
        if merged and merged[-1].end > entity.start:
            last = merged[-1]
            best = max(last, entity, key=_rank)
            merged[-1] = Entity(
                best.type, last.start, max(last.end, entity.end), best.score
            )
        else:
            merged.append(entity)
    return merged
