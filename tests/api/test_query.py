"""Governed audience queries: tag filters, consent and minority per subject, pages."""

import sqlite3
from contextlib import closing
from dataclasses import replace

import pytest
from factories import auth, recorded_as_adult, subjects

QUERY = "/v1/datasets/customers/query"
MATERNAL = "maternal_care_recommendation"


def consent_states(demo_dir, purpose):
    """subject -> (action, notice version, grantor) of its latest state event."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        rows = conn.execute(
            "SELECT subject_id, action, notice_version, grantor FROM consent_events"
            " WHERE purpose = ? AND action IN ('granted', 'withdrawn', 'expired')"
            " ORDER BY id",
            (purpose,),
        ).fetchall()
    return {subject: rest for subject, *rest in rows}


def opted_out(demo_dir):
    """Subjects whose personalisation switch is off now."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        rows = conn.execute(
            "SELECT subject_id, action FROM consent_events"
            " WHERE purpose = 'personalisation' ORDER BY id"
        ).fetchall()
    return {s for s, action in dict(rows).items() if action == "opted_out"}


def audience(demo_dir, tags):
    """Those tagged who hold a current marketing consent: adults, or children by
    guardian; a tag-targeted push leaves out who turned personalisation off (A-01)."""
    states = consent_states(demo_dir, "marketing_push")
    off = opted_out(demo_dir)
    adults = set(subjects(demo_dir, minor=False))
    tagged = {s for t in tags for s in subjects(demo_dir, tag=t)}
    return sorted(
        s
        for s in tagged
        if s in states
        and s not in off
        and states[s][:2] == ["granted", "2026.01"]
        and (s in adults or states[s][2] == "guardian")
    )


def run(client, keys, body, caller="campaign-sms", purpose="marketing_push"):
    """POST a query and return the response."""
    return client.post(QUERY, json=body, headers=auth(keys[caller], purpose))


def test_when_tags_any_then_only_consenting_adults_are_returned(client, keys, demo_dir):
    """Phone and nickname of 高消费 or 母婴 customers: exactly the consenting adults."""
    body = {
        "fields": ["mobile", "nickname"],
        "where": {"tags_any": ["高消费", "母婴"]},
        "limit": 500,
    }

    response = run(client, keys, body)

    result = response.json()
    assert response.status_code == 200
    assert [r["subject_id"] for r in result["records"]] == audience(
        demo_dir, ["高消费", "母婴"]
    )
    assert all(
        set(r) == {"subject_id", "mobile", "nickname"} for r in result["records"]
    )
    assert result["next_cursor"] is None
    assert result["excluded"]["consent_missing"] > 0
    assert result["decision_id"] == response.headers["X-Decision-Id"]


def test_when_tags_all_then_subjects_have_every_tag(client, keys, demo_dir):
    """tags_all is an AND over tags."""
    both = set(subjects(demo_dir, tag="高消费")) & set(subjects(demo_dir, tag="复购"))

    result = run(
        client, keys, {"where": {"tags_all": ["高消费", "复购"]}, "limit": 500}
    ).json()

    assert {r["subject_id"] for r in result["records"]} <= both
    assert len(result["records"]) == len(set(audience(demo_dir, ["高消费"])) & both)


def test_when_paging_then_pages_cover_the_audience_once(client, keys, demo_dir):
    """Following next_cursor visits every included subject exactly once."""
    seen, cursor = [], None
    for _ in range(100):
        body = {
            "fields": ["nickname"],
            "where": {"tags_any": ["高消费", "母婴"]},
            "limit": 7,
        }
        if cursor:
            body["cursor"] = cursor
        page = run(client, keys, body).json()
        seen += [r["subject_id"] for r in page["records"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == audience(demo_dir, ["高消费", "母婴"])


def test_when_minors_in_audience_then_they_are_excluded_and_counted(
    client, keys, demo_dir
):
    """Children who consented themselves are still left out of marketing audiences (M-01)."""
    child = subjects(demo_dir, minor=True)[0]
    with recorded_as_adult(demo_dir, child):
        given = client.post(
            f"/v1/subjects/{child}/consents",
            headers=auth(keys["brand-app"]),
            json={
                "purpose": "marketing_push",
                "notice_version": "2026.01",
                "declared_frequency": "4/month",
                "method": "click",
                "evidence": {"screen": "opt-in-v3"},
                "channel": "app",
            },
        )
    assert given.status_code == 201

    result = run(client, keys, {"fields": ["nickname"], "limit": 500}).json()

    assert child not in {r["subject_id"] for r in result["records"]}
    assert result["excluded"]["guardian_consent_required"] >= 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"where": {"tags_any": ["孕期"]}}, "sensitive_tag_not_permitted:孕期"),
        ({"where": {"tags_all": ["负债"]}}, "sensitive_tag_not_permitted:负债"),
        ({"where": {"tags_any": ["价格敏感"]}}, "tag_not_permitted:价格敏感"),
        ({"fields": ["id_number"]}, "field_not_permitted:id_number"),
    ],
    ids=["pregnancy-tag", "debt-tag", "willingness-to-pay-tag", "id-number-field"],
)
def test_when_query_uses_what_purpose_may_not_then_refused(client, keys, body, reason):
    """Sensitive or unpermitted tags and fields refuse the whole query with the reason."""
    response = run(client, keys, body)

    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    assert reason in response.json()["reasons"]


