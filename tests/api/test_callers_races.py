"""Caller administration under concurrency, on SQLite and PostgreSQL.

Two admins revoking each other at once must not leave the registry without an
active admin, and several registrations of one name must give one caller and a
409 `conflict` for every other, each audited as a denial, never a 503.
Two proxies share each store, as two workers or instances do, so the guard
has to hold across processes, not only within one audit writer.
"""

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import pytest
from factories import auth
from fastapi.testclient import TestClient
from served import demo_copy, keys_of
from sqlalchemy import text

from governance.app import create_app
from governance.settings import load_settings
from governance.store import open_store

ROUNDS = 12


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def proxies(
    request: pytest.FixtureRequest, demo_template: Path, tmp_path: Path
) -> Iterator[tuple[TestClient, TestClient, str, dict[str, str]]]:
    """Two proxies on one store of each kind, its URL, and the demo keys."""
    with demo_copy(demo_template, tmp_path, request.param) as (folder, url):
        settings = load_settings(folder / "govproxy.yaml", env="test", store_url=url)
        with (
            TestClient(create_app(settings), raise_server_exceptions=False) as one,
            TestClient(create_app(settings), raise_server_exceptions=False) as two,
        ):
            keys = keys_of(folder)
            for client in (one, two):
                warm_up(client, auth(keys["platform-admin"]))
            yield one, two, url, keys


def warm_up(client: TestClient, admin: dict[str, str]) -> None:
    """Ask each route once, refused before its handler (nothing audited).

    FastAPI builds a route's dependencies on its first request; two first
    requests at once on threads race in pydantic's schema building (a 500),
    which is not what these tests are about.
    """
    assert client.post("/v1/callers", json={}, headers=admin).status_code == 422
    too_long = f"/v1/callers/{'x' * 65}/revoke"
    assert client.post(too_long, headers=admin).status_code == 422


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the store at `url`."""

    async def read() -> list[tuple[Any, ...]]:
        store = await open_store(url)
        try:
            async with store.connect() as conn:
                return [tuple(r) for r in await conn.execute(text(sql), params)]
        finally:
            await store.dispose()

    return asyncio.run(read())


def at_once(*calls: Any) -> list[Any]:
    """Run `calls` on threads released together."""
    start = Barrier(len(calls))

    def run(call: Any) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_admins_revoking_each_other_leave_one_admin(proxies):
    """Round after round, a survivor and a new admin revoke each other at once,
    through different proxies: one revocation commits, the other is 409
    `last_admin` and audited as denied; an admin always remains."""
    one, two, url, keys = proxies
    survivor, key = "platform-admin", keys["platform-admin"]
    refusals = 0
    for n in range(ROUNDS):
        name = f"admin-{n}"
        added = one.post(
            "/v1/callers",
            json={"name": name, "role": "admin", "purposes": []},
            headers=auth(key),
        ).json()

        first, second = at_once(
            lambda s=survivor, a=name, k=key: one.post(
                f"/v1/callers/{a}/revoke", headers=auth(k)
            ),
            lambda s=survivor, k=added["key"]: two.post(
                f"/v1/callers/{s}/revoke", headers=auth(k)
            ),
        )

        assert 200 in (first.status_code, second.status_code), (first.text, second.text)
        lost = second if first.status_code == 200 else first
        # The loser's key may be gone before it is read (401), or it is read
        # before the winner commits and its revocation is refused (409).
        assert (lost.status_code, lost.json().get("code")) in {
            (401, "unauthenticated"),
            (409, "last_admin"),
        }, (first.text, second.text)
        refusals += lost.status_code == 409
        if second.status_code == 200:
            survivor, key = name, added["key"]
        admins = rows(
            url,
            "SELECT name FROM callers WHERE role = 'admin' AND revoked_at IS NULL",
        )
        assert admins == [(survivor,)]
        assert one.get("/v1/callers", headers=auth(key)).status_code == 200

    outcomes = rows(
        url,
        "SELECT outcome, reason FROM audit_events WHERE kind = 'caller.revoked'",
    )
    assert sorted(outcomes, key=str) == sorted(
        [("allowed", None)] * ROUNDS + [("denied", "last_admin")] * refusals, key=str
    )


def test_registrations_of_one_name_at_once_give_one_caller(proxies):
    """Eight registrations of one name, on two proxies: one 201, seven 409
    `conflict`, each audited as a denied `caller.added`; no 503."""
    one, two, url, keys = proxies
    admin = auth(keys["platform-admin"])
    body = {"name": "crm-sync", "role": "service", "purposes": ["order_fulfilment"]}

    answers = at_once(
        *(
            lambda c=client: c.post("/v1/callers", json=body, headers=admin)
            for client in (one, two) * 4
        )
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"conflict"}
    outcomes = rows(
        url,
        "SELECT outcome, reason FROM audit_events WHERE kind = 'caller.added'"
        " AND detail LIKE :name",
        name="%crm-sync%",
    )
    assert sorted(outcomes, key=str) == sorted(
        [("allowed", None)] + [("denied", "conflict")] * 7, key=str
    )
    assert rows(url, "SELECT count(*) FROM callers WHERE name = 'crm-sync'") == [(1,)]


def test_three_admins_revoking_in_a_ring_leave_an_admin_and_no_5xx(proxies):
    """A revokes B, B revokes C, C revokes A, at once: each answer is a
    revocation, a refusal, or the loser's key already gone; never a 503."""
    one, two, url, keys = proxies
    active = {"platform-admin": keys["platform-admin"]}
    for n in range(ROUNDS // 2):
        ring = [f"ring-{n}-{i}" for i in range(3)]
        admin = auth(next(iter(active.values())))
        issued = {
            name: one.post(
                "/v1/callers",
                json={"name": name, "role": "admin", "purposes": []},
                headers=admin,
            ).json()["key"]
            for name in ring
        }
        for name in active:  # only the ring is left
            one.post(f"/v1/callers/{name}/revoke", headers=auth(issued[ring[0]]))

        answers = at_once(
            *(
                lambda c=(one, two)[i % 2], k=issued[ring[i]], t=ring[(i + 1) % 3]: (
                    c.post(f"/v1/callers/{t}/revoke", headers=auth(k))
                )
                for i in range(3)
            )
        )

        codes = {(a.status_code, a.json().get("code")) for a in answers}
        assert codes <= {(200, None), (401, "unauthenticated"), (409, "last_admin")}
        left = rows(
            url, "SELECT name FROM callers WHERE role = 'admin' AND revoked_at IS NULL"
        )
        assert left
        active = {name: issued[name] for (name,) in left}
