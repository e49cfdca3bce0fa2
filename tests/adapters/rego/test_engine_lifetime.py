"""An error from the embedded engine does not keep the engine alive.

regorus engines may only be freed on the thread that made them. An engine kept
by an error's traceback lives as long as the error; when the error sits in a
reference cycle, the garbage collector frees it on whatever thread it runs on,
and regorus refuses that (the engine leaks, with an "unsendable" error, which
failed an unrelated test in CI).
"""

import shutil
from pathlib import Path
from types import TracebackType

import pytest
import regorus

from adapters.rego.bundle import load_bundle
from adapters.rego.registration import RegoTagScreen
from governance.errors import ConfigurationError

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def engines_held_by(exc: BaseException) -> list[object]:
    """The regorus engines that the frames of `exc`'s traceback (and its context's) hold."""
    held: list[object] = []
    seen: BaseException | None = exc
    while seen is not None:
        tb: TracebackType | None = seen.__traceback__
        while tb is not None:
            held += [
                v
                for v in tb.tb_frame.f_locals.values()
                if isinstance(v, regorus.Engine)
            ]
            tb = tb.tb_next
        seen = seen.__context__
    return held


def test_a_bundle_that_does_not_load_raises_without_its_engine(tmp_path):
    """The error names the bundle; the half-built engine is already gone."""
    (tmp_path / "broken.rego").write_text("package broken\n\nx := {\n", "utf-8")

    with pytest.raises(ConfigurationError, match="does not load") as caught:
        load_bundle(tmp_path).engine()

    assert engines_held_by(caught.value) == []


@pytest.mark.parametrize(
    "damage",
    [
        # the rule is missing: the engine answers "undefined"
        lambda root: shutil.rmtree(root / "governance" / "tags"),
        # the rule's word list is missing: the rule answers with an error
        lambda root: (root / "governance" / "tag_names" / "data.json").unlink(),
    ],
    ids=["undefined", "rule-error"],
)
def test_a_tag_screen_that_cannot_decide_raises_without_its_engine(tmp_path, damage):
    """The screen fails closed, and its engine is freed here, not by a later collection."""
    root = tmp_path / "policies"
    shutil.copytree(POLICIES, root)
    damage(root)

    with pytest.raises(ConfigurationError, match="cannot screen") as caught:
        RegoTagScreen(load_bundle(root))(["宠物"])

    assert engines_held_by(caught.value) == []