@pytest.mark.parametrize(
    "body",
    [
        {"where": {"tags_any": ["不存在的标签"]}},
        {"limit": 1001},
        {"limit": 0},
        {"cursor": "not-a-cursor"},
        {"fields": []},
        {"limit": True},  # JSON true is no count
        {"limit": "5"},
    ],
    ids=[
        "unknown-tag",
        "limit-too-big",
        "limit-zero",
        "forged-cursor",
        "no-fields",
        "limit-true",
        "limit-text",
    ],
)
def test_when_query_malformed_then_invalid_request(client, keys, body):
    """Bad queries get 422 invalid_request, never a 500."""
    response = run(client, keys, body)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_when_cursor_used_for_other_purpose_then_refused(client, keys):
    """A cursor is sealed to its dataset and purpose."""
    cursor = run(client, keys, {"limit": 2}).json()["next_cursor"]

    response = run(
        client,
        keys,
        {"limit": 2, "cursor": cursor},
        caller="brand-app",
        purpose="personalised_recommendation",
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    "changed",
    [
        {"where": {}},
        {"where": {"tags_all": ["孕期", "母婴"]}},
        {"where": {"tags_any": ["孕期"]}},
        {"fields": None},
    ],
    ids=["filter-dropped", "filter-widened", "any-for-all", "fields"],
)
def test_when_cursor_replayed_in_another_query_then_refused(client, keys, changed):
    """A cursor resumes only the query that issued it, filters and fields included.

    A 孕期 page position replayed without the filter would, with the exclusion
    counts, tell which subjects carry the tag (SC-01).
    """
    body = {"fields": ["nickname"], "where": {"tags_all": ["孕期"]}, "limit": 1}
    first = run(client, keys, body, caller="brand-app", purpose=MATERNAL).json()
    assert first["next_cursor"] is not None
    same = run(
        client,
        keys,
        body | {"cursor": first["next_cursor"]},
        caller="brand-app",
        purpose=MATERNAL,
    )

    replayed = run(
        client,
        keys,
        body | changed | {"cursor": first["next_cursor"]},
        caller="brand-app",
        purpose=MATERNAL,
    )

    assert same.status_code == 200
    assert replayed.status_code == 422
    assert replayed.json()["code"] == "invalid_request"


def test_when_cursor_used_by_another_caller_then_refused(client, keys):
    """Two callers acting for the same purpose do not share page positions."""
    cursor = run(client, keys, {"limit": 2}).json()["next_cursor"]

    response = run(client, keys, {"limit": 2, "cursor": cursor}, caller="brand-app")

    assert response.status_code == 422


def test_when_subject_opted_out_then_tag_targeted_marketing_leaves_them_out(
    client, keys, demo_dir
):
    """Picking a push audience by tags is personalised (A-01), whatever the purpose.

    The subject who turned personalisation off is left out of the 高消费 push and
    counted; an untargeted push, which the opt-out does not refuse, still reaches them.
    """
    targeted = {"fields": ["nickname"], "where": {"tags_any": ["高消费"]}, "limit": 500}
    before = run(client, keys, targeted).json()
    subject = before["records"][0]["subject_id"]
    switched = client.post(
        f"/v1/subjects/{subject}/personalisation",
        json={"enabled": False, "channel": "app"},
        headers=auth(keys["brand-app"]),
    )
    assert switched.json()["changed"] is True

    pushed = run(client, keys, targeted).json()
    untargeted = run(client, keys, {"fields": ["nickname"], "limit": 500}).json()

    assert [r["subject_id"] for r in pushed["records"]] == [
        r["subject_id"] for r in before["records"][1:]
    ]
    assert pushed["excluded"].get("personalisation_opted_out", 0) == (
        before["excluded"].get("personalisation_opted_out", 0) + 1
    )
    assert subject in [r["subject_id"] for r in untargeted["records"]]


