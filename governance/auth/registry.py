"""The caller registry: add, list and revoke callers; authenticate presented keys.

A store that cannot be read is a 503, never a 500 and never a 401: the key
lookup raises `AuthenticationUnavailable` (the key may be valid, retry later),
the admin reads `StoreUnavailable`.
"""

import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Insert, Update, case, func, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable
from sqlmodel import col

from governance.auth.keys import issue_key, parse_token, secret_matches
from governance.auth.models import Caller
from governance.errors import (
    AuthenticationUnavailable,
    Conflict,
    InvalidRequest,
    LastAdmin,
    StoreUnavailable,
    UnknownCaller,
)
from governance.types import Actor, Principal, Role

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
    records_consent: bool = False


# What authentication reads for a key id: the caller's name, role, purposes (JSON
# text), key hash and whether it records consent. A revoked key has no row.
# Readers bind `:key_id` (`$1`).
KEY_COLUMNS = ("name", "role", "purposes", "key_hash", "records_consent")
KEY_SQL = (
    f"SELECT {', '.join(KEY_COLUMNS)} FROM callers"  # noqa: S608 - constants
    " WHERE key_id = :key_id AND revoked_at IS NULL"
)
_BY_KEY_ID = text(KEY_SQL)
_RESERVED = frozenset(Actor)
_ACTIVE_ADMIN = (col(Caller.role) == Role.ADMIN.value, col(Caller.revoked_at).is_(None))
# Taken in name order, so two revocations never wait for each other's locks.
_LOCK_ADMINS = (
    select(col(Caller.name))
    .where(*_ACTIVE_ADMIN)
    .order_by(col(Caller.name))
    .with_for_update()
)


class KeyReader(Protocol):
    """Reads the caller a key id belongs to: `KEY_COLUMNS`, or None."""

    async def caller_row(self, key_id: str) -> Sequence[Any] | None:
        """The row of an unrevoked key; a store that fails raises `StoreUnavailable`."""
        ...


