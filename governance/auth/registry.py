"""The caller registry: add, list and revoke callers; authenticate presented keys."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from governance.auth.keys import issue_key, parse_token, secret_matches
from governance.auth.models import Caller
from governance.errors import Conflict, InvalidRequest, UnknownCaller
from governance.types import Principal, Role

CALLER_NAME = r"^[a-z][a-z0-9_-]{1,62}$"


@dataclass(frozen=True)
class CallerInfo:
    """A caller as shown to an admin: no key material."""

    name: str
    role: Role
    purposes: tuple[str, ...]
    key_id: str
    created_at: datetime
    revoked_at: datetime | None


# Built once: authentication binds the key id into it on every request.
_BY_KEY_ID = select(
    col(Caller.name), col(Caller.role), col(Caller.purposes), col(Caller.key_hash)
).where(col(Caller.key_id) == bindparam("key_id"), col(Caller.revoked_at).is_(None))


class CallerRegistry:
    """Callers and their key hashes in the governance store."""

    def __init__(self, engine: AsyncEngine, *, known_purposes: frozenset[str]) -> None:
        self._engine = engine
        self._purposes = known_purposes

    async def add(
        self, name: str, role: Role, purposes: list[str]
    ) -> tuple[CallerInfo, str]:
        """Register a caller; return it and its key, which is never shown again."""
        _check(name, role, purposes, self._purposes)
        key, now = issue_key(), datetime.now(UTC)
        row = {
            "name": name,
            "role": role.value,
            "purposes": json.dumps(sorted(set(purposes))),
            "key_id": key.key_id,
            "key_hash": key.key_hash,
            "created_at": now,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(Caller).values(**row))
        except IntegrityError:
            raise Conflict("a caller of that name already exists") from None
        info = CallerInfo(
            name, role, tuple(sorted(set(purposes))), key.key_id, now, None
        )
        return info, key.token

    async def revoke(self, name: str) -> None:
        """Revoke a caller's key; its next request is refused."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(Caller)
                .where(col(Caller.name) == name, col(Caller.revoked_at).is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if result.rowcount == 0:
            raise UnknownCaller("no active caller of that name")

    async def list(self) -> list[CallerInfo]:
        """All callers, revoked ones included, by name."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(Caller).order_by(col(Caller.name)))).all()
        return [
            CallerInfo(
                r.name,
                Role(r.role),
                tuple(json.loads(r.purposes)),
                r.key_id,
                r.created_at,
                r.revoked_at,
            )
            for r in rows
        ]

    async def authenticate(self, token: str | None) -> Principal | None:
        """Return the principal a bearer token belongs to, or None."""
        parsed = parse_token(token) if token else None
        if parsed is None:
            return None
        key_id, secret = parsed
        async with self._engine.connect() as conn:
            found = (await conn.execute(_BY_KEY_ID, {"key_id": key_id})).first()
        if (
            not secret_matches(secret, found.key_hash if found else None)
            or found is None
        ):
            return None
        return Principal(
            found.name, Role(found.role), frozenset(json.loads(found.purposes))
        )


def _check(name: str, role: Role, purposes: list[str], known: frozenset[str]) -> None:
    if not re.fullmatch(CALLER_NAME, name):
        raise InvalidRequest(f"caller name must match {CALLER_NAME}")
    unknown = sorted(set(purposes) - known)
    if unknown:
        raise InvalidRequest(f"unknown purposes: {', '.join(unknown)}")
    if role is Role.SERVICE and not purposes:
        raise InvalidRequest("a service caller needs at least one purpose")
    if role is not Role.SERVICE and purposes:
        raise InvalidRequest("only service callers act for purposes")
