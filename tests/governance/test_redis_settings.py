"""Settings of the shared counters and the caller budget: defaults, environment, refusals."""

import pytest

from governance.errors import ConfigurationError
from governance.settings import load_settings


class TestRedisSettings:
    """`redis.*` and `limits.caller_requests_per_minute`."""

    def test_by_default_counting_is_in_process_with_a_generous_budget(self):
        """No Redis URL, the `govproxy:` prefix, 100 ms, 100,000 requests a minute."""
        settings = load_settings()

        assert settings.redis.url is None
        assert (settings.redis.prefix, settings.redis.timeout_ms) == ("govproxy:", 100)
        assert settings.limits.caller_requests_per_minute == 100_000

    def test_the_environment_sets_the_url_and_it_never_shows(self, monkeypatch):
        """`GOV_REDIS__URL` is read, and its password is hidden in the settings' repr."""
        monkeypatch.setenv("GOV_REDIS__URL", "redis://:hunter2@cache.example:6380/1")

        settings = load_settings()

        assert settings.redis.url is not None
        assert settings.redis.url.get_secret_value().endswith("@cache.example:6380/1")
        assert "hunter2" not in repr(settings)

    @pytest.mark.parametrize(
        ("redis", "limits"),
        [
            ({"url": "http://:hunter2@cache.example"}, {}),
            ({"url": "redis://:hunter2@"}, {}),
            ({"prefix": "has space"}, {}),
            ({"prefix": ""}, {}),
            ({"timeout_ms": 0}, {}),
            ({}, {"caller_requests_per_minute": -1}),
        ],
        ids=[
            "not-redis",
            "no-host",
            "prefix-space",
            "prefix-empty",
            "timeout-0",
            "neg",
        ],
    )
    def test_invalid_values_stop_startup_without_echoing_them(self, redis, limits):
        """A bad URL, prefix, timeout or budget is refused, and no password is repeated."""
        with pytest.raises(ConfigurationError) as refused:
            load_settings(redis=redis, limits=limits)

        assert "hunter2" not in str(refused.value)
