"""Runtime settings: environment (`GOV_` prefix) over a YAML config file over defaults.

`load_settings()` reads the file named by `GOV_CONFIG_FILE` (or the `config_file`
argument); environment variables outrank it, and keyword arguments outrank both.
Relative paths in the file are resolved against the file's directory, so a
config directory can be moved as a whole.
"""

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from governance._urls import resolve_sqlite_url
from governance.errors import ConfigurationError


class ServerSettings(BaseModel):
    """Where the HTTP server listens."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port to bind.")


class LimitSettings(BaseModel):
    """Request limits; anything above them is refused with a clear error."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(1 << 20, gt=0, description="Largest request body.")
    max_query_limit: int = Field(1000, gt=0, description="Largest `limit` of a query.")
    default_query_limit: int = Field(100, gt=0, description="`limit` when omitted.")
    max_scan_factor: int = Field(
        10, gt=0, description="A query page scans at most limit x this many rows."
    )
    caller_requests_per_minute: int = Field(
        100_000,
        ge=0,
        description="Requests one caller key may make per minute, across every "
        "worker and instance sharing the counters (0 = no budget).",
    )
    unauthenticated_per_minute: int = Field(
        60,
        ge=0,
        description="Requests without a valid key one client address may make per "
        "minute before they are refused unaudited with 429 (0 = no limit).",
    )


