"""The line that confirms a tap, said only when the ledger shows it is true.

After a change the page is reached by a redirect whose query says what
happened. The query is not believed: anyone can type one, and a reload repeats
it. A confirmation names the consent events the change recorded (`done=`, their
unguessable ids); it is shown only while each of them is this subject's, was
made on this page a moment ago and is still the last word on its purpose. A
tap that changed nothing says so (`unchanged=`), and only while the state the
page shows agrees, so that too cannot claim what is not so.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from governance.catalog import Catalog
from governance.center.labels import purpose_title
from governance.consent.ledger import PERSONALISATION, ConsentAction, as_utc
from governance.consent.models import ConsentEvent
from governance.types import Actor

FRESH = timedelta(minutes=2)
MAX_IDS = 16
MARKETING = "marketing"  # `unchanged=` after 撤回全部营销


def done_query(event_ids: Sequence[str], unchanged: str) -> dict[str, str]:
    """The redirect's query after a change: its events, or what stayed as it was."""
    return {"done": ",".join(event_ids)} if event_ids else {"unchanged": unchanged}


def message(
    catalog: Catalog,
    events: list[ConsentEvent],
    *,
    withdrawable: frozenset[str],
    personalisation: bool,
    done: str | None,
    unchanged: str | None,
    now: datetime,
) -> str | None:
    """The confirmation to show, or None when the query claims nothing true."""
    if done:
        return _confirmation(catalog, events, done.split(",", MAX_IDS), now)
    if unchanged == PERSONALISATION:
        state = "未被关闭" if personalisation else "已是关闭状态"
        return f"个性化推荐{state}，没有更改。"
    marketing = {p.name for p in catalog.purposes.values() if p.marketing}
    if unchanged == MARKETING and not marketing & withdrawable:
        return "没有需要撤回的营销授权。"
    if unchanged in catalog.purposes and unchanged not in withdrawable:
        return "没有需要撤回的同意。"
    return None


def _confirmation(
    catalog: Catalog, events: list[ConsentEvent], ids: list[str], now: datetime
) -> str | None:
    backed = [e for e in events if e.event_id in ids and _current(e, events, now)]
    if not backed or len(backed) != len(set(ids)):
        return None
    actions = {e.action for e in backed}
    if actions == {ConsentAction.OPTED_OUT}:
        return "已关闭个性化推荐，立即生效。"
    if actions == {ConsentAction.OPTED_IN}:
        return "已重新允许个性化推荐，仅用于您同意的用途。"
    if actions == {ConsentAction.WITHDRAWN}:
        titles = "、".join(f"「{_title(catalog, e.purpose)}」" for e in backed)
        return f"已撤回{titles}的同意，立即生效。"
    return None


def _current(event: ConsentEvent, events: list[ConsentEvent], now: datetime) -> bool:
    """Made on this page within FRESH of `now`, and not followed on its purpose."""
    later = [e for e in events if e.purpose == event.purpose][-1]
    return (
        event.recorded_by == Actor.CONSENT_CENTER
        and timedelta(0) <= now - as_utc(event.recorded_at) <= FRESH
        and later.event_id == event.event_id
    )


def _title(catalog: Catalog, name: str) -> str:
    purpose = catalog.purposes.get(name)
    return purpose_title(purpose.description, name) if purpose else name
