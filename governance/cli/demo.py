"""`govproxy demo`: prepare the demo deployment, print how to call it, and serve it."""

import argparse
from pathlib import Path
from typing import Any

from governance.demo.setup import DemoDeployment, prepare_demo

DEFAULT_CUSTOMERS = 10_000


def add_parser(sub: Any) -> None:
    """Register `demo`."""
    demo = sub.add_parser(
        "demo", help="build (once) and serve a demo over synthetic data"
    )
    demo.add_argument("--data-dir", type=Path, default=Path("demo"))
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    demo.add_argument("--no-serve", action="store_true", help="prepare only")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Prepare and serve the demo."""
    deployment = prepare_demo(
        args.data_dir.resolve(),
        seed=args.seed,
        customers=args.customers,
        port=args.port,
        host=args.host,
    )
    print(walkthrough(deployment, args.data_dir))
    if not args.no_serve:
        import uvicorn  # only to serve, as in `serve`

        from governance.api.protocol import ProblemHttpProtocol
        from governance.app import create_app

        settings = deployment.settings
        uvicorn.run(
            create_app(settings),
            host=settings.server.host,
            port=settings.server.port,
            log_level="warning",
            http=ProblemHttpProtocol,
        )
    return 0


def walkthrough(deployment: DemoDeployment, data_dir: Path) -> str:
    """How to call the demo, with its real keys."""
    server = deployment.settings.server
    base = f"http://{server.host}:{server.port}"
    keys = {c["name"]: c["key"] for c in deployment.credentials}
    sms, app, officer = (
        keys["campaign-sms"],
        keys["brand-app"],
        keys["compliance-officer"],
    )
    return f"""
Governance Proxy demo on {base}  (data and keys in {data_dir}/, keys in demo-credentials.json)

  # one customer's record for SMS marketing (masked as the policy says)
  curl -s -H 'Authorization: Bearer {sms}' -H 'X-Purpose: marketing_push' \\
       {base}/v1/datasets/customers/records/C000002

  # phone and nickname of customers tagged 高消费 or 母婴, for marketing_push
  curl -s -H 'Authorization: Bearer {sms}' -H 'X-Purpose: marketing_push' \\
       -H 'Content-Type: application/json' {base}/v1/datasets/customers/query \\
       -d '{{"fields": ["mobile", "nickname"], "limit": 5,
            "where": {{"tags_any": ["高消费", "母婴"]}}}}'

  # withdraw that customer's marketing consent, then read again: 403 consent_withdrawn
  curl -s -X POST -H 'Authorization: Bearer {app}' \\
       {base}/v1/subjects/C000002/consents/marketing_push/withdraw

  # as the compliance officer: the customer's audit events, and verify the trail
  curl -s -H 'Authorization: Bearer {officer}' '{base}/v1/audit/events?subject_id=C000002'
  curl -s -H 'Authorization: Bearer {officer}' {base}/v1/audit/verify

API reference: {base}/docs      Stop with Ctrl-C.
"""
