"""A policy bundle directory on disk, checked and loaded for regorus (`PolicyBundles`)."""

from collections.abc import Callable
from functools import partial
from pathlib import Path

from adapters.rego.bundle import Bundle, bundle_digest, bundle_revision, load_bundle
from adapters.rego.lint import check_bundle
from governance.catalog import Catalog
from governance.policy.bundles import BundleRead, Finding
from governance.policy.live import ClosableDecider


class RegoBundleDirectory:
    """The bundle under `root`; `build` makes the engine of a loaded bundle."""

    def __init__(self, root: Path, build: Callable[[Bundle], ClosableDecider]) -> None:
        self._root, self._build = root, build

    @property
    def location(self) -> str:
        """The directory, as findings name it."""
        return str(self._root)

    def digest(self) -> str:
        """A digest of every bundle file (`bundle_digest`)."""
        return bundle_digest(self._root)

    def read(self, catalog: Catalog) -> BundleRead:
        """Check against `catalog` and load; the digest is None if the files changed meanwhile.

        `check_bundle` lints, smoke-evaluates and runs the bundle's own `test_`
        rules (a failing one is a `test_failed` finding, so the bundle is
        rejected). It builds and drops its own engines in the calling thread
        (the reloader's worker thread: the tests add ~0.3 s to a check of the
        shipped bundle); nothing of them leaves it. A checker fault is a
        finding: it must not pass a bundle.
        """
        digest = bundle_digest(self._root)
        try:
            findings = check_bundle(self._root, catalog)
        except Exception as exc:  # a checker fault must not pass a bundle
            findings = [
                Finding(self.location, None, "check_failed", type(exc).__name__)
            ]
        revision = bundle_revision(self._root)
        try:
            bundle: Bundle | None = load_bundle(self._root)
        except (ValueError, OSError) as exc:  # ConfigurationError is a ValueError
            findings.append(Finding(self.location, None, "load_error", str(exc)))
            bundle = None
        unchanged = bundle_digest(self._root) == digest
        return BundleRead(
            digest if unchanged else None,
            findings,
            revision,
            None if bundle is None else partial(self._build, bundle),
        )
