"""`govproxy serve` with one worker, as a container runs it, stopped with SIGTERM."""

import json
import os
import shutil
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx2 as httpx
from factories import auth, subjects
from served import serving

EXIT_S = 15.0


def test_sigterm_after_serving_ends_the_command_with_status_0(
    demo_template: Path, tmp_path: Path
):
    """Drained, audited, and exit 0 (not 143), as `docker stop` and systemd expect."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    keys = {
        c["name"]: c["key"]
        for c in json.loads((folder / "demo-credentials.json").read_text())
    }
    sid = subjects(folder, minor=False)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOV_")}
    with serving(folder, env, tmp_path / "serve.log", workers=1) as (proc, base):
        read = httpx.get(
            f"{base}/v1/datasets/customers/records/{sid}",
            headers=auth(keys["brand-app"], "order_fulfilment"),
        )
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=EXIT_S)
    with closing(sqlite3.connect(folder / "governance.db")) as conn:
        (audited,) = conn.execute(
            "SELECT count(*) FROM audit_events WHERE kind = 'access.read'"
        ).fetchone()

    assert read.status_code == 200
    assert code == 0
    assert audited == 1
