"""`govproxy keys list|rotate`: the versions of the local key file's keys, never a secret.

A rotation is an admin action: it is audited (`key.rotated`, the key's name
and new version, never the secret) before the new file replaces the old one,
so a rotation the trail could not record does not happen.
"""

import argparse
from typing import Any

from adapters.keys.local import KEY_NAMES, LocalKeyProvider, rotate
from governance.cli.admin import audited_by_cli, settings_of, with_store

# What a new version changes, printed after a rotation.
EFFECTS = {
    "pseudonymise": "new pseudonyms are made under it (pvN_), so they differ from"
    " earlier ones: joins across the rotation need both",
    "tokenise": "new tokens are made under it (tkN_); tokens of every version still"
    " in the file can be detokenised",
    "cursor": "query cursors issued before the restart are refused (invalid_cursor):"
    " callers start their scans again",
    "receipt_signing": "new consent receipts are signed with it; earlier receipts"
    " still verify: `govproxy consent public-key --all` lists every version",
    "center_link": "consent-center links issued before the restart stop working;"
    " callers ask for new ones",
    "audit_signing": "new checkpoints and export manifests are signed with it;"
    " `govproxy audit public-key` lists every version for auditors",
}


def add_parser(sub: Any) -> None:
    """Register `keys` and its subcommands."""
    keys = sub.add_parser("keys", help="the local key file's keys and their versions")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    ksub.add_parser("list", help="key names and versions").set_defaults(run=list_keys)
    command = ksub.add_parser("rotate", help="add a new current version of a key")
    command.add_argument("name", help=", ".join(EFFECTS))
    command.set_defaults(run=rotate_key)


def list_keys(args: argparse.Namespace) -> int:
    """Print each key's versions, the current one last; the file is only read."""
    provider = LocalKeyProvider(settings_of(args).keys_file, read_only=True)
    for name in KEY_NAMES:
        current, _ = provider.key(name)
        others = sorted(
            (v for v in provider.versions(name) if v != current),
            key=lambda v: int(v[1:]),
        )
        print(f"{name}: {current} (current){''.join(', ' + v for v in others)}")
    return 0


def rotate_key(args: argparse.Namespace) -> int:
    """Add a version of one key; it is current from the proxy's next start."""
    settings = settings_of(args)
    path = settings.keys_file

    def record(version: str) -> None:
        detail = {"name": args.name, "version": version}
        with_store(settings, lambda store: audited_by_cli(store, "key.rotated", detail))

    version = rotate(path, args.name, record=record)
    print(f"{path}: {args.name} is now {version}; older versions are kept.")
    print(f"Restart every proxy worker to use it: {EFFECTS[args.name]}.")
    return 0
