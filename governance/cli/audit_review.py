"""`govproxy audit events|export|verify-export|breach`: the officer's review, from the shell.

```
govproxy audit events [--subject ID] [--caller C] [--purpose P] [--dataset D]
                      [--outcome O] [--reason R] [--kind K] [--since T] [--until T]
                      [--limit N] [--cursor C] [--json]
govproxy audit export --format jsonl|csv --out DIR --since T --until T [filters]
govproxy audit verify-export PATH [--public-key PEM]     exit 0 valid, 1 INVALID
govproxy audit breach --caller C --since T --until T [--resolve] [--json]
```

`events`, `export` and `breach` read the configured store directly and, like
the API, write their own audit event (`audit.read`, `audit.export`,
`audit.breach`; caller `cli`, with the operating-system user in the detail)
before they print or write anything; refused ones too, with their code.
Filters follow the API's rules (`audit.filters`); a refused value exits 2
naming the rule. `verify-export` needs no store and no settings: only the
export and the signer's public key (`govproxy audit public-key` prints it;
a file may hold several versions; without `--public-key`, every version in the
configured key file). PATH is an export directory, the ZIP of a CSV export, or a
JSON-lines export whose last line is the manifest.
"""

import argparse
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.keys.local import LocalKeyProvider
from adapters.sources.sql import SqlDataSource
from audit.breach_subjects import breach_answer
from audit.checkpoint import public_keys_of
from audit.export import export_meta, write_export
from audit.export_format import ENCODERS
from audit.export_manifest import MANIFEST_FILE
from audit.export_verify import check_export
from audit.filters import bounded, event_filter, page_limit
from audit.query import EventFilter, list_events
from audit.signing import AuditSigner
from audit.writer import AuditWriter
from governance.catalog import load_catalog
from governance.cli.admin import os_user, settings_of, with_store
from governance.errors import (
    ConfigurationError,
    Conflict,
    GovernanceError,
    InvalidFilter,
    InvalidRequest,
)
from governance.services import subject_referencer
from governance.settings import Settings
from governance.trail import Trail
from governance.types import Actor, Outcome

_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----\s*", re.S)
T = TypeVar("T")
U = TypeVar("U")
_FILTER_OPTIONS = {
    "subject": ("subject_id", "the subject's id (matched through its keyed reference)"),
    "caller": ("caller", "caller name"),
    "purpose": ("purpose", "purpose name"),
    "dataset": ("dataset", "dataset name"),
    "outcome": ("outcome", "allowed, denied or error"),
    "reason": ("reason", "reason code, e.g. consent_missing"),
    "kind": ("kind", "event kind, e.g. access.read"),
    "since": ("since", "from this ISO 8601 instant (UTC without offset), inclusive"),
    "until": ("until", "before this ISO 8601 instant, exclusive"),
}


def add_parsers(asub: Any) -> None:
    """Register the review subcommands under `govproxy audit`."""
    events = asub.add_parser("events", help="list audit events, newest first")
    _filter_options(events, _FILTER_OPTIONS)
    events.add_argument("--limit", help="events per page, 1-1000 (default 100)")
    events.add_argument("--cursor", help="the next cursor a previous page printed")
    events.add_argument("--json", action="store_true", help="print JSON")
    events.set_defaults(run=run_events)

    export = asub.add_parser(
        "export", help="export a range of events with a signed manifest"
    )
    export.add_argument("--format", required=True, choices=sorted(ENCODERS))
    export.add_argument("--out", required=True, type=Path, metavar="DIR")
    _filter_options(export, _FILTER_OPTIONS)
    export.set_defaults(run=run_export)

    verify = asub.add_parser(
        "verify-export", help="check an export and its manifest offline"
    )
    verify.add_argument("path", type=Path, metavar="PATH")
    verify.add_argument("--public-key", type=Path, metavar="PEM")
    verify.set_defaults(run=run_verify_export)

    breach = asub.add_parser(
        "breach", help="which subjects and fields a caller received (K-06)"
    )
    _filter_options(
        breach, {k: _FILTER_OPTIONS[k] for k in ("caller", "since", "until")}
    )
    breach.add_argument(
        "--resolve", action="store_true", help="resolve references to subject ids"
    )
    breach.add_argument("--json", action="store_true", help="print JSON")
    breach.set_defaults(run=run_breach)


def _filter_options(parser: Any, options: dict[str, tuple[str, str]]) -> None:
    for flag, (dest, text) in options.items():
        parser.add_argument(f"--{flag}", dest=dest, help=text)


