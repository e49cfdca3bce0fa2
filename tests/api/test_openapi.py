"""`/openapi.json` describes the answers the proxy really gives, and how to authenticate."""

import pytest


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").json()


def operations(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_declares_its_refusals_as_problem_json(client, spec):
    """4XX and 5XX are problem+json Problems, and no FastAPI 422 body is promised."""
    refused = client.post("/v1/datasets/customers/query", json={"limit": True})

    for path, method, operation in operations(spec):
        responses = operation["responses"]
        for status in ("4XX", "5XX"):
            assert list(responses[status]["content"]) == ["application/problem+json"], (
                path,
                method,
            )
        assert "422" not in responses, (path, method)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert refused.headers["content-type"] == "application/problem+json"
    assert set(refused.json()) <= set(
        spec["components"]["schemas"]["Problem"]["properties"]
    )


def test_api_operations_take_the_bearer_key_and_open_ones_do_not(spec):
    """Every /v1/ operation names the bearer scheme; health and metrics need none."""
    scheme = spec["components"]["securitySchemes"]["bearer"]
    secured = {
        (path, method)
        for path, method, operation in operations(spec)
        if operation.get("security") == [{"bearer": []}]
    }
    every = {(path, method) for path, method, _ in operations(spec)}

    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert secured == {(p, m) for p, m in every if p.startswith("/v1/")}
    assert ("/healthz", "get") in every - secured
