"""The container, checked without a Docker engine.

Its settings and catalog load as shipped; hadolint passes the Dockerfile; the
compose file resolves with docker-compose (which needs no engine for `config`) and
refuses to start without its secrets; and the image's install step, run as plain
shell in a fresh venv, yields a proxy that starts and passes the image's health check.

docker-compose is Debian's package, installed by `.ci/run`: without it the compose
tests skip, and fail when `GOV_REQUIRE_SERVICES=1`. The install test takes minutes
(it resolves and installs every dependency), so it runs only under
`GOV_REQUIRE_SERVICES=1` or `GOV_TEST_IMAGE_INSTALL=1`. Both are read at import,
before `conftest.py` clears `GOV_*` for each test.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from net import free_port

from governance.catalog import load_catalog
from governance.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
CONFIG = DOCKER / "config"
DOCKERFILE = DOCKER / "Dockerfile"
REQUIRE_SERVICES = os.environ.get("GOV_REQUIRE_SERVICES") == "1"
RUN_INSTALL = REQUIRE_SERVICES or os.environ.get("GOV_TEST_IMAGE_INSTALL") == "1"
SECRETS = {
    "GOV_PG_PASSWORD": "pg-secret-in-test",
    "GOV_REDIS_PASSWORD": "redis-secret-in-test",
    "GOV_CUSTOMERS_URL": "postgresql+asyncpg://reader@crm.example/crm",
}


def test_container_settings_and_catalog_load(monkeypatch):
    """docker/config holds valid settings and a catalog reading its source from the env."""
    monkeypatch.setenv("GOV_CUSTOMERS_URL", "postgresql+asyncpg://reader@db/crm")

    settings = load_settings(CONFIG / "govproxy.yaml")
    catalog = load_catalog(settings.catalog_file)

    assert settings.server.host == "0.0.0.0"  # noqa: S104 - the container listens on all
    assert settings.keys_file.parent == Path("/var/lib/govproxy")  # the image's volume
    assert catalog.sources["demo"] == "postgresql+asyncpg://reader@db/crm"


def test_container_catalog_is_the_demo_catalog_on_another_source():
    """The image ships the demo catalog; only where customers live differs."""
    demo = (ROOT / "governance" / "demo" / "catalog.yaml").read_text("utf-8")
    shipped = (CONFIG / "catalog.yaml").read_text("utf-8")

    assert shipped == demo.replace(
        "url: sqlite+aiosqlite:///customers.db", "url: ${GOV_CUSTOMERS_URL}"
    )


def test_dockerfile_passes_hadolint(tmp_path):
    """hadolint finds nothing, with no config file, and every inline ignore says why."""
    hadolint = Path(sys.executable).parent / "hadolint"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    labels = ("title", "version", "licenses")

    result = subprocess.run(  # noqa: S603 - fixed argv
        [
            str(hadolint),
            "--no-color",
            "--format=json",
            "--failure-threshold=style",
            *(f"--require-label=org.opencontainers.image.{n}:text" for n in labels),
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # so no .hadolint.yaml of the checkout applies
        env=env,
        check=False,
    )

    findings = [
        f"{f['line']}: {f['code']} {f['message']}" for f in json.loads(result.stdout)
    ]
    assert (findings, result.returncode) == ([], 0)
    ignores = re.findall(
        r"#\s*hadolint\s+(?:global\s+)?ignore=\S+(.*)", DOCKERFILE.read_text()
    )
    assert all(reason.strip(" -") for reason in ignores), (
        "an ignored rule needs a reason"
    )


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        reason = "docker-compose is not installed (.ci/run installs Debian's package)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason}; GOV_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(reason)
    return found


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [_docker_compose(), "-f", str(DOCKER / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **env},
        check=False,
        timeout=60,
    )


def test_compose_file_resolves_to_the_deployment():
    """docker-compose accepts the file: every service is health-checked and limited,
    the proxy waits for the others to be healthy and counts in the compose Redis, and
    OPA serves policies/ read-only, without following later changes to the files."""
    result = _compose_config(SECRETS)

    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"proxy", "postgres", "redis", "opa"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service["deploy"]["resources"]["limits"]["memory"], name
    proxy, opa = services["proxy"], services["opa"]
    assert proxy["depends_on"] == {
        name: {"condition": "service_healthy"} for name in ("postgres", "redis", "opa")
    }
    assert f"{ROOT / 'policies'}:/policies:ro" in opa["volumes"]
    assert "--watch" not in opa["command"]
    assert f"{ROOT / 'policies'}:/usr/share/govproxy/policies:ro" in proxy["volumes"]
    assert proxy["read_only"] is True
    assert proxy["environment"]["GOV_STORE_URL"].startswith(
        f"postgresql+asyncpg://gov:{SECRETS['GOV_PG_PASSWORD']}@postgres:"
    )
    assert proxy["environment"]["GOV_REDIS__URL"] == (
        f"redis://:{SECRETS['GOV_REDIS_PASSWORD']}@redis:6379/0"
    )
    assert [n for n, s in services.items() if s.get("ports")] == ["proxy"]
    assert proxy["ports"] == ["127.0.0.1:8080:8080/tcp"]


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_run_without_a_required_variable(missing):
    """No default password or source: leaving one variable unset is an error naming it."""
    result = _compose_config({k: v for k, v in SECRETS.items() if k != missing})

    assert result.returncode != 0
    assert missing in result.stderr


def _instructions(stage: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of one stage of the Dockerfile, continuation lines joined."""
    lines = DOCKERFILE.read_text("utf-8").replace("\\\n", " ").splitlines()
    parsed = [
        (keyword.upper(), rest.strip())
        for keyword, _, rest in (
            line.strip().partition(" ")
            for line in lines
            if line.strip() and not line.strip().startswith("#")
        )
    ]
    starts = [i for i, (k, _) in enumerate(parsed) if k == "FROM"] + [len(parsed)]
    for begin, end in pairwise(starts):
        if parsed[begin][1].endswith(f" AS {stage}"):
            return parsed[begin + 1 : end]
    raise AssertionError(f"no stage {stage} in {DOCKERFILE}")


