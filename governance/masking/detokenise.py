"""Detokenising: tokens back to values, for a purpose allowed to, audited like a read.

`detokenise(services, trail, principal=…, purpose_name=…, tokens=[…])` answers
`{"values": [...], "decision_id"}` with the values in the order of the tokens.
The checks, in order, each failing the whole request:

1. the caller is a service acting for a declared purpose it holds (401/403/422);
2. the purpose has `detokenise: true` in the catalog (403
   `detokenise_not_permitted`);
3. every token opens in the purpose's pseudonym domain (422 `invalid_request`
   naming the token's position, never the token): a token of another domain,
   altered, forged or of an unknown key version does not;
4. every token's category is one the purpose may use (403
   `detokenise_not_permitted`, reasons `category_not_permitted:<category>`).

A token names no subject, so no consent is checked: allowing a purpose to
detokenise is the catalog's decision. The audit event (`access.detokenise`)
records how many tokens were sent and how many of each category opened; never
a token or a value.
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any

from governance.errors import DetokeniseNotPermitted, InvalidRequest
from governance.masking.operators.tokenise import Detokenised, TokenError, Tokenise
from governance.pipeline import require_role, resolve_purpose
from governance.services import Services
from governance.trail import Trail
from governance.types import Principal, Role


def detokenise(
    services: Services,
    trail: Trail,
    *,
    principal: Principal | None,
    purpose_name: str | None,
    tokens: Sequence[str],
) -> dict[str, Any]:
    """Open `tokens` for the purpose, after the checks in the module docstring."""
    caller = require_role(principal, Role.SERVICE)
    trail.caller = caller.name
    purpose = resolve_purpose(services.catalog, caller, purpose_name, trail)
    trail.detail["tokens"] = len(tokens)
    if not purpose.detokenise:
        raise DetokeniseNotPermitted("this purpose may not turn tokens into values")
    tokeniser = services.operators.tokeniser(purpose.name)
    opened = [_open(tokeniser, i, token) for i, token in enumerate(tokens)]
    categories = Counter(d.category for d in opened)
    trail.detail["categories"] = dict(sorted(categories.items()))
    usable = purpose.categories | purpose.sensitive_categories
    outside = sorted(c for c in categories if c not in usable)
    if outside:
        raise DetokeniseNotPermitted(
            "the purpose may not use what some tokens stand for",
            reasons=tuple(f"category_not_permitted:{c}" for c in outside),
        )
    return {"values": [d.value for d in opened], "decision_id": trail.decision_id}


def _open(tokeniser: Tokenise, index: int, token: str) -> Detokenised:
    try:
        return tokeniser.detokenise(token)
    except TokenError:
        raise InvalidRequest(
            f"tokens[{index}] is not a token this purpose can open"
        ) from None