class SqlKeyReader:
    """`KeyReader` over the store's SQLAlchemy engine (the CLI; tests)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def caller_row(self, key_id: str) -> Sequence[Any] | None:
        """One indexed read; a store that fails raises `StoreUnavailable`."""
        try:
            async with self._engine.connect() as conn:
                return (await conn.execute(_BY_KEY_ID, {"key_id": key_id})).first()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(
                f"the caller registry could not be read ({type(exc).__name__})"
            ) from None


class CallerRegistry:
    """Callers and their key hashes in the governance store."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        known_purposes: frozenset[str],
        keys: KeyReader | None = None,
    ) -> None:
        """`keys`: how authentication reads a key (the app passes its lean reader,
        which skips SQLAlchemy's per-checkout work on the request path)."""
        self._engine = engine
        self._purposes = known_purposes
        self._keys = keys or SqlKeyReader(engine)

    async def registration(
        self,
        name: str,
        role: Role,
        purposes: list[str],
        *,
        records_consent: bool = False,
    ) -> tuple[CallerInfo, str, Insert]:
        """Prepare a caller: its info, its key (shown once) and the insert to commit.

        The insert is committed by the caller of this method together with its
        audit event, so a caller never exists without the record of its creation.
        """
        _check(name, role, purposes, self._purposes)
        _check_recorder(role, records_consent)
        if await self._exists(name):
            raise Conflict("a caller of that name already exists")
        key, now = issue_key(), datetime.now(UTC)
        listed = tuple(sorted(set(purposes)))
        stmt = insert(Caller).values(
            name=name,
            role=role.value,
            purposes=json.dumps(list(listed)),
            key_id=key.key_id,
            key_hash=key.key_hash,
            created_at=now,
            records_consent=records_consent,
        )
        info = CallerInfo(name, role, listed, key.key_id, now, None, records_consent)
        return info, key.token, stmt

    async def revocation(self, name: str) -> Update:
        """Prepare the revocation of an active caller, to commit with its audit event."""
        await self._active(name)
        return _revoke(name)

    async def revocation_keeping_an_admin(self, name: str) -> list[Executable]:
        """`revocation()` that never leaves the registry without an active admin.

        The API refuses to revoke the last active admin: no one could then manage
        callers over it, and only someone with the store's files (the CLI) could
        add an admin again. Reading the admins first is not enough: two admins
        revoking each other at once both read two. So the guard is part of the
        write, in the transaction that commits it: the active admins' rows are
        locked (PostgreSQL; SQLite's writer already holds the store's one write
        lock), so a revocation that waited counts, in its update's fresh
        snapshot, the admins the other left; the update empties the key id,
        which the store refuses (NOT NULL), unless another active admin is
        left. The writer then rejects the whole append (`AppendRejected`:
        neither revocation nor event is stored) and the route decides again
        from what committed.
        """
        if (await self._active(name))[0] is Role.ADMIN:
            await self._refuse_last_admin(name)
            return [_LOCK_ADMINS, _revoke(name, guarded=True)]
        return [_revoke(name)]

    async def _active(self, name: str) -> tuple[Role, bool]:
        """The role of active caller `name` and whether it records consent."""
        async with self._reading() as conn:
            found = (
                await conn.execute(
                    select(col(Caller.role), col(Caller.records_consent)).where(
                        col(Caller.name) == name, col(Caller.revoked_at).is_(None)
                    )
                )
            ).first()
        if found is None:
            raise UnknownCaller("no active caller of that name")
        return Role(found[0]), bool(found[1])

    async def _refuse_last_admin(self, name: str) -> None:
        async with self._reading() as conn:
            others = (
                await conn.execute(
                    select(func.count())
                    .select_from(Caller)
                    .where(*_ACTIVE_ADMIN, col(Caller.name) != name)
                )
            ).scalar()
        if not others:
            raise LastAdmin(
                "this is the last active admin key: add another admin before"
                " revoking it (govproxy callers add NAME --role admin)"
            )

    async def recorder_change(self, name: str, records: bool) -> Update | None:
        """Prepare marking an active caller as recording consent or not, to commit
        with its audit event; None when it already is so (nothing to record)."""
        role, recording = await self._active(name)
        _check_recorder(role, records)
        if recording == records:
            return None
        return (
            update(Caller)
            .where(col(Caller.name) == name, col(Caller.revoked_at).is_(None))
            .values(records_consent=records)
        )

    async def _exists(self, name: str, *, active: bool = False) -> bool:
        stmt = select(col(Caller.name)).where(col(Caller.name) == name)
        if active:
            stmt = stmt.where(col(Caller.revoked_at).is_(None))
        async with self._reading() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def list(self) -> list[CallerInfo]:
        """All callers, revoked ones included, by name."""
        async with self._reading() as conn:
            rows = (await conn.execute(select(Caller).order_by(col(Caller.name)))).all()
        return [
            CallerInfo(
                r.name,
                Role(r.role),
                tuple(json.loads(r.purposes)),
                r.key_id,
                r.created_at,
                r.revoked_at,
                bool(r.records_consent),
            )
            for r in rows
        ]

    async def authenticate(self, token: str | None) -> Principal | None:
        """Return the principal a bearer token belongs to, or None."""
        parsed = parse_token(token) if token else None
        if parsed is None:
            return None
        key_id, secret = parsed
        try:
            found = await self._keys.caller_row(key_id)
        except StoreUnavailable as exc:
            raise AuthenticationUnavailable(str(exc)) from None
        if not secret_matches(secret, found[3] if found else None) or found is None:
            return None
        name, role, purposes, _, records = found
        return Principal(
            name, Role(role), frozenset(json.loads(purposes)), bool(records)
        )

    @asynccontextmanager
    async def _reading(
        self, failure: type[StoreUnavailable] = StoreUnavailable
    ) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; a store fault inside becomes `failure` (503)."""
        try:
            async with self._engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise failure(
                f"the caller registry could not be read ({type(exc).__name__})"
            ) from None


def _revoke(name: str, *, guarded: bool = False) -> Update:
    """The update revoking `name`; `guarded`, the store refuses it if `name` is
    the last active admin (see `CallerRegistry.revocation_keeping_an_admin`)."""
    stmt = (
        update(Caller)
        .where(col(Caller.name) == name, col(Caller.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if not guarded:
        return stmt
    admins = select(func.count()).select_from(Caller).where(*_ACTIVE_ADMIN)
    return stmt.values(
        key_id=case((admins.scalar_subquery() > 1, col(Caller.key_id)), else_=None)
    )


def _check_recorder(role: Role, records_consent: bool) -> None:
    if records_consent and role is not Role.SERVICE:
        raise InvalidRequest(
            "only service callers are marked as recording consent (admins may)"
        )


def _check(name: str, role: Role, purposes: list[str], known: frozenset[str]) -> None:
    if not re.fullmatch(CALLER_NAME, name):
        raise InvalidRequest(f"caller name must match {CALLER_NAME}")
    if name in _RESERVED:
        raise InvalidRequest(
            "caller name is reserved: the proxy's own actors sign the trail with it"
        )
    unknown = sorted(set(purposes) - known)
    if unknown:
        raise InvalidRequest(f"unknown purposes: {', '.join(unknown)}")
    if role is Role.SERVICE and not purposes:
        raise InvalidRequest("a service caller needs at least one purpose")
    if role is not Role.SERVICE and purposes:
        raise InvalidRequest("only service callers act for purposes")
