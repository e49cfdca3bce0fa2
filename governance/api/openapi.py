"""What `/openapi.json` says beyond FastAPI's own: problem answers and the bearer key.

Every refusal is RFC 9457 `application/problem+json` with a stable `code`
(`governance.api.problems`), so each operation declares `4XX` and `5XX` as a
`Problem`, in place of FastAPI's default 422 body, which the proxy never
sends. Every `/v1/` operation takes `Authorization: Bearer <key>`; which role it
needs is in the README's API table.
"""

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from governance.api.problems import PROBLEM_JSON


class Problem(BaseModel):
    """Why the request was refused (RFC 9457)."""

    type: str
    title: str
    status: int
    code: str = Field(description="Stable; the README's error table lists each.")
    detail: str = Field(description="For people; never holds a personal value.")
    decision_id: str | None = None
    reasons: list[str] | None = Field(None, description="policy_denied: why.")
    errors: list[dict[str, str]] | None = Field(
        None, description="invalid_request: where the body or query is wrong."
    )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": f"Refused ({status}): a problem."}
    for status in ("4XX", "5XX")
}
BEARER = "bearer"


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` declare problems as problem+json and the bearer key."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema["components"]["securitySchemes"] = {
            BEARER: {"type": "http", "scheme": "bearer", "description": "A caller key."}
        }
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                for status in PROBLEM_RESPONSES:
                    # FastAPI files the model under the route's own media type
                    answer = operation["responses"][status]
                    answer["content"] = {PROBLEM_JSON: _first(answer["content"])}
                if path.startswith("/v1/"):
                    operation["security"] = [{BEARER: []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _first(content: dict[str, Any]) -> Any:
    return next(iter(content.values()))
