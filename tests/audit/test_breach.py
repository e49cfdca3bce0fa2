"""The breach kit: which subjects and fields a caller received, from its allowed events only."""

import asyncio

import pytest
from trail_rows import at, insert_trail, on_store, query, read, store_url

from audit.breach import breach_report, known_caller
from audit.breach_subjects import resolve_subjects
from audit.record import SUBJECT_REFS

CATEGORIES = {"customers": {"mobile": "contact.phone", "name": "identity.name"}}
TAGS = {"孕期": ("health.fertility", True), "高消费": ("consumption.level", False)}
WINDOW = {"since": at(1), "until": at(20)}
ABROAD = {
    "name": "hq-analytics-sg",
    "registered": True,
    "country": "SG",
    "cross_border": True,
    "transfer_mechanism": "standard_contract",
    "mechanism_reference": "SCC-2025-0412",
}


def answer(url: str, trail, caller: str = "campaign-sms", **window) -> dict:
    """The breach answer for `caller` over `trail` (JSON, references unresolved)."""

    async def body(store):
        await insert_trail(store, trail)
        report = await breach_report(store, caller=caller, **(WINDOW | window))
        return report.to_json(categories=CATEGORIES, tags=TAGS)

    return on_store(url, body)


@pytest.fixture
def url(tmp_path):
    """A fresh SQLite store."""
    with store_url("sqlite", tmp_path) as found:
        yield found


def by_ref(body: dict) -> dict[str, dict]:
    """The answer's records by subject reference."""
    return {r["subject_ref"]: r for r in body["records"]}


def test_a_read_reports_released_fields_with_their_obligations(url):
    """A withheld field was not received; a masked one was received masked."""
    body = answer(url, [read("s_a", at(2))])

    assert by_ref(body)["s_a"]["fields"] == {
        "customer_id": ["keep"],
        "mobile": ["keep"],
        "name": ["mask"],
    }


def test_a_read_that_released_no_field_names_no_subject(url):
    """Every requested field withheld: nothing was received, so no subject is listed."""
    withheld = read(
        "s_a",
        at(2),
        fields=("name", "mobile"),
        obligations={"name": "withhold", "mobile": "withhold"},
    )

    body = answer(url, [withheld])

    assert (body["subjects"], body["records"]) == (0, [])
    assert body["events"] == {"access.read": 1}


def test_a_field_without_an_obligation_was_not_received(url):
    """A requested field the decision gave no obligation was left out."""
    body = answer(url, [read("s_a", at(2), obligations={"mobile": "keep"})])

    assert by_ref(body)["s_a"]["fields"] == {"mobile": ["keep"]}


def test_every_subject_an_audience_query_released_is_reported(url):
    """A query's subjects come from its event, with the query's fields."""
    body = answer(url, [query(["s_a", "s_b", "s_c"], at(3))])

    assert set(by_ref(body)) == {"s_a", "s_b", "s_c"}
    assert by_ref(body)["s_b"]["fields"] == {
        "customer_id": ["keep"],
        "mobile": ["keep"],
    }


def test_only_what_the_caller_was_given_in_the_window_counts(url):
    """Denied and failed events, other callers and events outside [since, until) are left out."""
    trail = [
        read("s_in", at(5)),
        read("s_denied", at(5), outcome="denied", reason="consent_missing"),
        read("s_error", at(5), outcome="error", reason="internal_error"),
        read("s_other", at(5), caller="brand-app"),
        read("s_before", at(1, 59)),
        read("s_at_until", at(9)),
        query(["s_q"], at(5), outcome="denied", reason="policy_denied"),
    ]

    body = answer(url, trail, since=at(2), until=at(9))

    assert set(by_ref(body)) == {"s_in"}
    assert body["events"] == {"access.read": 1}


def test_the_since_bound_is_inclusive(url):
    """An event exactly at `since` is inside the window."""
    body = answer(url, [read("s_a", at(2))], since=at(2), until=at(3))

    assert set(by_ref(body)) == {"s_a"}