def _builder_context(target: Path) -> str:
    """Copy what the builder stage copies into `target`; return the command it runs."""
    steps = _instructions("builder")
    target.mkdir()
    for keyword, args in steps:
        if keyword == "COPY":
            *sources, dest = args.split()
            for source in sources:
                into = (
                    target / dest / Path(source).name
                    if dest.endswith("/")
                    else target / dest
                )
                into.parent.mkdir(parents=True, exist_ok=True)
                if (ROOT / source).is_dir():
                    shutil.copytree(
                        ROOT / source,
                        into,
                        ignore=shutil.ignore_patterns("__pycache__"),
                    )
                else:
                    shutil.copy2(ROOT / source, into)
    (command,) = [args for keyword, args in steps if keyword == "RUN"]
    return command


def _json_argv(instruction: str) -> list[str]:
    """The exec-form argv of the runtime stage's `instruction` (CMD, HEALTHCHECK)."""
    (found,) = [a for k, a in _instructions("runtime") if k == instruction]
    return list(json.loads(found[found.index("[") :]))


@pytest.mark.skipif(
    not RUN_INSTALL,
    reason="slow (minutes): set GOV_TEST_IMAGE_INSTALL=1 (CI runs it under GOV_REQUIRE_SERVICES=1)",
)
def test_image_install_step_builds_a_proxy_that_serves_and_passes_its_health_check(
    tmp_path,
):
    """The builder's install step, run as shell in a fresh venv, gives a venv without pip
    whose `govproxy` checks the container config and serves; the image's health check passes."""
    context, venv = tmp_path / "src", tmp_path / "venv"
    command = _builder_context(context)
    script, image_venv = command.split()
    install = subprocess.run(  # noqa: S603 - the Dockerfile's own step
        [script, str(venv)],
        cwd=context,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )
    assert install.returncode == 0, install.stderr[-4000:]
    assert image_venv == "/opt/govproxy"

    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "GOV_CONFIG_FILE": str(CONFIG / "govproxy.yaml"),
        "GOV_POLICY_DIR": str(ROOT / "policies"),  # /usr/share/govproxy/policies
        "GOV_KEYS_FILE": str(tmp_path / "keys.json"),  # /var/lib/govproxy: the volume
        "GOV_STORE_URL": f"sqlite+aiosqlite:///{tmp_path / 'governance.db'}",
        "GOV_CUSTOMERS_URL": f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}",
    }

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        """Run in the temp dir, so only the venv (not this checkout) can be imported."""
        return subprocess.run(  # noqa: S603 - fixed argv, the venv's programs first on PATH
            argv, env=env, cwd=tmp_path, capture_output=True, text=True, check=False
        )

    # governance imports; then pip, which the runtime image has no use for, does not.
    imports = run("python", "-c", "import governance, adapters, audit, pip")
    check = run("govproxy", "config", "check")
    assert "No module named 'pip'" in imports.stderr, imports.stderr
    assert check.stdout.startswith("ok: 1 datasets"), check.stderr

    port = free_port()
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - the image's CMD
            _json_argv("CMD"),
            env={**env, "GOV_SERVER__PORT": str(port)},
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # The image's probe, aimed at this test's port instead of the container's 8080.
    probe = [a.replace(":8080/", f":{port}/") for a in _json_argv("HEALTHCHECK")]
    try:
        deadline = time.monotonic() + 60
        while run(*probe).returncode != 0:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert json.load(r)["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=30)
