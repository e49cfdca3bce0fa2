"""The embedded engine: the shipped bundle decides; anything malformed denies."""

import asyncio
import shutil
from pathlib import Path

import pytest
from factories import POLICY_INPUT

from adapters.rego.bundle import load_bundle
from adapters.rego.decider import RegorusDecider, to_decision
from governance.errors import ConfigurationError, PolicyEngineUnavailable
from governance.policy.decide import CachingDecider
from governance.types import Obligation

POLICIES = Path(__file__).resolve().parents[2] / "policies"
INPUT = POLICY_INPUT


def decide(decider, policy_input):
    """Run one decision to completion."""
    return asyncio.run(decider.decide(policy_input))


def test_shipped_bundle_allows_and_obliges():
    """A consented adult's phone for marketing is allowed and kept, under the bundle revision."""
    bundle = load_bundle(POLICIES)
    decider = RegorusDecider(bundle)

    decision = decide(decider, INPUT)

    assert decision.allow
    assert decision.obligations == {"mobile": Obligation.KEEP}
    assert decision.revision == bundle.revision
    decider.close()


@pytest.mark.parametrize(
    "result",
    [
        None,
        [],
        {"allow": "yes", "reasons": [], "obligations": {}},
        {"allow": True, "reasons": [1], "obligations": {}},
        {"allow": True, "reasons": [], "obligations": {"mobile": "publish"}},
        {"allow": True, "reasons": []},
    ],
    ids=[
        "undefined",
        "not-object",
        "allow-not-bool",
        "reason-not-str",
        "unknown-obligation",
        "no-obligations",
    ],
)
def test_when_result_malformed_then_engine_unavailable(result):
    """A decision the engine did not shape correctly is never read as an allow."""
    with pytest.raises(PolicyEngineUnavailable):
        to_decision(result, "rev")


def test_when_allow_true_but_reasons_then_denied():
    """Reasons always win over a contradictory allow."""
    assert not to_decision(
        {"allow": True, "reasons": ["x"], "obligations": {}}, "rev"
    ).allow


def test_when_bundle_has_no_decision_then_every_access_is_unavailable(tmp_path):
    """A bundle without the decision rule fails closed."""
    (tmp_path / "p.rego").write_text("package other\n\nx := 1\n", encoding="utf-8")

    decider = RegorusDecider(load_bundle(tmp_path))

    with pytest.raises(PolicyEngineUnavailable):
        decide(decider, INPUT)
    decider.close()


def test_when_bundle_does_not_parse_then_configuration_error(tmp_path):
    """A syntax error stops startup with the bundle named."""
    shutil.copytree(POLICIES, tmp_path / "b")
    (tmp_path / "b" / "broken.rego").write_text(
        "package governance.broken\n\nx := {\n", "utf-8"
    )

    with pytest.raises(ConfigurationError, match="does not load"):
        RegorusDecider(load_bundle(tmp_path / "b"))


def test_bundle_revision_changes_with_content(tmp_path):
    """Editing any policy file gives a new revision."""
    shutil.copytree(POLICIES, tmp_path / "b")
    before = load_bundle(tmp_path / "b").revision
    data = tmp_path / "b" / "governance" / "obligations" / "data.json"
    data.write_text(data.read_text("utf-8").replace('"keep"', '"mask"', 1), "utf-8")

    assert load_bundle(tmp_path / "b").revision != before


def test_decision_cache_asks_engine_once_per_shape():
    """Equal inputs are decided once; a different shape is decided again."""

    class Counting:
        revision = "r1"
        calls = 0

        async def decide(self, policy_input):
            Counting.calls += 1
            return to_decision({"allow": True, "reasons": [], "obligations": {}}, "r1")

    cache = CachingDecider(Counting(), size=8)
    decide(cache, INPUT)
    decide(cache, INPUT)
    decide(cache, INPUT | {"subject": {"minor": True}})

    assert Counting.calls == 2
