"""Settings: keyword arguments over `GOV_*` environment over the YAML file over defaults."""

from pathlib import Path

import pytest

from governance.errors import ConfigurationError
from governance.settings import Settings, load_settings


def write_config(folder: Path, text: str) -> Path:
    """Write `text` as `govproxy.yaml` in `folder` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "govproxy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


FILE = """\
env: dev
store_url: postgresql+asyncpg://gov@db.example:5432/governance
log_format: console
decision_cache_size: 16
server: {host: 192.0.2.10, port: 8081}
limits: {max_query_limit: 500}
"""


class TestSources:
    """Where each value comes from."""

    def test_defaults(self) -> None:
        """Without file, environment or arguments every value is its default."""
        settings = load_settings()

        assert settings.env == "prod"
        assert settings.catalog_file == Path("catalog.yaml")
        assert settings.store_url == "sqlite+aiosqlite:///governance.db"
        assert settings.keys_file == Path("keys.json")
        assert settings.policy_dir.name == "policies"
        assert settings.log_format == "json"
        assert settings.decision_cache_size == 4096
        assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
        assert settings.limits.max_query_limit == 1000
        assert settings.limits.default_query_limit == 100

    def test_file_values(self, tmp_path: Path) -> None:
        """Values in the file replace the defaults; the rest stay default."""
        settings = load_settings(write_config(tmp_path, FILE))

        assert settings.env == "dev"
        assert (
            settings.store_url == "postgresql+asyncpg://gov@db.example:5432/governance"
        )
        assert settings.log_format == "console"
        assert settings.decision_cache_size == 16
        assert (settings.server.host, settings.server.port) == ("192.0.2.10", 8081)
        assert settings.limits.max_query_limit == 500
        assert settings.limits.default_query_limit == 100

    def test_config_file_named_by_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """GOV_CONFIG_FILE names the file when no path is passed."""
        monkeypatch.setenv("GOV_CONFIG_FILE", str(write_config(tmp_path, FILE)))

        assert load_settings().env == "dev"

    def test_environment_outranks_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A GOV_ variable replaces the file's value."""
        monkeypatch.setenv("GOV_ENV", "test")
        monkeypatch.setenv("GOV_LOG_FORMAT", "json")

        settings = load_settings(write_config(tmp_path, FILE))

        assert (settings.env, settings.log_format) == ("test", "json")
        assert settings.decision_cache_size == 16

    def test_nested_environment_keeps_file_siblings(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """GOV_SERVER__PORT replaces the port only; the file's server.host stays."""
        monkeypatch.setenv("GOV_SERVER__PORT", "9090")

        settings = load_settings(write_config(tmp_path, FILE))

        assert (settings.server.host, settings.server.port) == ("192.0.2.10", 9090)

    def test_arguments_outrank_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Keyword arguments replace both the environment and the file."""
        monkeypatch.setenv("GOV_ENV", "dev")
        monkeypatch.setenv("GOV_DECISION_CACHE_SIZE", "32")

        settings = load_settings(
            write_config(tmp_path, FILE), env="test", decision_cache_size=0
        )

        assert (settings.env, settings.decision_cache_size) == ("test", 0)


class TestInvalid:
    """An invalid file or value stops with a ConfigurationError naming the file and key."""

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("server: {port: 70000}\n", "server.port"),
            ("env: staging\n", "env"),
            ("log_format: xml\n", "log_format"),
            ("limits: {max_query_limit: 0}\n", "limits.max_query_limit"),
            ("decision_cache_size: many\n", "decision_cache_size"),
            ("store_url: [a, b]\n", "store_url"),
            ("databse_url: sqlite:///x.db\n", "databse_url"),
        ],
        ids=[
            "port-range",
            "env",
            "log-format",
            "limit-zero",
            "not-a-number",
            "url-list",
            "unknown-key",
        ],
    )
    def test_invalid_value_names_file_and_key(
        self, tmp_path: Path, text: str, key: str
    ) -> None:
        """The message starts with the file and names the dotted key."""
        path = write_config(tmp_path, text)

        with pytest.raises(ConfigurationError) as caught:
            load_settings(path)

        message = str(caught.value)
        assert message.startswith(f"{path}: invalid settings: ")
        assert f"{key}: " in message

    @pytest.mark.parametrize(
        "value", ["[a.yaml, b.yaml]", "null"], ids=["list", "null"]
    )
    def test_invalid_path_value_names_file_and_key(
        self, tmp_path: Path, value: str
    ) -> None:
        """A path setting that is not a path is refused like any invalid value."""
        path = write_config(tmp_path, f"catalog_file: {value}\n")

        with pytest.raises(ConfigurationError, match="catalog_file"):
            load_settings(path)

    def test_unknown_nested_key_names_file_and_key(self, tmp_path: Path) -> None:
        """A typo inside a section is refused like a typo at the top level."""
        path = write_config(tmp_path, "server: {hots: 192.0.2.10}\n")

        with pytest.raises(ConfigurationError, match=r"server\.hots: "):
            load_settings(path)

    def test_invalid_environment_value_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bad GOV_ value without a file is reported against the environment."""
        monkeypatch.setenv("GOV_SERVER__PORT", "http")

        with pytest.raises(ConfigurationError, match=r"^environment: .*server\.port: "):
            load_settings()

    def test_bad_environment_value_is_blamed_on_the_environment_not_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With a valid file, a bad GOV_ value names the variable, not the file."""
        config = write_config(tmp_path, "server: {port: 9000}\n")
        monkeypatch.setenv("GOV_SERVER__PORT", "http")

        with pytest.raises(ConfigurationError) as caught:
            load_settings(config)

        assert str(caught.value).startswith("environment: ")
        assert "GOV_SERVER__PORT" in str(caught.value)
        assert str(config) not in str(caught.value)

    @pytest.mark.parametrize(
        "text",
        ["server: {port: 8080\n", "env: dev\n  log_format: [\n", "\tenv: dev\n"],
        ids=["unclosed-flow", "bad-indent", "tab"],
    )
    def test_invalid_yaml_names_file(self, tmp_path: Path, text: str) -> None:
        """A file that is not YAML is refused with its path."""
        path = write_config(tmp_path, text)

        with pytest.raises(ConfigurationError) as caught:
            load_settings(path)

        assert str(caught.value).startswith(f"{path}: cannot read settings: ")

    def test_top_level_not_a_mapping_is_refused(self, tmp_path: Path) -> None:
        """A YAML list is not a settings file."""
        path = write_config(tmp_path, "- env: dev\n")

        with pytest.raises(ConfigurationError) as caught:
            load_settings(path)

        assert (
            str(caught.value) == f"{path}: settings must be a mapping at the top level"
        )

    def test_missing_file_names_file(self, tmp_path: Path) -> None:
        """A file that cannot be read is refused with its path."""
        path = tmp_path / "absent" / "govproxy.yaml"

        with pytest.raises(ConfigurationError) as caught:
            load_settings(path)

        assert str(caught.value).startswith(f"{path}: cannot read settings: ")

    def test_directory_as_file_names_it(self, tmp_path: Path) -> None:
        """A directory given as the file is refused with its path."""
        with pytest.raises(ConfigurationError) as caught:
            load_settings(tmp_path)

        assert str(caught.value).startswith(f"{tmp_path}: cannot read settings: ")


class TestRelativePaths:
    """Relative paths in the file are anchored at the file's folder."""

    def _load(self, tmp_path: Path) -> tuple[Path, Settings]:
        folder = tmp_path / "conf"
        text = (
            "catalog_file: catalog.yaml\nkeys_file: secrets/keys.json\n"
            "policy_dir: ../policies\nstore_url: sqlite+aiosqlite:///state/governance.db\n"
        )
        return folder, load_settings(write_config(folder, text))

    def test_relative_file_paths_resolve_against_file_folder(
        self, tmp_path: Path
    ) -> None:
        """catalog_file, keys_file and policy_dir name files beside the config."""
        folder, settings = self._load(tmp_path)

        assert settings.catalog_file.resolve() == (folder / "catalog.yaml").resolve()
        assert (
            settings.keys_file.resolve() == (folder / "secrets" / "keys.json").resolve()
        )
        assert settings.policy_dir.resolve() == (tmp_path / "policies").resolve()

    def test_relative_sqlite_store_resolves_against_file_folder(
        self, tmp_path: Path
    ) -> None:
        """A relative SQLite store URL names a file beside the config."""
        folder, settings = self._load(tmp_path)

        expected = (folder / "state" / "governance.db").resolve()
        assert settings.store_url == f"sqlite+aiosqlite:///{expected}"

    def test_absolute_paths_are_kept(self, tmp_path: Path) -> None:
        """Absolute paths in the file are used as written."""
        catalog = tmp_path / "elsewhere" / "catalog.yaml"
        path = write_config(tmp_path / "conf", f"catalog_file: {catalog}\n")

        assert load_settings(path).catalog_file == catalog

    def test_environment_paths_are_not_anchored_at_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A relative path from the environment stays relative to the working directory."""
        monkeypatch.setenv("GOV_CATALOG_FILE", "other.yaml")

        settings = load_settings(write_config(tmp_path, "catalog_file: catalog.yaml\n"))

        assert settings.catalog_file == Path("other.yaml")


class TestPolicyEngine:
    """Which engine decides: regorus in process by default, or an OPA sidecar."""

    def test_defaults_to_the_embedded_engine(self) -> None:
        """Without settings the bundle is evaluated in process; the sidecar is local."""
        settings = load_settings()

        assert settings.policy_engine == "regorus"
        assert settings.opa_url == "http://127.0.0.1:8181"
        assert settings.opa_timeout_ms == 250

    def test_sidecar_from_file_and_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The file picks OPA and its URL; GOV_OPA_TIMEOUT_MS replaces the timeout."""
        config = write_config(
            tmp_path,
            "policy_engine: opa\nopa_url: https://opa.example:8443\nopa_timeout_ms: 50\n",
        )
        monkeypatch.setenv("GOV_OPA_TIMEOUT_MS", "80")

        settings = load_settings(config)

        assert settings.policy_engine == "opa"
        assert settings.opa_url == "https://opa.example:8443"
        assert settings.opa_timeout_ms == 80

    @pytest.mark.parametrize(
        ("text", "key", "fault"),
        [
            ("policy_engine: wasm\n", "policy_engine", "'regorus' or 'opa'"),
            ("opa_url: ftp://opa.example\n", "opa_url", "http(s)://host[:port]"),
            ("opa_url: opa.example:8181\n", "opa_url", "http(s)://host[:port]"),
            (
                "opa_url: http://127.0.0.1:8181/v1/data\n",
                "opa_url",
                "without credentials, path or query",
            ),
            (
                "opa_url: http://user:pw@127.0.0.1:8181\n",
                "opa_url",
                "without credentials, path or query",
            ),
            ("opa_url: http://127.0.0.1:99999\n", "opa_url", "bad port"),
            ("opa_timeout_ms: 0\n", "opa_timeout_ms", "greater than 0"),
            ("opa_timeout_ms: 60000\n", "opa_timeout_ms", "less than or equal to"),
        ],
        ids=[
            "engine",
            "scheme",
            "no-scheme",
            "path",
            "credentials",
            "port",
            "zero-timeout",
            "long-timeout",
        ],
    )
    def test_invalid_value_names_file_key_and_fault(
        self, tmp_path: Path, text: str, key: str, fault: str
    ) -> None:
        """A bad engine, sidecar URL or timeout stops startup, saying what is wrong."""
        path = write_config(tmp_path, text)

        with pytest.raises(ConfigurationError) as caught:
            load_settings(path)

        message = str(caught.value)
        assert message.startswith(f"{path}: invalid settings: {key}: ")
        assert fault in message