def test_a_subject_received_several_ways_lists_every_obligation(url):
    """Masked in one read, kept by another purpose's read: both obligations, both purposes."""
    trail = [
        read("s_a", at(2)),
        read(
            "s_a",
            at(4),
            purpose="customer_service",
            obligations={"customer_id": "keep", "name": "keep"},
        ),
        query(["s_a"], at(6)),
    ]

    record = by_ref(answer(url, trail))["s_a"]

    assert record["fields"]["name"] == ["keep", "mask"]
    assert record["purposes"] == ["customer_service", "marketing_push"]
    assert (record["events"], record["first"], record["last"]) == (3, at(2), at(6))


def test_the_summary_counts_subjects_per_field_and_obligation(url):
    """Per field: its catalog category and how many subjects got it under each obligation."""
    trail = [read("s_a", at(2)), read("s_b", at(3)), query(["s_c"], at(4))]

    fields = answer(url, trail)["fields"]["customers"]

    assert fields["name"] == {"category": "identity.name", "subjects": {"mask": 2}}
    assert fields["mobile"] == {"category": "contact.phone", "subjects": {"keep": 3}}
    assert fields["customer_id"]["category"] is None  # not in CATEGORIES


def test_detokenised_values_are_counted_by_category_without_subjects(url):
    """Tokens name no subject: the answer counts them per category."""
    opened = read(
        None,
        at(2),
        kind="access.detokenise",
        dataset=None,
        fields=(),
        obligations={},
        detail={"tokens": 3, "categories": {"contact.email": 3}},
    )

    body = answer(url, [opened])

    assert body["detokenised"] == {"tokens": 3, "categories": {"contact.email": 3}}
    assert body["subjects"] == 0


def tagged(refs, ts, tags, **overrides):
    """An allowed audience query whose subjects were selected by `tags`."""
    detail = {SUBJECT_REFS: list(refs), "excluded": {}, "tags": list(tags)}
    return query(refs, ts, detail=detail, **overrides)


def test_a_sensitive_tag_a_query_filtered_on_is_reported_for_each_subject(url):
    """A 孕期 filter revealed health.fertility of every subject returned, whatever fields left."""
    trail = [
        tagged(["s_a", "s_b"], at(2), ["孕期"], purpose="maternal_care_recommendation"),
        read("s_c", at(3)),
    ]

    body = answer(url, trail)

    fertility = {"category": "health.fertility", "sensitive": True}
    assert by_ref(body)["s_a"]["selected_by"] == {"孕期": fertility}
    assert by_ref(body)["s_c"]["selected_by"] == {}
    assert body["tags"] == {"customers": {"孕期": fertility | {"subjects": 2}}}


def test_a_subject_selected_by_several_queries_lists_every_tag(url):
    """Tags of different queries add up per subject; a tag no longer declared shows no facts."""
    trail = [
        tagged(["s_a"], at(2), ["孕期"]),
        tagged(["s_a", "s_b"], at(3), ["高消费", "旧标签"]),
    ]

    body = answer(url, trail)

    assert sorted(by_ref(body)["s_a"]["selected_by"]) == ["孕期", "旧标签", "高消费"]
    assert by_ref(body)["s_b"]["selected_by"]["旧标签"] == {
        "category": None,
        "sensitive": None,
    }
    assert body["tags"]["customers"]["高消费"]["subjects"] == 2


def test_a_third_party_recipient_is_named_with_whether_the_data_went_abroad(url):
    """Reads and queries provided to a recipient name it; others name none."""
    at_home = {"name": "cobrand-bank", "registered": True, "cross_border": False}
    trail = [
        read("s_a", at(2), detail={"recipient": ABROAD}),
        query(["s_a", "s_b"], at(3), detail={SUBJECT_REFS: ["s_a", "s_b"],
                                             "recipient": at_home}),
        read("s_c", at(4)),
    ]  # fmt: skip

    body = answer(url, trail)

    assert by_ref(body)["s_a"]["recipients"] == [
        {"name": "cobrand-bank", "cross_border": False},
        {"name": "hq-analytics-sg", "cross_border": True},
    ]
    assert by_ref(body)["s_c"]["recipients"] == []
    assert body["recipients"] == [
        {"name": "cobrand-bank", "cross_border": False, "subjects": 2},
        {"name": "hq-analytics-sg", "cross_border": True, "subjects": 1},
    ]


