"""Sensitive personal information (PIPL Art. 28) in the month's accesses, per the catalog.

An allowed access *used* a sensitive category when it released a field of that
category: the field was requested and its obligation was anything but
`withhold` (masked and tokenised values still count: they are still personal
information). An audience query *targeted* by a sensitive tag when its filter
named one, whatever the policy then decided; refusals are listed too, since an
attempt is what an officer follows up. Sensitivity is the catalog's (a tag
derived from a sensitive input is sensitive, `governance.catalog.lineage`).
"""

from collections import defaultdict
from collections.abc import Iterable

from audit.report.collect import DetailCount, Shape
from audit.report.figures import SensitiveTagUse, SensitiveUse
from governance.catalog import Catalog
from governance.types import Obligation

_WITHHELD = Obligation.WITHHOLD.value


def sensitive_uses(
    shapes: Iterable[Shape], catalog: Catalog
) -> tuple[SensitiveUse, ...]:
    """Allowed accesses that released sensitive fields, by category, purpose and caller."""
    events: defaultdict[tuple[str, str, str], int] = defaultdict(int)
    fields: defaultdict[tuple[str, str, str], set[str]] = defaultdict(set)
    for s in shapes:
        if not (s.access and s.outcome == "allowed"):
            continue
        released = _released_sensitive(s, catalog)
        for category in set(released.values()):
            key = (category, s.purpose or "", s.caller or "")
            events[key] += s.count
            fields[key] |= {n for n, c in released.items() if c == category}
    rows = [
        SensitiveUse(c, p, caller, n, tuple(sorted(fields[(c, p, caller)])))
        for (c, p, caller), n in events.items()
    ]
    return tuple(sorted(rows, key=lambda r: (-r.events, r.category, r.purpose)))


def _released_sensitive(shape: Shape, catalog: Catalog) -> dict[str, str]:
    """Released sensitive field -> its category."""
    dataset = catalog.datasets.get(shape.dataset or "")
    if dataset is None:
        return {}
    return {
        name: dataset.fields[name].category
        for name in shape.fields
        if name in dataset.fields
        and dataset.fields[name].sensitive
        and shape.obligations.get(name, _WITHHELD) != _WITHHELD
    }


def sensitive_tags(
    filters: Iterable[DetailCount], catalog: Catalog
) -> tuple[SensitiveTagUse, ...]:
    """Audience queries whose filter named a sensitive tag, by tag, purpose and outcome."""
    counts: defaultdict[tuple[str, str, str], int] = defaultdict(int)
    for f in filters:
        for tag in set(f.values):
            fact = catalog.tags.get(tag)
            if fact is not None and fact.sensitive:
                counts[(tag, f.purpose or "", f.outcome)] += f.count
    rows = [
        SensitiveTagUse(tag, catalog.tags[tag].category, purpose, outcome, n)
        for (tag, purpose, outcome), n in counts.items()
    ]
    return tuple(sorted(rows, key=lambda r: (-r.events, r.tag, r.purpose)))
