"""The OPA-sidecar engine: same decisions as the embedded one; every fault denies.

The sidecar is `tests/opa_server.py`: OPA's Data API over a real HTTP socket,
evaluated by the real OPA engine, or answering as a broken sidecar would.
"""

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from factories import POLICY_INPUT
from opa_server import Mode, OpaTestServer, closed_port_url, require_opa_engine

from adapters.opa.decider import OpaDecider
from adapters.rego.bundle import load_bundle
from adapters.rego.decider import RegorusDecider
from governance.catalog import Purpose, load_catalog
from governance.consent.ledger import NO_CONSENT, ConsentRecord
from governance.demo.setup import DEMO_CALLERS
from governance.errors import PolicyEngineUnavailable
from governance.policy.input import build_policy_input
from governance.ports import PolicyDecider
from governance.types import ConsentState, Decision, Principal

ROOT = Path(__file__).resolve().parents[3]
POLICIES = ROOT / "policies"
CATALOG = load_catalog(ROOT / "governance" / "demo" / "catalog.yaml")
REVISION = load_bundle(POLICIES).revision
TIMEOUT_MS = 200
GENEROUS_MS = 5_000

INPUT = POLICY_INPUT


def consents(purpose: Purpose) -> list[ConsentRecord]:
    """None, withdrawn, granted as the current notice asks, granted by a guardian."""
    notice = CATALOG.current_notice(purpose.name)
    scope = notice.categories if notice else purpose.categories
    kind = notice.kind if notice else "general"
    return [
        NO_CONSENT,
        ConsentRecord(ConsentState.WITHDRAWN),
        ConsentRecord(ConsentState.GRANTED, kind=kind, grantor="self", scope=scope),
        ConsentRecord(
            ConsentState.GRANTED, kind="guardian", grantor="guardian", scope=scope
        ),
    ]


def demo_accesses() -> list[dict[str, Any]]:
    """Policy inputs of the demo: each caller, purpose, consent, age, field and tag choice."""
    dataset = CATALOG.datasets["customers"]
    facts = dataset.fields
    shapes = [
        (list(facts.values()), False, []),
        ([facts["mobile"], facts["bank_card"]], True, []),
        ([facts["nickname"]], True, [CATALOG.tags["高消费"], CATALOG.tags["母婴"]]),
        ([facts["nickname"]], True, [CATALOG.tags["孕期"]]),
    ]
    callers = [Principal(name, role, frozenset(ps)) for name, role, ps in DEMO_CALLERS]
    return [
        build_policy_input(
            principal=caller,
            purpose=purpose,
            dataset=dataset.name,
            fields=fields,
            explicit_fields=explicit,
            tags=tags,
            consent=consent,
            minor=minor,
        )
        for caller in callers[:3]
        for purpose in CATALOG.purposes.values()
        for consent in consents(purpose)
        for minor in (False, True, None)
        for fields, explicit, tags in shapes
    ]


async def _decide_all(decider: Any, inputs: list[dict[str, Any]]) -> list[Decision]:
    return [await decider.decide(i) for i in inputs]


def decide_with_opa(
    url: str, inputs: list[dict[str, Any]], timeout_ms: int = TIMEOUT_MS
) -> list[Decision]:
    """Decisions of a fresh OpaDecider at `url`, one request per input."""

    async def run() -> list[Decision]:
        async with OpaDecider(url, timeout_ms=timeout_ms, revision=REVISION) as opa:
            return await _decide_all(opa, inputs)

    return asyncio.run(run())


def unavailable_reason(url: str, policy_input: Any = INPUT) -> str:
    """The message of the PolicyEngineUnavailable one decision at `url` raises."""
    with pytest.raises(PolicyEngineUnavailable) as caught:
        decide_with_opa(url, [policy_input])
    return str(caught.value)