class SourceSettings(BaseModel):
    """Bounds on each read of a data source; past them the read fails with a 503."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout_s: float = Field(
        2.0, gt=0, le=60, description="Longest wait to connect to a source."
    )
    statement_timeout_s: float = Field(
        5.0, gt=0, le=600, description="Longest a source may run one statement."
    )


class RedisSettings(BaseModel):
    """Where the shared counters live; without a URL they are in-process (one process)."""

    model_config = ConfigDict(extra="forbid")

    url: SecretStr | None = Field(
        None,
        description="redis:// or rediss:// URL (password included) of the counters; "
        "None = in-process counters, exact for one process only.",
    )
    prefix: str = Field(
        "govproxy:",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Namespace of every key, so deployments sharing a Redis never "
        "share counters.",
    )
    timeout_ms: int = Field(
        100,
        gt=0,
        le=5000,
        description="Longest wait for one Redis answer; past it Redis counts as down.",
    )

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        """A Redis URL; the message never repeats it (it may hold a password)."""
        if value is not None:
            parts = urlsplit(value.get_secret_value())
            if parts.scheme not in ("redis", "rediss") or not parts.hostname:
                raise ValueError("must be redis://[:password@]host[:port][/db]")
        return value


# Floors the law sets; a setting below them is refused at load (PIPL.md L-04, L-05, C-11).
ACCESS_LOG_FLOOR_DAYS = 180
PROVISION_FLOOR_DAYS = 3 * 365 + 1
CONSENT_FLOOR_DAYS = 3 * 365 + 1


class RetentionSettings(BaseModel):
    """How long the trail and the consent ledger keep what they hold.

    Each period can be set longer than its legal floor, never shorter.
    """

    model_config = ConfigDict(extra="forbid")

    access_days: int = Field(
        365,
        ge=ACCESS_LOG_FLOOR_DAYS,
        description="Keep access and administration events this many days (L-05).",
    )
    provision_days: int = Field(
        PROVISION_FLOOR_DAYS,
        ge=PROVISION_FLOOR_DAYS,
        description="Keep events of third-party purposes this many days (L-04).",
    )
    consent_days_after_lapse: int = Field(
        CONSENT_FLOOR_DAYS,
        ge=CONSENT_FLOOR_DAYS,
        description="Keep a consent's history this many days after it lapsed (C-11).",
    )


_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar(
    "file_values", default=None
)


class _FileSource(PydanticBaseSettingsSource):
    """Values read from the YAML config file; ranked below the environment."""

    def get_field_value(
        self,
        field: FieldInfo,  # noqa: ARG002 - signature of the base class
        field_name: str,
    ) -> tuple[Any, str, bool]:
        return (_FILE_VALUES.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_VALUES.get() or {})


class Settings(BaseSettings):
    """All settings of one proxy process."""

    model_config = SettingsConfigDict(
        env_prefix="GOV_", env_nested_delimiter="__", extra="forbid"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - not used
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Rank: keyword arguments, then `GOV_*` environment, then the config file."""
        return init_settings, env_settings, _FileSource(settings_cls)

    env: Literal["dev", "test", "prod"] = Field("prod", description="Deployment kind.")
    catalog_file: Path = Field(
        Path("catalog.yaml"), description="Catalog of sources, datasets and purposes."
    )
    store_url: str = Field(
        "sqlite+aiosqlite:///governance.db",
        description="SQLAlchemy URL of the governance store (callers, consent, audit).",
    )
    keys_file: Path = Field(
        Path("keys.json"), description="Local key file (created 0600 if absent)."
    )
    policy_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "policies",
        description="Rego bundle directory.",
    )
    issuer: str = Field(
        "Governance Proxy", description="Who signs consent receipts (the brand's name)."
    )
    policy_reload_seconds: float = Field(
        2.0, ge=0, description="Check the bundle for changes this often (0 = off)."
    )
    checkpoint_seconds: float = Field(
        60.0,
        ge=0,
        description="Seal the audit trail into a signed checkpoint this often "
        "(0 = only at start and stop).",
    )
    decision_cache_size: int = Field(
        4096, ge=0, description="Policy decisions cached per access shape."
    )
    policy_engine: Literal["regorus", "opa"] = Field(
        "regorus",
        description="Who evaluates the bundle: in process (regorus) or an OPA sidecar.",
    )
    opa_url: str = Field(
        "http://127.0.0.1:8181",
        description="The OPA sidecar, as http(s)://host:port (policy_engine: opa).",
    )
    opa_timeout_ms: int = Field(
        250,
        gt=0,
        le=10_000,
        description="Longest wait for one sidecar decision; past it the access is denied.",
    )
    log_format: Literal["json", "console"] = Field("json", description="Log output.")
    server: ServerSettings = ServerSettings()
    limits: LimitSettings = LimitSettings()
    sources: SourceSettings = SourceSettings()
    retention: RetentionSettings = RetentionSettings()
    redis: RedisSettings = RedisSettings()

    @field_validator("opa_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        """Only a scheme, a host and a port: the client adds `/v1/data/...` itself."""
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError:
            raise ValueError("must be http(s)://host[:port]: bad port") from None
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                "must be http(s)://host[:port], without credentials, path or query"
            )
        return value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read settings: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: settings must be a mapping at the top level")
    for key in ("catalog_file", "keys_file", "policy_dir"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = path.parent / raw[key]
    if isinstance(raw.get("store_url"), str):
        raw["store_url"] = resolve_sqlite_url(raw["store_url"], path.parent)
    return raw


def _describe(error: Any, path: Path | None) -> str:
    """One fault, named by where its value came from: the environment or the file."""
    loc = [str(p) for p in error["loc"]]
    env_name = "GOV_" + "__".join(loc).upper()
    fault = f"invalid settings: {'.'.join(loc)}: {error['msg']}"
    if any(k.startswith(env_name) for k in os.environ) or path is None:
        return f"environment: {fault} (from {env_name})"
    return f"{path}: {fault}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the config file, the environment and `overrides`.

    Raises:
        ConfigurationError: the file or a value is invalid; the message names both.
    """
    path = config_file or (
        Path(os.environ["GOV_CONFIG_FILE"]) if "GOV_CONFIG_FILE" in os.environ else None
    )
    token = _FILE_VALUES.set(_read_file(path) if path else {})
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "\n".join(_describe(e, path) for e in exc.errors())
        raise ConfigurationError(problems) from None
    finally:
        _FILE_VALUES.reset(token)
