"""Audit proof queries are bounded to what the store holds, on SQLite and PostgreSQL.

Checkpoint numbers and tree sizes are `INTEGER` columns (four bytes on
PostgreSQL) and event ids are text, which on PostgreSQL cannot hold NUL: a
larger number or a control character must be refused up front with 422
`invalid_request`, never reach the store (where PostgreSQL fails the statement:
a 500), and never be echoed back.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import auth
from fastapi.testclient import TestClient
from served import demo_copy, keys_of

from audit.models import MAX_STORED_INT
from governance.app import create_app
from governance.settings import load_settings

PROBLEM_JSON = "application/problem+json"
TOO_LARGE = (MAX_STORED_INT + 1, 2**40, 2**62)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def officer_client(
    request: pytest.FixtureRequest,
    demo_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A proxy over the demo with its store of each kind, and the officer's headers."""
    root = tmp_path_factory.mktemp("proof-bounds")
    with demo_copy(demo_template, root, request.param) as (folder, url):
        settings = load_settings(folder / "govproxy.yaml", env="test", store_url=url)
        app = create_app(settings)
        with TestClient(app, raise_server_exceptions=False) as client:
            client.portal.call(app.state.checkpoints.seal_now)
            yield client, auth(keys_of(folder)["compliance-officer"])


def assert_refused(response, *, not_echoed: str) -> None:
    """A 422 `invalid_request` problem that does not quote the value."""
    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == "invalid_request"
    assert not_echoed not in response.text


class TestIntegerBounds:
    """Sizes and numbers past the `INTEGER` columns are 422; up to them, no 500."""

    @pytest.mark.parametrize("value", TOO_LARGE)
    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/v1/audit/proofs/consistency", {"first": "{}"}),
            ("/v1/audit/proofs/consistency", {"first": "1", "second": "{}"}),
            ("/v1/audit/checkpoints", {"before": "{}"}),
        ],
        ids=["first", "second", "before"],
    )
    def test_a_value_past_the_column_is_refused(
        self, officer_client, path, params, value
    ):
        """`first`, `second` and `before` above `MAX_STORED_INT`: 422, not echoed."""
        client, officer = officer_client
        query = {k: v.format(value) for k, v in params.items()}

        response = client.get(path, params=query, headers=officer)

        assert_refused(response, not_echoed=str(value))

    def test_the_largest_tree_size_is_asked_of_the_store(self, officer_client):
        """`MAX_STORED_INT` itself reaches the store: no such checkpoint (404)."""
        client, officer = officer_client

        response = client.get(
            "/v1/audit/proofs/consistency",
            params={"first": MAX_STORED_INT},
            headers=officer,
        )

        assert response.status_code == 404, response.text[:300]
        assert response.json()["code"] == "unknown_checkpoint"

    def test_the_largest_number_pages_checkpoints(self, officer_client):
        """`before=MAX_STORED_INT` reaches the store and lists what it holds (200)."""
        client, officer = officer_client

        response = client.get(
            "/v1/audit/checkpoints", params={"before": MAX_STORED_INT}, headers=officer
        )

        assert response.status_code == 200, response.text[:300]
        assert isinstance(response.json()["checkpoints"], list)


class TestEventIdCharacters:
    """An event id holding a control character is 422; any other unknown id is 404."""

    @pytest.mark.parametrize("event_id", ["a\x00b", "\x00", "ab\x1fcd", "x\x7f"])
    def test_a_control_character_is_refused(self, officer_client, event_id):
        """NUL and other control characters: 422, the id not echoed."""
        client, officer = officer_client

        response = client.get(
            "/v1/audit/proofs/inclusion",
            params={"event_id": event_id},
            headers=officer,
        )

        assert_refused(response, not_echoed=event_id)

    def test_an_unknown_printable_id_is_looked_up(self, officer_client):
        """A printable id that names no event: 404 `unknown_event`."""
        client, officer = officer_client

        response = client.get(
            "/v1/audit/proofs/inclusion",
            params={"event_id": "ünknown 事件"},
            headers=officer,
        )

        assert response.status_code == 404, response.text[:300]
        assert response.json()["code"] == "unknown_event"
