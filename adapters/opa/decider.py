"""The OPA-sidecar policy engine: the same bundle, decided by an OPA server.

`OpaDecider` asks `POST /v1/data/governance/access/decision` with `{"input": ...}`
through opa-python-client's async client (aiohttp: the event loop is never
blocked) and checks the answer with the embedded engine's `to_decision`. It is an
async context manager: the HTTP session lives between enter and exit.

Everything that is not a well-formed decision within `timeout_ms` raises
`PolicyEngineUnavailable`, so the pipeline denies (503): a refused or reset
connection, a timeout, an HTTP error, a body that is not JSON, a `{}` answer
(the decision is undefined there: wrong path or no bundle loaded) and a result
of the wrong shape. There is no retry: one slow sidecar must not double a
request's latency, and the caller may retry the denied request itself.
`strict-builtin-errors` makes OPA answer 500 where a built-in function fails,
as regorus raises, instead of silently leaving the expression undefined.

`revision` is the digest of the local bundle directory (`load_bundle`) that the
sidecar was started with (it cannot change while both run: a reload is refused,
see `governance.app`): OPA reports no revision for a bundle whose `.manifest`
names none, and the digest lets a regorus and an OPA deployment of the same
bundle record the same revision in their audit events.
"""

import asyncio
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from opa_client.opa_async import AsyncOpaClient

from adapters.rego.decider import to_decision
from governance.errors import PolicyEngineUnavailable
from governance.types import Decision

PACKAGE = "governance/access"
RULE = "decision"
_QUERY = {"strict-builtin-errors": "true"}


class OpaDecider:
    """Decides by asking an OPA server for `data.governance.access.decision`."""

    def __init__(self, url: str, *, timeout_ms: int, revision: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        self._timeout_s = timeout_ms / 1000
        self._timeout_ms = timeout_ms
        self._revision = revision
        self._open = False
        self._client: Any = AsyncOpaClient(
            host=f"[{host}]" if ":" in host else host,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            retries=0,
            timeout=self._timeout_s,
        )

    @property
    def revision(self) -> str:
        """The bundle revision every decision is taken under."""
        return self._revision

    def close(self) -> None:
        """Nothing to drop on this thread: the session closes at the context's exit."""

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        await self._client.close_connection()

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        """Ask the sidecar; raise `PolicyEngineUnavailable` unless it decided."""
        if not self._open:
            raise PolicyEngineUnavailable("policy sidecar client is not open")
        body = await self._ask(policy_input)
        if not isinstance(body, dict):
            raise PolicyEngineUnavailable("policy sidecar answered a non-object")
        if "result" not in body:
            raise PolicyEngineUnavailable(
                "policy sidecar has no decision for this access (undefined)"
            )
        return to_decision(body["result"], self._revision)

    async def _ask(self, policy_input: dict[str, Any]) -> Any:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._client.query_rule(
                    policy_input, PACKAGE, RULE, query_params=_QUERY
                )
        except TimeoutError:
            reason = f"did not answer within {self._timeout_ms} ms"
        except (aiohttp.ContentTypeError, ValueError):
            reason = "answered something that is not JSON"
        except aiohttp.ClientResponseError as exc:
            reason = f"answered HTTP {exc.status}"
        except aiohttp.ClientError as exc:
            reason = f"is unreachable ({type(exc).__name__})"
        except Exception as exc:  # fail closed on anything else the client raises
            reason = f"request failed ({type(exc).__name__})"
        raise PolicyEngineUnavailable(f"policy sidecar {reason}")