def tombstone(ts, **overrides):
    """An event as retention leaves it: kind, outcome and instant, no caller."""
    emptied = {
        "caller": None,
        "purpose": None,
        "dataset": None,
        "fields": (),
        "obligations": {},
        "detail": {"purged_by": "p" * 32},
    }
    return read(None, ts, **(emptied | overrides))


def test_purged_events_in_the_range_are_counted_as_a_caveat(url):
    """Tombstones name no caller: the answer counts the allowed releasing ones in range."""
    trail = [
        tombstone(at(2)),
        tombstone(at(3), kind="access.query"),
        tombstone(at(4), outcome="denied"),
        tombstone(at(5), kind="audit.read"),
        tombstone(at(25)),
        read("s_a", at(6)),
    ]

    body = answer(url, trail)

    assert body["purged_events"] == 2
    assert body["subjects"] == 1


def test_a_caller_is_known_when_registered_revoked_or_in_the_trail(url):
    """A misspelt name is unknown; the proxy's own actors and trail callers are known."""

    async def names(store):
        await insert_trail(store, [read("s_a", at(2), caller="retired-app")])
        asked = ("campaign_sms", "retired-app", "retention")
        return [await known_caller(store, n) for n in asked]

    assert on_store(url, names) == [False, True, True]


@pytest.mark.postgres
def test_the_same_answer_on_postgresql(tmp_path):
    """PostgreSQL answers exactly as SQLite does."""
    trail = [
        read("s_a", at(2), detail={"recipient": ABROAD}),
        tagged(["s_a", "s_b"], at(3), ["孕期"]),
        read("s_x", at(4), outcome="denied"),
        tombstone(at(5)),
    ]

    answers = []
    for kind in ("sqlite", "postgresql"):
        (tmp_path / kind).mkdir()
        with store_url(kind, tmp_path / kind) as found:
            answers.append(answer(found, trail))

    assert answers[0] == answers[1]
    assert answers[0]["subjects"] == 2
    assert answers[0]["purged_events"] == 1
    assert answers[0]["recipients"][0]["cross_border"] is True


class TestResolving:
    """References back to subject ids, by recomputing them over the dataset's keys."""

    @staticmethod
    def ref(key: str) -> str:
        """A stand-in subject referencer."""
        return "s_" + key.lower()

    @staticmethod
    def pages(keys_by_dataset):
        """Key pages of two keys each."""

        async def pages(dataset):
            keys = keys_by_dataset.get(dataset, [])
            for start in range(0, len(keys), 2):
                yield keys[start : start + 2]

        return pages

    def test_references_found_among_the_keys_resolve_to_their_ids(self):
        """Each wanted reference maps to the key whose reference it is; others are absent."""
        keys = {"customers": ["C1", "C2", "C3", "C4", "C5"]}
        wanted = {"customers": {"s_c2", "s_c5", "s_gone"}}

        found = asyncio.run(resolve_subjects(wanted, self.pages(keys), self.ref))

        assert found == {("customers", "s_c2"): "C2", ("customers", "s_c5"): "C5"}

    def test_resolved_ids_appear_in_the_answer_with_counts(self, url):
        """With ids, each record names its subject (null if not found) and `resolved` counts."""

        async def body(store):
            await insert_trail(store, [read("s_c1", at(2)), read("s_gone", at(3))])
            report = await breach_report(store, caller="campaign-sms", **WINDOW)
            ids = await resolve_subjects(
                report.datasets(), self.pages({"customers": ["C1", "C2"]}), self.ref
            )
            return report.to_json(categories={}, subject_ids=ids)

        result = on_store(url, body)

        assert {r["subject_ref"]: r["subject_id"] for r in result["records"]} == {
            "s_c1": "C1",
            "s_gone": None,
        }
        assert result["resolved"] == {"found": 1, "not_found": 1}
