"""The embedded policy engine: the bundle evaluated in process by regorus.

One engine per process, reused (regorus is not thread-safe and holds the GIL, so
it runs on the event loop). Any engine error, an undefined result or a result
of the wrong shape raises `PolicyEngineUnavailable`: the pipeline denies.
"""

from typing import Any

import orjson

from adapters.rego.bundle import Bundle
from governance.errors import PolicyEngineUnavailable
from governance.types import Decision, Obligation

DECISION_RULE = "data.governance.access.decision"


class RegorusDecider:
    """Decides with the bundle's `governance.access.decision` rule."""

    def __init__(self, bundle: Bundle) -> None:
        self._engine = bundle.engine()
        self._revision = bundle.revision

    @property
    def revision(self) -> str:
        """The bundle revision every decision is taken under."""
        return self._revision

    def close(self) -> None:
        """Drop the engine now, on this thread.

        regorus engines are "unsendable": dropping one on a thread other than
        the one that made it aborts, so the owner closes it where it was made
        instead of leaving it to the garbage collector.
        """
        self._engine = None

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        """Evaluate the decision rule for `policy_input`."""
        if self._engine is None:
            raise PolicyEngineUnavailable("policy engine is closed")
        try:
            self._engine.set_input_json(orjson.dumps(policy_input).decode())
            result = self._engine.eval_rule(DECISION_RULE)
        except Exception as exc:
            raise PolicyEngineUnavailable(
                f"policy engine failed ({type(exc).__name__})"
            ) from None
        return to_decision(result, self._revision)


def to_decision(result: Any, revision: str) -> Decision:
    """Check the rule's output shape and turn it into a `Decision`."""
    if not isinstance(result, dict):
        raise PolicyEngineUnavailable("policy returned no decision")
    allow, reasons, obligations = (
        result.get("allow"),
        result.get("reasons"),
        result.get("obligations"),
    )
    valid = {o.value for o in Obligation}
    if (
        not isinstance(allow, bool)
        or not isinstance(reasons, list)
        or not all(isinstance(r, str) for r in reasons)
        or not isinstance(obligations, dict)
        or not all(isinstance(v, str) and v in valid for v in obligations.values())
    ):
        raise PolicyEngineUnavailable("policy returned a malformed decision")
    return Decision(
        allow=allow and not reasons,
        reasons=tuple(reasons),
        obligations={k: Obligation(v) for k, v in obligations.items()},
        revision=revision,
    )
