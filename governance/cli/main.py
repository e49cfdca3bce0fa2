"""`govproxy` (also `python -m governance`): run, demo and administer the proxy.

Commands print plain text for people; a failing command exits non-zero with a
one-line reason on stderr and never a stack trace. A store that cannot be used
exits 2 naming the error's type only: SQLAlchemy's text may quote values, and
a driver's (a refused or unresolvable host) may quote the store's address. A
migration that refuses to run (`governance.schema.MigrationRefused`) exits 2
with its own message, which names counts only.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from governance.cli import (
    admin,
    audit,
    consent,
    consent_expire,
    consent_import,
    db,
    demo,
    keys,
    pii,
    policy,
)
from governance.errors import ConfigurationError, GovernanceError
from governance.schema import MigrationRefused


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govproxy", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--config", type=Path, help="settings file (else GOV_CONFIG_FILE)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (each with its own audit chain and policy engine)",
    )
    serve.set_defaults(run=admin.serve)

    demo.add_parser(sub)
    admin.add_parsers(sub)
    audit.add_parser(sub)
    db.add_parser(sub)
    keys.add_parser(sub)
    consent_commands = consent.add_parser(sub)
    consent_import.add_parser(consent_commands)
    consent_expire.add_parser(consent_commands)
    policy.add_parser(sub)
    pii.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run one command, return its exit status."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ConfigurationError, GovernanceError) as exc:
        print(f"govproxy: {exc}", file=sys.stderr)
        return 2
    except MigrationRefused as exc:
        print(f"govproxy: the store was not upgraded: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:  # the type only: see the module doc
        print(
            f"govproxy: the store could not be used ({type(exc).__name__}: locked,"
            " unreachable or failing); the transaction it failed in is rolled back",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
