"""Nothing in the scanner, nor in its Presidio wrapper, reaches for the network.

Presidio's default engine would load (and spaCy would offer to download) an NLP
model; `build_analyzer` uses `NoOpNlpEngine`. Every socket connection attempt
fails in these tests, so any component that tried one would fail them.
"""

import socket

import pytest

from governance.pii import scan
from governance.pii.presidio import build_analyzer

TEXT = "联系人：张伟，电话138 1234 5678，邮箱 wei@mail.example，IP 192.0.2.1"


class NetworkUsed(AssertionError):
    """Raised by the patched socket: something tried to connect."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every outgoing connection and name lookup raise."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsed("a component tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_scanner_runs_offline():
    """The fast path finds everything without a connection."""
    assert [e.type.value for e in scan(TEXT)] == [
        "PERSON",
        "CN_MOBILE",
        "EMAIL_ADDRESS",
        "IP_ADDRESS",
    ]


def test_the_presidio_analyzer_builds_and_analyzes_offline():
    """No model is loaded or downloaded; the results match the fast path's spans."""
    analyzer = build_analyzer()

    results = analyzer.analyze(TEXT, language="zh")

    assert sorted((r.entity_type, r.start, r.end) for r in results) == sorted(
        (e.type.value, e.start, e.end) for e in scan(TEXT)
    )