def test_when_analytics_queries_then_subject_ids_are_pseudonymous(
    client, keys, demo_dir
):
    """Analytics sees pseudonyms in place of subject ids, and the cursor hides raw keys too."""
    page = run(
        client, keys, {"limit": 5}, caller="brand-app", purpose="analytics"
    ).json()

    ids = [r["subject_id"] for r in page["records"]]
    assert ids
    assert all(i.startswith("pv1_") for i in ids)
    assert "C000" not in page["next_cursor"]  # raw keys are C + 6 digits


def test_query_audit_event_names_returned_subjects_by_reference(client, keys):
    """The audit event of a query lists how many were returned and excluded, by reference only."""
    response = run(
        client, keys, {"fields": ["mobile"], "where": {"tags_any": ["母婴"]}}
    )
    events = client.get(
        "/v1/audit/events",
        params={"caller": "campaign-sms"},
        headers=auth(keys["compliance-officer"]),
    ).json()["events"]

    event = next(
        e for e in events if e["decision_id"] == response.headers["X-Decision-Id"]
    )
    assert event["kind"] == "access.query"
    assert len(event["detail"]["subject_refs"]) == len(response.json()["records"])
    assert event["detail"]["excluded"] == response.json()["excluded"]
    assert event["detail"]["tags"] == ["母婴"]


def test_a_query_reads_from_the_store_only_what_may_leave(client, keys):
    """Columns the policy withholds (card, notes) are never even selected; the ID
    number is read only to tell age (M-02) and never leaves."""
    services = client.app.state.services
    asked = []

    class Recording:
        async def fetch_record(self, *args, **kwargs):
            return await services.source.fetch_record(*args, **kwargs)

        async def scan(self, dataset, **kwargs):
            asked.append(set(kwargs["columns"]))
            return await services.source.scan(dataset, **kwargs)

    client.app.state.services = replace(services, source=Recording())
    try:
        response = run(client, keys, {"limit": 20})
    finally:
        client.app.state.services = services

    assert response.status_code == 200
    assert asked
    assert all(not cols & {"bank_card", "service_note"} for cols in asked)
    assert all("id_number" not in r for r in response.json()["records"])


class CountingSource:
    """The app's own source, counting the scans a page makes and the rows they return."""

    def __init__(self, source):
        self.source, self.scans = source, []

    async def fetch_record(self, *args, **kwargs):
        return await self.source.fetch_record(*args, **kwargs)

    async def scan(self, dataset, **kwargs):
        rows = await self.source.scan(dataset, **kwargs)
        self.scans.append(len(rows))
        return rows


def with_source(client, source, **limits):
    services = client.app.state.services
    client.app.state.services = replace(
        services, source=source, limits=services.limits.model_copy(update=limits)
    )
    return services


def test_a_page_of_a_half_excluded_audience_takes_few_scans(client, keys):
    """Scans grow with the share excluded so far: a full page in two or three."""
    counting = CountingSource(client.app.state.services.source)
    services = with_source(client, counting)
    try:
        result = run(client, keys, {"fields": ["nickname"], "limit": 20}).json()
    finally:
        client.app.state.services = services

    assert len(result["records"]) == 20
    assert sum(result["excluded"].values()) >= 10  # about half are left out
    assert len(counting.scans) <= 3


def test_a_page_scans_at_most_its_budget_and_resumes_where_it_stopped(
    client, keys, demo_dir
):
    """max_scan_factor 1: a page of 20 reads at most 20 rows; its cursor goes on."""
    tags = ["高消费", "母婴"]
    body = {"fields": ["nickname"], "where": {"tags_any": tags}}
    counting = CountingSource(client.app.state.services.source)
    services = with_source(client, counting, max_scan_factor=1)
    try:
        first = run(client, keys, body | {"limit": 20}).json()
        first_scans = list(counting.scans)
        rest = run(
            client, keys, body | {"limit": 400, "cursor": first["next_cursor"]}
        ).json()
    finally:
        client.app.state.services = services

    assert sum(first_scans) <= 20
    assert len(first["records"]) < 20  # the budget ran out before the page filled
    assert first["next_cursor"] is not None
    assert rest["next_cursor"] is None
    everyone = [r["subject_id"] for r in first["records"] + rest["records"]]
    assert everyone == audience(demo_dir, tags)
