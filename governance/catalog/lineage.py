"""What a tag is inferred from (S-04): checked at load, carried to the policy.

A tag may declare `derived_from` categories, other tags and `dataset.field`s.
`lineage_faults()` refuses unknown references and tags that derive from
themselves; `tag_facts()` follows each tag's inputs through the tags it derives
from and makes the tag sensitive when its category or any input is, whatever
its own category says. The lineage travels with the tag, so the policy can
check it again rather than trust the flag (a hand-edited input cannot launder it).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from governance.catalog.models import CatalogSpec, TagSpec
from governance.types import FieldFact


@dataclass(frozen=True, order=True)
class DerivedInput:
    """One input a tag is inferred from, as the policy sees it: its class, never a value."""

    category: str
    sensitive: bool


@dataclass(frozen=True)
class TagFact(FieldFact):
    """A tag with its lineage: every input it derives from, directly or through tags."""

    derived_from: tuple[DerivedInput, ...] = ()


def lineage_faults(spec: CatalogSpec) -> list[str]:
    """Unknown references in `derived_from`, and tags deriving from themselves."""
    faults = []
    for name, tag in spec.tags.items():
        source, at = tag.derived_from, f"tags.{name}.derived_from"
        if source is None:
            continue
        faults += [
            f"{at}.categories: unknown category '{c}'"
            for c in source.categories
            if c not in spec.categories
        ]
        faults += [
            f"{at}.tags: unknown tag '{t}'" for t in source.tags if t not in spec.tags
        ]
        faults += [
            f"{at}.fields: '{ref}' names no field (dataset.field)"
            for ref in source.fields
            if not _names_field(spec, ref)
        ]
    return faults + _cycles(spec)


def _names_field(spec: CatalogSpec, ref: str) -> bool:
    dataset, _, field = ref.partition(".")
    found = spec.datasets.get(dataset)
    return found is not None and field in found.fields


def _cycles(spec: CatalogSpec) -> list[str]:
    edges = {
        name: [t for t in tag.derived_from.tags if t in spec.tags]
        if tag.derived_from
        else []
        for name, tag in spec.tags.items()
    }
    faults = []
    for start in edges:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            tag = todo.pop()
            if tag == start:
                faults.append(f"tags.{start}.derived_from: derives from itself")
                break
            if tag not in seen:
                seen.add(tag)
                todo += edges[tag]
    return faults


def tag_facts(
    tags: Mapping[str, TagSpec],
    sensitive: Mapping[str, bool],
    fields: Mapping[str, FieldFact],
) -> dict[str, TagFact]:
    """Every tag as a fact with its lineage; `fields` is keyed `dataset.field`.

    Expects a spec `lineage_faults` found nothing wrong with, so the recursion ends.
    """
    done: dict[str, TagFact] = {}

    def fact(name: str) -> TagFact:
        if name not in done:
            spec = tags[name]
            inputs = tuple(sorted(set(_inputs(spec))))
            flagged = sensitive[spec.category] or any(i.sensitive for i in inputs)
            done[name] = TagFact(name, spec.category, flagged, inputs)
        return done[name]

    def _inputs(spec: TagSpec) -> list[DerivedInput]:
        source = spec.derived_from
        if source is None:
            return []
        found = [DerivedInput(c, sensitive[c]) for c in source.categories]
        found += [
            DerivedInput(fields[r].category, fields[r].sensitive) for r in source.fields
        ]
        for tag in source.tags:
            parent = fact(tag)
            found += [
                DerivedInput(parent.category, parent.sensitive),
                *parent.derived_from,
            ]
        return found

    return {name: fact(name) for name in tags}
