"""Reads whose obligations generalise or scan free text (issue #5)."""

from datetime import UTC, datetime

from factories import auth, customer, subjects

from governance.subjects import age_on, china_date

RECORD = "/v1/datasets/customers/records/{}"
CONSENT = {
    "notice_version": "2026.01",
    "method": "click",
    "channel": "app",
    "evidence": {"screen": "opt-in-v3"},
}
AGE_BANDS = ((14, "<14"), (18, "14-17"), (25, "18-24"), (35, "25-34"))
AGE_BANDS += ((45, "35-44"), (60, "45-59"), (200, "60+"))


def band(age: int) -> str:
    """The demo analytics band of an age."""
    return next(label for below, label in AGE_BANDS if age < below)


def test_analytics_reads_birth_dates_as_age_bands(client, keys, demo_dir):
    """Analytics' own parameters turn the birth date into an age band, never the date."""
    sid = subjects(demo_dir, minor=False)[5]
    granted = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "analytics", **CONSENT},
        headers=auth(keys["brand-app"]),
    )
    assert granted.status_code == 201, granted.text
    raw = customer(demo_dir, sid)
    today = china_date(datetime.now(UTC))

    body = client.get(
        RECORD.format(sid), headers=auth(keys["brand-app"], "analytics")
    ).json()

    age = age_on(datetime.fromisoformat(raw["birth_date"]).date(), today)
    assert body["obligations"]["birth_date"] == "generalise"
    assert body["record"]["birth_date"] == band(age)
    assert raw["birth_date"] not in str(body)