def run_events(args: argparse.Namespace) -> int:
    """Print one page of matching events."""
    settings = settings_of(args)

    async def work(store: AsyncEngine, trail: Trail) -> dict[str, Any]:
        selected = _filter(args, settings)
        page, cursor = await list_events(
            store, selected, limit=page_limit(args.limit), cursor=args.cursor
        )
        trail.detail |= {
            "filters": {k: v is not None for k, v in asdict(selected).items()},
            "returned": len(page),
        }
        return {"events": page, "next_cursor": cursor}

    found = _audited(settings, "audit.read", work, then=_as_is)
    if args.json:
        print(orjson.dumps(found).decode())
        return 0
    for e in found["events"]:
        print(
            "  ".join(
                str(e[k] or "-")
                for k in ("ts", "kind", "caller", "purpose", "dataset", "subject_ref")
            )
            + f"  {e['outcome']}"
            + (f" ({e['reason']})" if e["reason"] else "")
        )
    if found["next_cursor"]:
        print(f"more: --cursor {found['next_cursor']}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the data file and its signed manifest into DIR."""
    settings = settings_of(args)
    signer = AuditSigner.from_keys(_keys(settings))
    out: Path = args.out
    data_file = out / ENCODERS[args.format].file_name

    async def check(_store: AsyncEngine, trail: Trail) -> EventFilter:
        selected = _filter(args, settings)
        bounded(selected)
        if data_file.exists() or (out / MANIFEST_FILE).exists():
            raise Conflict(f"{out} already holds an export: choose another directory")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidRequest(
                f"{out}: cannot write an export there ({_why(exc)})"
            ) from None
        trail.detail |= {"format": args.format, "filters": selected.given()}
        return selected

    async def write(
        store: AsyncEngine, trail: Trail, selected: EventFilter
    ) -> dict[str, Any]:
        meta = export_meta(
            selected,
            decision_id=trail.decision_id,
            exporter=f"{Actor.CLI}:{os_user()}",
        )
        try:
            return await write_export(
                store, selected, fmt=args.format, meta=meta, signer=signer, out=out
            )
        except OSError as exc:
            raise ConfigurationError(
                f"{out}: the export could not be written ({_why(exc)}); no file of"
                " it is left"
            ) from None

    doc = _audited(settings, "audit.export", check, then=write)
    entry = doc["manifest"]["files"][0]
    print(
        f"exported {doc['manifest']['count']} events to {out / entry['name']} "
        f"(sha256 {entry['sha256']}); manifest {out / MANIFEST_FILE} "
        f"signed by {doc['key_id']}"
    )
    return 0


def run_verify_export(args: argparse.Namespace) -> int:
    """Check an export offline; exit 0 if valid, 1 naming each problem."""
    path: Path = args.path
    if not path.exists():
        raise ConfigurationError(f"{path}: no such file or directory")
    check = check_export(path, _public_keys(args))
    if not check.ok:
        for problem in check.problems:
            print(f"INVALID: {problem.code}: {problem.message}")
        return 1
    manifest = check.manifest
    assert manifest is not None  # noqa: S101 - a valid check carries its manifest
    entry, span = manifest["files"][0], manifest["range"]
    print(
        f"valid: {manifest['count']} events in {entry['name']}, "
        f"{span['since']} to {span['until']}, exported by {manifest['exporter']} "
        f"at {manifest['created_at']} (decision {manifest['decision_id']}); "
        + _coverage(manifest)
    )
    return 0


def _coverage(manifest: dict[str, Any]) -> str:
    """What the export holds of the range, as its manifest states it."""
    if "complete" not in manifest:
        return (
            "a version 1 manifest: it does not say which events the range held,"
            " so an event left out cannot be detected"
        )
    chains = len(manifest["chains"])
    if not manifest["complete"]:
        return (
            f"filtered by {', '.join(sorted(manifest['filters']))}: only the matching"
            f" events of {chains} chains, so their seqs have gaps"
        )
    checkpoint = manifest["checkpoint"]
    checked = (
        f"checked against checkpoint {checkpoint['number']}"
        if checkpoint
        else "no checkpoint yet"
    )
    return f"complete: every event of the range, in {chains} chains ({checked})"


def run_breach(args: argparse.Namespace) -> int:
    """Print which subjects and fields a caller received in the range."""
    settings = settings_of(args)
    catalog = load_catalog(settings.catalog_file)

    async def work(store: AsyncEngine, trail: Trail) -> dict[str, Any]:
        if args.caller is None:
            raise InvalidFilter("--caller is required: whose receipts to investigate")
        selected = _filter(args, settings)
        since, until = bounded(selected)
        trail.detail |= {"filters": selected.given(), "resolve": args.resolve}
        source = SqlDataSource.from_urls(catalog.sources) if args.resolve else None
        try:
            report, body = await breach_answer(
                store,
                catalog,
                caller=args.caller,
                since=since,
                until=until,
                resolve_with=(source, _referencer(settings)) if source else None,
            )
        finally:
            if source is not None:
                await source.close()
        trail.detail |= {
            "events": sum(report.events.values()),
            "subjects": report.subjects,
            "purged_events": report.purged,
        }
        return body

    body = _audited(settings, "audit.breach", work, then=_as_is)
    print(orjson.dumps(body).decode() if args.json else _breach_text(body))
    return 0


def _breach_text(body: dict[str, Any]) -> str:
    events = ", ".join(f"{k} {n}" for k, n in body["events"].items()) or "none"
    lines = [
        f"{body['caller']} received, {body['since']} to {body['until']}:",
        f"  allowed events: {events}",
        f"  subjects: {body['subjects']}",
    ]
    if body["purged_events"]:
        lines.append(
            f"  purged by retention: {body['purged_events']} allowed events in the"
            " range, whose caller is no longer known: this answer may be incomplete"
        )
    for dataset, fields in body["fields"].items():
        for name, summary in fields.items():
            counts = ", ".join(f"{o} {n}" for o, n in summary["subjects"].items())
            lines.append(f"  {dataset}.{name} ({summary['category'] or '?'}): {counts}")
    for dataset, tags in body["tags"].items():
        for name, fact in tags.items():
            lines.append(
                f"  selected by tag {dataset}:{name} ({fact['category'] or '?'}"
                f"{', sensitive' if fact['sensitive'] else ''}): {fact['subjects']}"
            )
    for r in body["recipients"]:
        abroad = {True: "abroad", False: "in China", None: "?"}[r["cross_border"]]
        lines.append(f"  provided to {r['name']} ({abroad}): {r['subjects']}")
    tokens = body["detokenised"]
    lines.append(f"  detokenised: {tokens['tokens']} tokens {tokens['categories']}")
    if "resolved" in body:
        found = body["resolved"]
        lines.append(f"  resolved: {found['found']}, not found: {found['not_found']}")
    for r in body["records"]:
        fields = " ".join(f"{f}={'/'.join(o)}" for f, o in r["fields"].items())
        fields += "".join(f" tag:{t}" for t in r["selected_by"])
        fields += "".join(f" to:{x['name']}" for x in r["recipients"])
        who = r.get("subject_id") or "-"
        lines.append(
            f"{r['dataset']}  {who}  {r['subject_ref']}  {fields}  "
            f"({r['events']} events, {r['first']} to {r['last']})"
        )
    return "\n".join(lines)


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _audited(
    settings: Settings,
    kind: str,
    work: Callable[[AsyncEngine, Trail], Awaitable[T]],
    *,
    then: Callable[[AsyncEngine, Trail, T], Awaitable[U]],
) -> U:
    """Run `work` on the store as one audited action of the CLI, then `then`.

    The event is written as `governance.trail.audited` writes it (allowed, or
    denied with the refusal's code), but without its service log line: a
    command's stdout is only its answer. `then` runs with `work`'s result once
    the event is committed, so what it prints or writes leaves only after
    the event is durable.
    """

    async def run(store: AsyncEngine) -> U:
        writer = AuditWriter(store)
        await writer.start()
        trail = Trail(kind=kind, caller=Actor.CLI, detail={"os_user": os_user()})
        try:
            result = await _outcome_recorded(writer, trail, work(store, trail))
        finally:
            await writer.stop()
        return await then(store, trail, result)

    return with_store(settings, run)


async def _outcome_recorded(writer: AuditWriter, trail: Trail, work: Awaitable[T]) -> T:
    try:
        result = await work
    except GovernanceError as exc:
        outcome = Outcome.DENIED if exc.status < 500 else Outcome.ERROR
        await writer.append(trail.draft(outcome, exc.code))
        raise
    except Exception:
        await writer.append(trail.draft(Outcome.ERROR, "internal_error"))
        raise
    await writer.append(trail.draft(Outcome.ALLOWED, None))
    return result


async def _as_is(_store: AsyncEngine, _trail: Trail, result: T) -> T:
    return result


def _filter(args: argparse.Namespace, settings: Settings) -> EventFilter:
    """The filter the command's options ask for, checked as the API checks it."""
    given = {
        dest: value
        for dest, _ in _FILTER_OPTIONS.values()
        if (value := getattr(args, dest, None)) is not None
    }
    return event_filter(given, lambda subject: _referencer(settings)(subject))


def _referencer(settings: Settings) -> Callable[[str], str]:
    return subject_referencer(_keys(settings).key("subject_ref")[1])


def _keys(settings: Settings) -> LocalKeyProvider:
    """The configured key file; it must exist (a review never creates keys)."""
    if not settings.keys_file.is_file():
        raise ConfigurationError(f"{settings.keys_file}: no key file")
    return LocalKeyProvider(settings.keys_file, read_only=True)


def _public_keys(args: argparse.Namespace) -> list[str]:
    """The PEMs of `--public-key` (a file may hold several), else every version
    of the configured key file's audit signing key."""
    path: Path | None = args.public_key
    if path is None:
        return [pem for _, pem in public_keys_of(_keys(settings_of(args)))]
    text = _read_pem(path)
    return [m.group(0) for m in _PEM.finditer(text)] or [text]


def _read_pem(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read public key: {exc}") from None