class TestDecisions:
    """Through the sidecar, the bundle decides as it does in process."""

    def test_same_decisions_as_regorus_on_the_demo_accesses(self, sidecar):
        """Allow, reasons, obligations and revision match for every demo access."""
        inputs = demo_accesses()
        regorus = RegorusDecider(load_bundle(POLICIES))
        expected = asyncio.run(_decide_all(regorus, inputs))
        regorus.close()

        # The equality check is not a latency test: a generous timeout, so a
        # busy machine (the engine's first evaluation, a Go collection) cannot fail it.
        decisions = decide_with_opa(sidecar.url, inputs, timeout_ms=GENEROUS_MS)

        assert len(inputs) >= 500
        assert decisions == expected
        assert {d.allow for d in decisions} == {True, False}
        assert len(sidecar.paths) == len(inputs)

    def test_asks_the_decision_document_with_strict_builtin_errors(self, sidecar):
        """One POST to the decision path; a failing built-in is an error, not undefined."""
        [decision] = decide_with_opa(sidecar.url, [INPUT], timeout_ms=GENEROUS_MS)

        assert decision.allow
        assert decision.revision == REVISION
        assert sidecar.paths == [
            "/v1/data/governance/access/decision?strict-builtin-errors=true"
        ]

    def test_is_a_policy_decider(self):
        """It satisfies the port the pipeline depends on."""
        decider = OpaDecider("http://127.0.0.1:8181", timeout_ms=100, revision="r")

        assert isinstance(decider, PolicyDecider)


FAULTS = {
    "slow": (Mode.SLOW, f"policy sidecar did not answer within {TIMEOUT_MS} ms"),
    "not-json": (Mode.NOT_JSON, "policy sidecar answered something that is not JSON"),
    "html-page": (Mode.HTML, "policy sidecar answered something that is not JSON"),
    "not-an-object": (Mode.NOT_OBJECT, "policy sidecar answered a non-object"),
    "http-500": (Mode.SERVER_ERROR, "policy sidecar answered HTTP 500"),
    "undefined": (
        Mode.UNDEFINED,
        "policy sidecar has no decision for this access (undefined)",
    ),
    "wrong-shape": (Mode.WRONG_SHAPE, "policy returned no decision"),
    "non-boolean-allow": (
        Mode.NON_BOOLEAN_ALLOW,
        "policy returned a malformed decision",
    ),
}


class TestFaults:
    """A sidecar that cannot give a well-formed decision in time denies, saying why."""

    @pytest.mark.parametrize(("mode", "reason"), FAULTS.values(), ids=list(FAULTS))
    def test_when_sidecar_misbehaves_then_unavailable_with_reason(
        self, sidecar, mode, reason
    ):
        """An access the bundle allows is refused with the fault named."""
        sidecar.mode = mode

        assert unavailable_reason(sidecar.url) == reason

    def test_when_sidecar_is_down_then_unavailable(self):
        """Connection refused: the sidecar is named unreachable."""
        assert unavailable_reason(closed_port_url()) == (
            "policy sidecar is unreachable (ClientConnectorError)"
        )

    def test_when_sidecar_is_slow_then_the_wait_is_bounded(self, sidecar):
        """A sidecar that hangs costs about the timeout, not the sidecar's delay."""
        sidecar.mode = Mode.SLOW
        started = time.monotonic()

        unavailable_reason(sidecar.url)

        assert time.monotonic() - started < sidecar.slow_s / 2

    def test_when_sidecar_recovers_then_the_same_decider_decides_again(self, sidecar):
        """After timeouts and garbage, the next good answer is used: no sticky state."""

        async def run() -> list[object]:
            outcomes: list[object] = []
            async with OpaDecider(
                sidecar.url, timeout_ms=TIMEOUT_MS, revision=REVISION
            ) as opa:
                for mode in (Mode.SLOW, Mode.NOT_JSON, Mode.OK):
                    sidecar.mode = mode
                    try:
                        outcomes.append((await opa.decide(INPUT)).allow)
                    except PolicyEngineUnavailable:
                        outcomes.append("unavailable")
            return outcomes

        assert asyncio.run(run()) == ["unavailable", "unavailable", True]

    def test_when_bundle_fails_at_evaluation_then_unavailable(self, tmp_path):
        """A built-in error in the sidecar's bundle is a 500 there and a denial here."""
        require_opa_engine()
        bundle = tmp_path / "policies"
        shutil.copytree(POLICIES, bundle)
        rule = bundle / "governance" / "access" / "access.rego"
        text = rule.read_text(encoding="utf-8")
        rule.write_text(
            text.replace(
                "} if {\n\t_well_formed\n}",
                '} if {\n\t_well_formed\n\tconcat(",", input.purpose)\n}',
            ),
            encoding="utf-8",
        )

        with OpaTestServer(bundle) as broken:
            assert unavailable_reason(broken.url) == "policy sidecar answered HTTP 500"

    def test_when_not_opened_then_unavailable(self):
        """A decider used outside its context has no session and decides nothing."""
        decider = OpaDecider("http://127.0.0.1:8181", timeout_ms=100, revision="r")

        with pytest.raises(PolicyEngineUnavailable, match="not open"):
            asyncio.run(decider.decide(INPUT))
