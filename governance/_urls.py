"""Database URL helpers shared by settings and catalog loading."""

from pathlib import Path

_SQLITE_PREFIXES = ("sqlite+aiosqlite:///", "sqlite:///")


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to `base_dir` (the config file's folder)."""
    for prefix in _SQLITE_PREFIXES:
        rest = url[len(prefix) :] if url.startswith(prefix) else None
        if rest and not rest.startswith(("/", ":memory:")):
            return prefix + str((base_dir / rest).resolve())
    return url
