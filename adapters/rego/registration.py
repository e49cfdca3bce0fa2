"""The bundle's tag registration rule as a `TagScreen` for the catalog loader (S-03).

Evaluates `data.governance.tags.registration` with input `{"tags": [name]}` on a
fresh engine of the bundle, made and dropped on the calling thread. An engine
error, an undefined or malformed result, or the rule's own `error` is a
`ConfigurationError`: a catalog that cannot be screened does not load.
"""

from collections.abc import Mapping, Sequence
from typing import TypeGuard

import orjson

from adapters.rego.bundle import Bundle
from governance.errors import ConfigurationError

REGISTRATION_RULE = "data.governance.tags.registration"


class RegoTagScreen:
    """Screens tag names with the bundle's registration rule."""

    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle

    def __call__(self, names: Sequence[str]) -> Mapping[str, Sequence[str]]:
        """Each rejected name with what it matched (`group:term`)."""
        result = self._evaluate(names)
        if result is None:
            raise self._fault("the rule is undefined")
        if not isinstance(result, dict):
            raise self._fault("the rule gave a malformed answer")
        if result.get("error") is not None:
            raise self._fault(str(result["error"]))
        rejected, valid = result.get("rejected"), result.get("valid")
        if not _findings(rejected) or valid is not (not rejected):
            raise self._fault("the rule gave a malformed answer")
        return {n: list(rejected[n]) for n in names if n in rejected}

    def _evaluate(self, names: Sequence[str]) -> object:
        """The rule's answer; the engine is dropped here before any error is raised
        (an "unsendable" engine kept by a traceback may be freed on another thread)."""
        engine = self._bundle.engine()
        try:
            engine.set_input_json(orjson.dumps({"tags": list(names)}).decode())
            return engine.eval_rule(REGISTRATION_RULE)
        except Exception as exc:
            failure = type(exc).__name__
        del engine
        raise self._fault(f"the rule failed ({failure})")

    def _fault(self, what: str) -> ConfigurationError:
        return ConfigurationError(
            f"{self._bundle.root}: cannot screen tag names with {REGISTRATION_RULE}:"
            f" {what}"
        )


def _findings(value: object) -> TypeGuard[dict[str, list[str]]]:
    return isinstance(value, dict) and all(
        isinstance(found, list) and all(isinstance(f, str) for f in found)
        for found in value.values()
    )
