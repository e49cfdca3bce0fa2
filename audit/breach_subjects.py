"""Turn the subject references of a breach report back into subject ids, to notify people.

The trail holds keyed references (`s_…`, HMAC of the id), never ids, and a
reference cannot be reversed. So the ids are found by recomputing the
reference of every subject key of each dataset involved, read from the
catalogued data source in pages, and keeping those that match. A reference
that matches no key stays unresolved: the subject has left the dataset, or
the reference was made under a `subject_ref` key that has since changed.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Set
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.breach import BreachReport, SubjectKey, breach_report, known_caller
from governance.catalog import Catalog
from governance.errors import UnknownCaller
from governance.ports import DataSource

PAGE = 5000
KeyPages = Callable[[str], AsyncIterator[list[str]]]


async def resolve_subjects(
    wanted: Mapping[str, Set[str]],
    key_pages: KeyPages,
    subject_ref: Callable[[str], str],
) -> dict[SubjectKey, str]:
    """(dataset, reference) -> subject id, for every wanted reference found.

    Args:
        wanted: dataset -> the references to find in it.
        key_pages: the subject keys of a dataset, page by page.
        subject_ref: the keyed hash the trail names subjects by.
    """
    found: dict[SubjectKey, str] = {}
    for dataset, refs in wanted.items():
        left = set(refs)
        async for keys in key_pages(dataset):
            for key in keys:
                ref = subject_ref(key)
                if ref in left:
                    found[(dataset, ref)] = key
                    left.discard(ref)
            if not left:
                break
    return found


def source_key_pages(source: DataSource, catalog: Catalog) -> KeyPages:
    """The subject keys of a catalogued dataset, in pages; none for a dataset no longer declared."""

    async def pages(name: str) -> AsyncIterator[list[str]]:
        dataset = catalog.datasets.get(name)
        if dataset is None:
            return
        after: str | None = None
        while True:
            rows = await source.scan(
                dataset,
                columns=[dataset.subject_key],
                tags_any=(),
                tags_all=(),
                after=after,
                limit=PAGE,
            )
            keys = [str(r[dataset.subject_key]) for r in rows]
            if keys:
                yield keys
            if len(keys) < PAGE:
                return
            after = keys[-1]
            await asyncio.sleep(0)  # SQLite reads run inline on the loop

    return pages


async def breach_answer(
    store: AsyncEngine,
    catalog: Catalog,
    *,
    caller: str,
    since: str,
    until: str,
    resolve_with: tuple[DataSource, Callable[[str], str]] | None,
) -> tuple[BreachReport, dict[str, Any]]:
    """The report for `caller` in `[since, until)` and its JSON, ids resolved if asked.

    Args:
        resolve_with: the data source and the subject referencer to resolve
            references with; None leaves them as references.

    Raises:
        UnknownCaller: no caller of that name was ever registered (a revoked
            one was) and none is named in the trail: most likely a misspelt
            name, which would otherwise answer "0 subjects".
    """
    if not await known_caller(store, caller):
        raise UnknownCaller(
            "no caller of that name was ever registered or named in the audit trail"
        )
    report = await breach_report(store, caller=caller, since=since, until=until)
    subject_ids = None
    if resolve_with is not None:
        source, subject_ref = resolve_with
        subject_ids = await resolve_subjects(
            report.datasets(), source_key_pages(source, catalog), subject_ref
        )
    categories = {
        name: {f: fact.category for f, fact in dataset.fields.items()}
        for name, dataset in catalog.datasets.items()
    }
    tags = {name: (t.category, t.sensitive) for name, t in catalog.tags.items()}
    body = await asyncio.to_thread(  # off the event loop: it may list many subjects
        report.to_json, categories=categories, tags=tags, subject_ids=subject_ids
    )
    return report, body
