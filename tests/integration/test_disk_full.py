"""Disk full under the SQLite default: 503, nothing half-written, recovery once space is freed.

The demo deployment lives on a small tmpfs of its own (`mount -t tmpfs`, which
needs root: without the permission the test is skipped, saying so), served by
`govproxy serve`. A filler file then takes every free byte, so the next commit
of the governance store cannot grow its write-ahead log and SQLite reports
SQLITE_FULL, as on a real full disk. Reads and consent changes must be refused
with 503 `dependency_unavailable`, none of them may leave an audit or consent
event behind, and once the filler is deleted the same process serves and
records again, the trail verifying.
"""

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from accounting import stored
from factories import auth, subjects
from served import READ, demo_copy, keys_of, proxy_env, serving

DISK = "6m"  # the demo store is about 1 MiB
CHUNK = 64 * 1024
GRANT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "declared_frequency": "4/month",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
}


@contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A tmpfs of `DISK` mounted at `where`; skips when mounting is not permitted."""
    where.mkdir()
    mounted = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(where)],  # noqa: S607
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], timeout=10, check=False)  # noqa: S603, S607


def fill(disk: Path) -> Path:
    """Write a filler file until the disk has no byte left; return it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (CHUNK, 4096):  # then the last pages
            with suppress(OSError):  # ENOSPC: nothing more fits
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def consent_events(folder: Path, subject: str) -> int:
    """How many consent events the store holds for `subject`."""
    with closing(sqlite3.connect(folder / "governance.db")) as db:
        sql = "SELECT count(*) FROM consent_events WHERE subject_id = ?"
        return int(db.execute(sql, (subject,)).fetchone()[0])


@pytest.fixture(scope="module")
def disk_full(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Requests before, while and after the store's disk is full."""
    root = tmp_path_factory.mktemp("disk-full")
    with (
        small_disk(root / "disk") as disk,
        demo_copy(demo_template, disk, "sqlite") as (folder, url),
        serving(folder, proxy_env(url), root / "serve.log") as (_, base),
        httpx.Client(base_url=base, timeout=15) as http,
    ):
        keys, adults = keys_of(folder), subjects(folder, minor=False)
        read = READ.format(subject=adults[0])
        reader = auth(keys["brand-app"], "order_fulfilment")
        consents = f"/v1/subjects/{adults[1]}/consents"
        seen: dict[str, Any] = {"before": http.get(read, headers=reader)}
        seen["consents_before"] = consent_events(folder, adults[1])
        filler = fill(disk)
        seen["reads_full"] = [http.get(read, headers=reader) for _ in range(3)]
        seen["grant_full"] = http.post(
            consents, json=GRANT, headers=auth(keys["brand-app"])
        )
        seen["consents_full"] = consent_events(folder, adults[1])
        filler.unlink()
        seen["read_after"] = http.get(read, headers=reader)
        seen["grant_after"] = http.post(
            consents, json=GRANT, headers=auth(keys["brand-app"])
        )
        seen["consents_after"] = consent_events(folder, adults[1])
        seen["events"], seen["report"] = asyncio.run(stored(url))
        yield seen


class TestDiskFull:
    """A full disk fails writes closed; freeing space heals the same process."""

    def test_reads_and_consent_changes_get_503_while_the_disk_is_full(self, disk_full):
        """Every read and the grant answer 503 dependency_unavailable, no record."""
        refused = [*disk_full["reads_full"], disk_full["grant_full"]]

        assert disk_full["before"].status_code == 200
        assert [r.status_code for r in refused] == [503] * len(refused)
        assert {r.json()["code"] for r in refused} == {"dependency_unavailable"}
        assert all("record" not in r.json() for r in refused)

    def test_nothing_refused_was_stored(self, disk_full):
        """No audit event of a refused request, no consent event of the refused grant."""
        refused = {r.headers["X-Decision-Id"] for r in disk_full["reads_full"]}
        refused.add(disk_full["grant_full"].headers["X-Decision-Id"])

        assert refused.isdisjoint(e.decision_id for e in disk_full["events"])
        assert disk_full["consents_full"] == disk_full["consents_before"]

    def test_once_space_is_freed_the_same_process_serves_and_records(self, disk_full):
        """The next read and grant succeed, and the trail verifies."""
        assert disk_full["read_after"].status_code == 200
        assert disk_full["grant_after"].status_code == 201
        assert disk_full["consents_after"] == disk_full["consents_before"] + 1
        assert disk_full["report"].ok, disk_full["report"]
