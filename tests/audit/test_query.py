"""Officer listings over a real store: every filter, keyset pages, cursors bound to filters."""

import pytest
from trail_rows import at, insert_trail, on_store, query, read, store_url

from audit.query import EventFilter, conditions, encode_cursor, list_events, scan
from governance.errors import InvalidCursor

# One event per line; what each filter below should select is easy to read off.
TRAIL = [
    read("s_a", at(1)),
    read("s_b", at(2), outcome="denied", reason="consent_missing"),
    read("s_a", at(3), caller="brand-app", purpose="order_fulfilment"),
    read("s_c", at(4), dataset="orders"),
    query(["s_a", "s_b"], at(5)),
    read("s_d", at(6), kind="access.detokenise", subject_ref=None),
]


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def url(request, tmp_path_factory):
    """A store of each kind holding TRAIL (read only: shared by the module)."""
    with store_url(request.param, tmp_path_factory.mktemp("query")) as found:
        on_store(found, lambda store: insert_trail(store, TRAIL))
        yield found


def listed(url: str, f: EventFilter, *, limit: int = 100) -> list[str]:
    """The instants of the first page of events `f` selects, newest first."""

    async def body(store):
        page, _ = await list_events(store, f, limit=limit, cursor=None)
        return [e["ts"] for e in page]

    return on_store(url, body)


@pytest.mark.parametrize(
    ("chosen", "days"),
    [
        (EventFilter(subject_ref="s_a"), [5, 3, 1]),
        (EventFilter(caller="brand-app"), [3]),
        (EventFilter(purpose="order_fulfilment"), [3]),
        (EventFilter(dataset="orders"), [4]),
        (EventFilter(outcome="denied"), [2]),
        (EventFilter(reason="consent_missing"), [2]),
        (EventFilter(kind="access.query"), [5]),
        (EventFilter(since=at(2), until=at(4)), [3, 2]),
        (EventFilter(subject_ref="s_b", kind="access.read"), [2]),
    ],
    ids=[
        "subject-with-its-query",
        "caller",
        "purpose",
        "dataset",
        "outcome",
        "reason",
        "kind",
        "since-inclusive-until-exclusive",
        "combined",
    ],
)
def test_each_filter_selects_exactly_its_events(url, chosen, days):
    """Every filter, alone or combined, lists exactly the events it names."""
    assert listed(url, chosen) == [at(d) for d in days]


def test_pages_walk_every_event_once_newest_first(url):
    """Pages of two, cursor to cursor, list all six events once, newest first."""

    async def body(store):
        seen, cursor = [], None
        while True:
            page, cursor = await list_events(
                store, EventFilter(), limit=2, cursor=cursor
            )
            seen += [e["ts"] for e in page]
            if cursor is None:
                return seen

    assert on_store(url, body) == [at(d) for d in range(6, 0, -1)]


class TestCursors:
    """A cursor belongs to the listing that issued it."""

    def first_cursor(self, url: str, f: EventFilter) -> str:
        """The next cursor of a one-event page of `f`."""

        async def body(store):
            return (await list_events(store, f, limit=1, cursor=None))[1]

        return on_store(url, body)

    def follow(self, url: str, f: EventFilter, cursor: str) -> list[dict]:
        """The page a cursor leads to under `f`."""

        async def body(store):
            return (await list_events(store, f, limit=10, cursor=cursor))[0]

        return on_store(url, body)

    def test_when_a_cursor_is_used_with_other_filters_then_invalid_cursor(self, url):
        """A cursor issued for caller campaign-sms does not page brand-app's events."""
        cursor = self.first_cursor(url, EventFilter(caller="campaign-sms"))

        with pytest.raises(InvalidCursor, match="other filters"):
            self.follow(url, EventFilter(caller="brand-app"), cursor)

    def test_a_cursor_with_its_own_filters_continues_the_listing(self, url):
        """The same filters take the cursor to the next page."""
        chosen = EventFilter(caller="campaign-sms")
        cursor = self.first_cursor(url, chosen)

        assert [e["ts"] for e in self.follow(url, chosen, cursor)] == [
            at(5),
            at(4),
            at(2),
            at(1),
        ]

    @pytest.mark.parametrize(
        "cursor",
        [
            "not-a-cursor",
            "",
            encode_cursor({"ts": at(3), "chain_id": "c", "seq": 1}),
            "bm90IGpzb24.0123456789abcdef",
            "WyJ4IiwieSIsMV0.指纹",
        ],
        ids=[
            "garbage",
            "empty",
            "decision-log-cursor",
            "fingerprint-on-garbage",
            "non-ascii-fingerprint",
        ],
    )
    def test_when_a_cursor_is_malformed_or_foreign_then_invalid_cursor(
        self, url, cursor
    ):
        """Garbage, a blank cursor or the decision log's unbound cursor is refused."""
        with pytest.raises(InvalidCursor):
            self.follow(url, EventFilter(), cursor)


def test_a_scan_with_many_events_at_one_instant_sees_each_once(tmp_path):
    """Keyset pages break ties on chain and sequence: 25 events at one instant, pages of 4."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
    same = [read(f"s_{n}", at(9)) for n in range(25)]

    async def body(store):
        await insert_trail(store, same[:12], chain="a" * 32)
        await insert_trail(store, same[12:], chain="b" * 32)
        seen = []
        async for page in scan(store, conditions(EventFilter()), [], page=4):
            assert len(page) <= 4
            seen += [(r["chain_id"], r["seq"]) for r in page]
        return seen

    seen = on_store(url, body)

    assert seen == sorted(seen)
    assert len(set(seen)) == 25
