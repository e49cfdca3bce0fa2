"""The live decider: swapped atomically, pinned per request, old engines closed when unused."""

import asyncio
import gc
import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from rego_bundles import OBLIGATIONS, OBLIGATIONS_DATA, write_bundle

from adapters.rego.bundle import load_bundle
from adapters.rego.decider import RegorusDecider
from governance.errors import PolicyEngineUnavailable
from governance.policy.live import LiveDecider, pin
from governance.types import Obligation

INPUT = {
    "caller": {"name": "sms", "role": "service", "purposes": ["marketing_push"]},
    "purpose": {"name": "marketing_push"},
    "fields": [{"name": "mobile", "category": "contact.phone", "sensitive": False}],
}


@pytest.fixture
def bundles(tmp_path: Path) -> tuple[Path, Path]:
    """Two bundles: `a` keeps the mobile for marketing, `b` masks it."""
    masked = {**OBLIGATIONS_DATA, "by_purpose": {}}
    return (
        write_bundle(tmp_path / "a"),
        write_bundle(tmp_path / "b", {OBLIGATIONS: json.dumps(masked)}),
    )


def engine(root: Path) -> RegorusDecider:
    """A real regorus engine over the bundle at `root`."""
    return RegorusDecider(load_bundle(root))


class Suspending:
    """A real engine that waits for `go` before deciding, as a sidecar call would."""

    def __init__(self, inner: RegorusDecider) -> None:
        self.inner = inner
        self.go = asyncio.Event()
        self.closed = False

    @property
    def revision(self) -> str:
        return self.inner.revision

    async def decide(self, policy_input):
        await self.go.wait()
        return await self.inner.decide(policy_input)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


class TestSwap:
    def test_after_swap_decisions_name_the_new_revision(self, bundles):
        """The next decision after a swap is taken by the new bundle, under its revision."""
        a, b = bundles

        async def scenario():
            live = LiveDecider(engine(a), cache_size=16)
            before = await live.decide(INPUT)
            previous = live.swap(engine(b))
            after = await live.decide(INPUT)
            live.close()
            return before, previous, after

        before, previous, after = asyncio.run(scenario())

        assert previous == before.revision == load_bundle(a).revision
        assert after.revision == load_bundle(b).revision
        assert (before.obligations["mobile"], after.obligations["mobile"]) == (
            Obligation.KEEP,
            Obligation.MASK,
        )

    def test_when_nothing_uses_the_old_engine_then_swap_closes_it(self, bundles):
        """An engine no request uses is closed at the swap: it decides no more."""
        a, b = bundles

        async def scenario():
            old = engine(a)
            live = LiveDecider(old, cache_size=16)
            live.swap(engine(b))
            retired = live.retired
            with pytest.raises(PolicyEngineUnavailable, match="closed"):
                await old.decide(INPUT)
            live.close()
            return retired

        assert asyncio.run(scenario()) == 0

    def test_a_decision_running_during_a_swap_finishes_on_its_engine(self, bundles):
        """A decision that started before the swap gets the old bundle's answer, then
        the old engine is closed."""
        a, b = bundles

        async def scenario():
            old = Suspending(engine(a))
            live = LiveDecider(old, cache_size=16)
            running = asyncio.create_task(live.decide(INPUT))
            await asyncio.sleep(0)
            live.swap(engine(b))
            closed_during = old.closed
            old.go.set()
            decision = await running
            live.close()
            return closed_during, decision, old.closed

        closed_during, decision, closed_after = asyncio.run(scenario())

        assert (closed_during, closed_after) == (False, True)
        assert decision.revision == load_bundle(a).revision


class TestPin:
    def test_a_pinned_decider_keeps_its_revision_across_a_swap(self, bundles):
        """Every decision through a pin uses the bundle in force when it was pinned."""
        a, b = bundles

        async def scenario():
            live = LiveDecider(engine(a), cache_size=16)
            pinned = pin(live)
            live.swap(engine(b))
            held = await pinned.decide(INPUT)
            current = await live.decide(INPUT)
            retired = live.retired
            live.close()
            return held, current, retired

        held, current, retired = asyncio.run(scenario())

        assert held.revision == load_bundle(a).revision
        assert held.obligations["mobile"] is Obligation.KEEP
        assert current.revision == load_bundle(b).revision
        assert retired == 1

    def test_when_the_pin_is_dropped_then_the_old_engine_is_closed(self, bundles):
        """Dropping the last pin of a replaced engine closes it on the loop."""
        a, b = bundles

        async def scenario():
            old = engine(a)
            live = LiveDecider(old, cache_size=16)
            pinned = pin(live)
            live.swap(engine(b))
            del pinned
            gc.collect()
            await asyncio.sleep(0)
            retired = live.retired
            with pytest.raises(PolicyEngineUnavailable, match="closed"):
                await old.decide(INPUT)
            live.close()
            return retired

        assert asyncio.run(scenario()) == 0

    def test_pin_of_a_plain_decider_is_the_decider(self, bundles):
        """A decider that cannot be swapped is its own pin."""
        plain = engine(bundles[0])

        assert pin(plain) is plain
        plain.close()


def test_decisions_are_cached_per_revision(bundles):
    """A decision cached under one revision is never served under the next one."""
    a, b = bundles

    async def scenario():
        live = LiveDecider(engine(a), cache_size=16)
        await live.decide(INPUT)
        live.swap(engine(b))
        decision = await live.decide(INPUT)
        live.close()
        return decision

    assert asyncio.run(scenario()).obligations["mobile"] is Obligation.MASK


def test_the_revision_gauge_follows_the_engine_in_force(bundles):
    """`govproxy_policy_revision_info` is 1 for the revision deciding now, 0 once replaced."""
    a, b = (load_bundle(root).revision for root in bundles)

    def gauges():
        return tuple(
            REGISTRY.get_sample_value("govproxy_policy_revision_info", {"revision": r})
            for r in (a, b)
        )

    async def scenario():
        live = LiveDecider(engine(bundles[0]), cache_size=16)
        first = gauges()
        live.swap(engine(bundles[1]))
        swapped = gauges()
        live.close()
        return first, swapped, gauges()

    first, swapped, closed = asyncio.run(scenario())

    assert (first[0], swapped, closed[1]) == (1, (0, 1), 0)
