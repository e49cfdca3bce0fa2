"""The access history on both stores: reads listed apart from grouped refusals."""

from importlib import resources
from pathlib import Path

import pytest
from trail_rows import at, insert_trail, on_store, read, store_url

from governance.catalog import load_catalog
from governance.center.history import MAX_ACCESSES, MAX_ATTEMPT_GROUPS, load_history

REF = "s_" + "a" * 30
PROBE = {"caller": None, "purpose": None, "outcome": "denied", "dataset": None}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """The demo catalog."""
    path = Path(tmp_path_factory.mktemp("catalog")) / "catalog.yaml"
    text = resources.files("governance.demo").joinpath("catalog.yaml").read_text()
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def url(request, tmp_path):
    """A fresh governance store of each kind."""
    with store_url(request.param, tmp_path) as found:
        yield found


def history_of(url, catalog, drafts):
    """The history of REF over a trail of `drafts`."""

    async def body(store):
        await insert_trail(store, drafts)
        return await load_history(store, catalog, REF)

    return on_store(url, body)


def test_probes_are_one_group_and_the_read_stays(url, catalog):
    """Keyless probes of any reason are counted in one line; the read is listed."""
    probes = [
        read(REF, at(2, s), reason="unauthenticated" if s % 2 else "forbidden_role",
             **PROBE)
        for s in range(50)
    ]  # fmt: skip

    history = history_of(url, catalog, [read(REF, at(1)), *probes])

    assert [(a.caller, a.purpose) for a in history.accesses] == [
        ("campaign-sms", "营销推送")
    ]
    assert [(g.caller, g.count, g.reason) for g in history.attempts] == [
        ("未知访问方", 50, None)
    ]
    assert history.attempt_total == 50
    assert not history.more_accesses


def test_refusals_are_grouped_by_caller_purpose_and_reason(url, catalog):
    """A known caller's refusals keep their purpose and reason, counted per group;
    groups past the limit are still counted in the total."""
    reasons = ["consent_missing", "consent_withdrawn", "consent_expired"]
    callers = [f"svc-{i}" for i in range(MAX_ATTEMPT_GROUPS + 1)]
    drafts = [
        read(REF, at(3, i), caller=c, outcome="denied", reason=reasons[i % 3])
        for i, c in enumerate(callers)
    ] + [
        read(REF, at(4, i), outcome="denied", reason="consent_missing")
        for i in range(3)
    ]

    history = history_of(url, catalog, drafts)

    first = history.attempts[0]
    assert (first.caller, first.purpose, first.count) == ("campaign-sms", "营销推送", 3)
    assert first.reason == "您未同意该用途"
    assert len(history.attempts) == MAX_ATTEMPT_GROUPS
    assert history.attempt_total == len(callers) + 3
    assert history.unlisted_attempts == 2  # the two oldest single refusals


def test_reads_beyond_the_limit_are_said_to_exist(url, catalog):
    """The newest reads are listed, and the history says older ones exist."""
    drafts = [read(REF, at(5, i)) for i in range(MAX_ACCESSES + 1)]

    history = history_of(url, catalog, drafts)

    assert len(history.accesses) == MAX_ACCESSES
    assert history.more_accesses
    assert history.attempts == ()
