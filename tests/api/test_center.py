"""The consent center: sealed links, the subject's page, and one-tap changes that hold at once."""

import base64
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from factories import auth, subjects

from adapters.keys.local import LocalKeyProvider
from governance.center.links import LinkSigner

GRANT = {
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}
CONSENT_PURPOSES = (
    "marketing_push",
    "personalised_recommendation",
    "maternal_care_recommendation",
    "analytics",
)
REFUSED = "链接无效或已过期"


def governance_rows(demo_dir, sql, *params):
    """Rows of a query on the demo's governance store."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return conn.execute(sql, params).fetchall()


def fresh_adults(demo_dir):
    """Adult demo subjects without any consent event."""
    known = {
        r[0] for r in governance_rows(demo_dir, "SELECT subject_id FROM consent_events")
    }
    return [s for s in subjects(demo_dir, minor=False) if s not in known]


def signer(demo_dir):
    """A link signer holding the deployment's own `center_link` key."""
    return LinkSigner(LocalKeyProvider(demo_dir / "keys.json").key("center_link")[1])


def issue(client, keys, subject_id, caller="brand-app", **body):
    """Ask the link API for a consent-center link."""
    return client.post(
        f"/v1/subjects/{subject_id}/consent-center-link",
        json=body or None,
        headers=auth(keys[caller]),
    )


def center_url(client, keys, subject_id):
    """The page path of a freshly issued link."""
    response = issue(client, keys, subject_id)
    assert response.status_code == 201
    return response.json()["url"]


def grant(client, keys, subject_id, purpose="marketing_push", **extra):
    """Record a consent through the API as the brand's app."""
    response = client.post(
        f"/v1/subjects/{subject_id}/consents",
        json={"purpose": purpose, **GRANT, **extra},
        headers=auth(keys["brand-app"]),
    )
    assert response.status_code == 201


def read(client, keys, subject_id, caller="campaign-sms", purpose="marketing_push"):
    """A governed read of the subject's record."""
    return client.get(
        f"/v1/datasets/customers/records/{subject_id}",
        headers=auth(keys[caller], purpose),
    )


def card_state(html, purpose):
    """The `data-state` of a purpose's card on the page, or None without a card."""
    found = re.search(rf'data-purpose="{purpose}" data-state="(\w+)"', html)
    return found.group(1) if found else None


def card(html, purpose):
    """The HTML of one purpose's card."""
    start = html.index(f'data-purpose="{purpose}"')
    return html[start : html.index("</article>", start)]


class TestLinkApi:
    def test_when_a_service_asks_then_a_sealed_link_is_issued(
        self, client, keys, demo_dir
    ):
        """The link is a page path whose token names nobody, valid for 30 minutes."""
        sid = fresh_adults(demo_dir)[0]
        before = datetime.now(UTC)

        response = issue(client, keys, sid)
        after = datetime.now(UTC)

        body = response.json()
        expires = datetime.fromisoformat(body["expires_at"])
        token = body["url"].removeprefix("/consent-center/")
        assert response.status_code == 201
        assert body["url"].startswith("/consent-center/")
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert sid.encode() not in base64.urlsafe_b64decode(token + "==")
        assert signer(demo_dir).open(token, now=datetime.now(UTC)) == sid
        assert before + timedelta(minutes=29) < expires <= after + timedelta(minutes=30)
        assert response.headers["Cache-Control"] == "no-store"

    def test_when_an_admin_sets_ttl_then_the_link_expires_then(
        self, client, keys, demo_dir
    ):
        """`ttl_minutes` bounds the link's life."""
        sid = fresh_adults(demo_dir)[0]
        before = datetime.now(UTC)

        response = issue(client, keys, sid, caller="platform-admin", ttl_minutes=5)
        after = datetime.now(UTC)

        expires = datetime.fromisoformat(response.json()["expires_at"])
        assert response.status_code == 201
        assert before + timedelta(minutes=4) < expires <= after + timedelta(minutes=5)

    def test_when_an_officer_asks_then_forbidden_role(self, client, keys, demo_dir):
        """Only services and admins hand out links."""
        response = issue(
            client, keys, fresh_adults(demo_dir)[0], caller="compliance-officer"
        )

        assert response.status_code == 403
        assert response.json()["code"] == "forbidden_role"

    def test_when_no_key_then_unauthenticated(self, client, demo_dir):
        """The link API needs a caller key."""
        sid = fresh_adults(demo_dir)[0]

        response = client.post(f"/v1/subjects/{sid}/consent-center-link")

        assert response.status_code == 401

    @pytest.mark.parametrize(
        "ttl", [0, 1441, "forever"], ids=["zero", "over-a-day", "text"]
    )
    def test_when_ttl_out_of_range_then_invalid_request(
        self, client, keys, demo_dir, ttl
    ):
        """A link lives one minute to one day."""
        response = issue(client, keys, fresh_adults(demo_dir)[0], ttl_minutes=ttl)

        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"

    def test_when_subject_unknown_then_404(self, client, keys):
        """No link for a subject no catalogued dataset holds."""
        response = issue(client, keys, "NO-SUCH-CUSTOMER")

        assert response.status_code == 404
        assert response.json()["code"] == "unknown_subject"

    def test_when_issued_then_audited_without_the_token(self, client, keys, demo_dir):
        """Issuing is audited as consent.center_link; the trail never holds the token."""
        sid = fresh_adults(demo_dir)[0]
        token = center_url(client, keys, sid).removeprefix("/consent-center/")

        events = client.get(
            "/v1/audit/events",
            params={"subject_id": sid},
            headers=auth(keys["compliance-officer"]),
        ).json()["events"]

        linked = [e for e in events if e["kind"] == "consent.center_link"]
        assert [(e["caller"], e["outcome"]) for e in linked] == [
            ("brand-app", "allowed")
        ]
        assert token not in str(events)

    def test_when_reading_openapi_then_only_the_link_api_is_listed(self, client):
        """The HTML routes stay out of the API description."""
        paths = client.get("/openapi.json").json()["paths"]

        assert "/v1/subjects/{subject_id}/consent-center-link" in paths
        assert not [p for p in paths if p.startswith("/consent-center")]


class TestPage:
    def test_when_opened_then_every_consent_purpose_has_a_card(
        self, client, keys, demo_dir
    ):
        """A phone-ready Chinese page with one card per consent purpose, none for contracts."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)

        response = client.get(center_url(client, keys, sid))

        html = response.text
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert '<html lang="zh-CN">' in html
        assert (
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            in html
        )
        assert "<script" not in html
        assert [card_state(html, p) for p in CONSENT_PURPOSES] == [
            "granted",
            "none",
            "none",
            "none",
        ]
        assert card_state(html, "order_fulfilment") is None

    def test_when_granted_then_the_card_shows_notice_scope_and_time(
        self, client, keys, demo_dir
    ):
        """The agreed notice's summary, its categories in Chinese, the time and a 撤回 button."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)

        html = card(client.get(center_url(client, keys, sid)).text, "marketing_push")

        assert "营销推送" in html
        assert "已同意" in html
        assert "每月不超过 4 次" in html
        assert "姓名、昵称、手机号、电子邮箱" in html
        assert "告知版本 2026.01" in html
        assert re.search(
            r"同意时间：\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d（北京时间）", html
        )
        assert ">撤回</button>" in html

    def test_when_never_granted_then_no_withdraw_button(self, client, keys, demo_dir):
        """未同意 cards explain the purpose but offer nothing to withdraw."""
        sid = fresh_adults(demo_dir)[0]

        html = client.get(center_url(client, keys, sid)).text

        assert "未同意" in card(html, "analytics")
        assert "撤回</button>" not in html
        assert "撤回全部营销" not in html

    def test_when_consent_cites_an_outdated_notice_then_stale(
        self, client, keys, demo_dir
    ):
        """A grant on the retired 2025.06 notice shows 需重新确认 with what was agreed."""
        stale = governance_rows(
            demo_dir,
            "SELECT subject_id FROM consent_events e WHERE purpose = 'marketing_push'"
            " AND notice_version = '2025.06' AND action = 'granted' AND NOT EXISTS ("
            " SELECT 1 FROM consent_events l WHERE l.subject_id = e.subject_id"
            " AND l.purpose = e.purpose AND l.id > e.id)",
        )[0][0]

        html = card(client.get(center_url(client, keys, stale)).text, "marketing_push")

        assert 'data-state="stale"' in html
        assert "需重新确认" in html
        assert (
            "向您发送优惠活动短信" in html
        )  # the 2025.06 summary the subject agreed to
        assert ">撤回</button>" in html

    def test_when_opened_then_audited_as_the_subjects_own_read(
        self, client, keys, demo_dir
    ):
        """Viewing the page is a consent.read by consent-center."""
        sid = fresh_adults(demo_dir)[0]
        client.get(center_url(client, keys, sid))

        events = client.get(
            "/v1/audit/events",
            params={"subject_id": sid, "caller": "consent-center"},
            headers=auth(keys["compliance-officer"]),
        ).json()["events"]

        assert [e["kind"] for e in events] == ["consent.read"]

    def test_when_served_then_it_cannot_be_framed_cached_or_leak_referrers(
        self, client, keys, demo_dir
    ):
        """The page forbids framing (one-tap buttons), caching and referrers."""
        response = client.get(center_url(client, keys, fresh_adults(demo_dir)[0]))

        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"

    def test_when_subject_id_holds_markup_then_it_is_escaped(self, client, demo_dir):
        """Whatever the token names is shown as text, never as markup."""
        token = signer(demo_dir).issue(
            "<script>alert(1)</script>", ttl=timedelta(minutes=5), now=datetime.now(UTC)
        )

        response = client.get(f"/consent-center/{token}")

        assert response.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
        assert "<script" not in response.text


class TestChanges:
    def test_when_withdrawn_on_the_page_then_the_next_read_is_refused(
        self, client, keys, demo_dir
    ):
        """One tap withdraws; the very next governed read is consent_withdrawn."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)
        url = center_url(client, keys, sid)
        before = read(client, keys, sid)

        tapped = client.post(f"{url}/withdraw/marketing_push", follow_redirects=False)
        after = read(client, keys, sid)
        page = client.get(tapped.headers["location"]).text

        assert before.status_code == 200
        assert tapped.status_code == 303
        assert tapped.headers["location"].startswith(f"{url}?done=")
        assert "已撤回「营销推送」的同意，立即生效。" in page
        assert after.status_code == 403
        assert after.json()["code"] == "consent_withdrawn"
        assert card_state(page, "marketing_push") == "withdrawn"
        assert "已撤回" in card(page, "marketing_push")
        assert "撤回时间：" in card(page, "marketing_push")

    @pytest.mark.parametrize("tap", ["withdraw/marketing_push", "withdraw-marketing"])
    def test_when_tapped_twice_at_once_then_one_withdrawal(
        self, client, keys, demo_dir, tap
    ):
        """A double tap (two POSTs in flight together) ends the grant once; both
        taps land back on the page."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)
        url = center_url(client, keys, sid)

        with ThreadPoolExecutor(2) as pool:
            taps = list(
                pool.map(
                    lambda _: client.post(f"{url}/{tap}", follow_redirects=False),
                    range(2),
                )
            )

        withdrawals = governance_rows(
            demo_dir,
            "SELECT count(*) FROM consent_events WHERE subject_id = ?"
            " AND action = 'withdrawn'",
            sid,
        )
        assert [t.status_code for t in taps] == [303, 303]
        assert withdrawals == [(1,)]

    def test_when_withdrawn_then_the_ledger_names_the_center_and_h5(
        self, client, keys, demo_dir
    ):
        """The withdrawal is recorded by consent-center, channel h5, as the user's request."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)

        client.post(f"{center_url(client, keys, sid)}/withdraw/marketing_push")

        rows = governance_rows(
            demo_dir,
            "SELECT action, method, channel, recorded_by FROM consent_events"
            " WHERE subject_id = ? ORDER BY id",
            sid,
        )
        assert rows[-1] == ("withdrawn", "user_request", "h5", "consent-center")

    def test_when_all_marketing_withdrawn_then_only_marketing_ends(
        self, client, keys, demo_dir
    ):
        """撤回全部营销 ends every marketing consent and leaves analytics as it was."""
        sid = fresh_adults(demo_dir)[0]
        for purpose in ("marketing_push", "personalised_recommendation", "analytics"):
            grant(client, keys, sid, purpose)
        url = center_url(client, keys, sid)

        tapped = client.post(f"{url}/withdraw-marketing", follow_redirects=False)
        page = client.get(url).text

        assert tapped.status_code == 303
        assert [card_state(page, p) for p in CONSENT_PURPOSES] == [
            "withdrawn",
            "withdrawn",
            "none",
            "granted",
        ]
        assert read(client, keys, sid).json()["code"] == "consent_withdrawn"

    def test_when_personalisation_turned_off_then_recommendation_reads_are_refused(
        self, client, keys, demo_dir
    ):
        """关闭个性化推荐 holds for the next personalised read; 开启 restores it (A-01)."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid, "personalised_recommendation")
        url = center_url(client, keys, sid)
        rec = {"caller": "brand-app", "purpose": "personalised_recommendation"}

        off = client.post(
            f"{url}/personalisation", data={"enabled": "false"}, follow_redirects=False
        )
        refused = read(client, keys, sid, **rec)
        page_off = client.get(url).text
        client.post(f"{url}/personalisation", data={"enabled": "true"})
        allowed = read(client, keys, sid, **rec)

        assert off.status_code == 303
        assert refused.status_code == 403
        assert refused.json()["code"] == "personalisation_opted_out"
        assert 'data-enabled="false"' in page_off
        assert "开启个性化推荐" in page_off
        assert allowed.status_code == 200

    @pytest.mark.parametrize(
        "body", ["", "enabled=maybe", "enabled=true&enabled=false"]
    )
    def test_when_switch_value_is_not_a_boolean_then_400_page(
        self, client, keys, demo_dir, body
    ):
        """The switch takes enabled=true or enabled=false and nothing else."""
        url = center_url(client, keys, fresh_adults(demo_dir)[0])

        response = client.post(
            f"{url}/personalisation",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

        assert response.status_code == 400
        assert "请求无效" in response.text

    @pytest.mark.parametrize("purpose", ["no_such_purpose", "order_fulfilment"])
    def test_when_purpose_is_no_consent_purpose_then_404_page(
        self, client, keys, demo_dir, purpose
    ):
        """Only consent purposes can be withdrawn; contracts are not consent (C-10)."""
        url = center_url(client, keys, fresh_adults(demo_dir)[0])

        response = client.post(f"{url}/withdraw/{purpose}")

        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "未找到该授权项目" in response.text


def forged(demo_dir, sid):
    """A token of the right shape that no key sealed."""
    return "AQ" + "A" * 100


def tampered(demo_dir, sid):
    """A genuine token with one character changed."""
    token = signer(demo_dir).issue(sid, ttl=timedelta(minutes=5), now=datetime.now(UTC))
    return token[:20] + ("B" if token[20] != "B" else "C") + token[21:]


def expired(demo_dir, sid):
    """A genuine token issued an hour ago for thirty minutes."""
    issued = datetime.now(UTC) - timedelta(hours=1)
    return signer(demo_dir).issue(sid, ttl=timedelta(minutes=30), now=issued)


def other_key(demo_dir, sid):
    """A token sealed by another deployment's key."""
    return LinkSigner(b"k" * 32).issue(
        sid, ttl=timedelta(minutes=5), now=datetime.now(UTC)
    )


class TestRefusedTokens:
    @pytest.mark.parametrize("make", [forged, tampered, expired, other_key])
    @pytest.mark.parametrize(
        ("method", "path", "data"),
        [
            ("GET", "", None),
            ("POST", "/withdraw/marketing_push", None),
            ("POST", "/withdraw-marketing", None),
            ("POST", "/personalisation", {"enabled": "false"}),
        ],
        ids=["page", "withdraw", "withdraw-marketing", "personalisation"],
    )
    def test_when_token_is_not_good_then_403_page_and_nothing_changes(
        self, client, keys, demo_dir, make, method, path, data
    ):
        """Forged, tampered, expired or foreign tokens get a Chinese 403 page; consent stands."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)

        response = client.request(
            method, f"/consent-center/{make(demo_dir, sid)}{path}", data=data
        )

        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert REFUSED in response.text
        assert "Traceback" not in response.text
        assert read(client, keys, sid).status_code == 200

    @pytest.mark.parametrize("junk", [".~!*", "....", "~~~~", "!!!!"])
    def test_a_link_has_one_spelling(self, client, keys, demo_dir, junk):
        """Characters outside the token's alphabet are not skipped: a link has no
        other working spellings for filters or revocations to miss."""
        sid = fresh_adults(demo_dir)[0]
        token = center_url(client, keys, sid).removeprefix("/consent-center/")

        response = client.get(f"/consent-center/{token[:10]}{junk}{token[10:]}")

        assert response.status_code == 403
        assert REFUSED in response.text


class TestAccessHistory:
    def test_when_callers_read_then_the_page_lists_who_why_when_and_outcome(
        self, client, keys, demo_dir
    ):
        """An allowed read is listed as a read; a refused one as an attempt, with why."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)
        url = center_url(client, keys, sid)
        read(client, keys, sid)
        client.post(f"{url}/withdraw/marketing_push")
        read(client, keys, sid)

        html = client.get(url).text

        lines = re.findall(r'<li class="access">(.*?)</li>', html)
        tries = re.findall(r'<li class="attempt">(.*?)</li>', html)
        assert len(lines) == 1
        assert "campaign-sms" in lines[0]
        assert "营销推送" in lines[0]
        assert "查看了您的资料" in lines[0]
        assert "已允许" in lines[0]
        assert len(tries) == 1
        assert "campaign-sms" in tries[0]
        assert "营销推送" in tries[0]
        assert "尝试查看您的资料" in tries[0]
        assert "未获允许" in tries[0]
        assert "您已撤回同意" in tries[0]

    def test_reads_show_however_many_other_events_the_subject_has(
        self, client, keys, demo_dir
    ):
        """A read stays listed behind 300 link issues (a caller hiding its read)
        and page views: only reads are looked for."""
        sid = fresh_adults(demo_dir)[0]
        read(client, keys, sid, caller="brand-app", purpose="order_fulfilment")
        for _ in range(300):
            issue(client, keys, sid)
        url = center_url(client, keys, sid)
        for _ in range(5):
            client.get(url)

        html = client.get(url).text

        lines = re.findall(r'<li class="access">(.*?)</li>', html)
        assert len(lines) == 1
        assert "订单履约" in lines[0]

    def test_when_another_subject_is_read_then_it_never_shows(
        self, client, keys, demo_dir
    ):
        """The history holds this subject's accesses only."""
        sid, other = fresh_adults(demo_dir)[:2]
        read(client, keys, sid, caller="brand-app", purpose="order_fulfilment")
        read(client, keys, other, caller="brand-app", purpose="customer_service")

        html = client.get(center_url(client, keys, sid)).text

        lines = re.findall(r'<li class="access">(.*?)</li>', html)
        assert len(lines) == 1
        assert "订单履约" in lines[0]
        assert "客户服务" not in html

    def test_when_an_audience_query_returned_the_subject_then_the_page_lists_it(
        self, client, keys, demo_dir
    ):
        """Queries count too: the subject sees the audience read that included it."""
        tagged = set(subjects(demo_dir, minor=False, tag="母婴"))
        sid, other = [s for s in fresh_adults(demo_dir) if s in tagged][:2]
        grant(client, keys, sid)
        url, other_url = center_url(client, keys, sid), center_url(client, keys, other)
        response = client.post(
            "/v1/datasets/customers/query",
            json={"fields": ["mobile"], "where": {"tags_any": ["母婴"]}, "limit": 500},
            headers=auth(keys["campaign-sms"], "marketing_push"),
        )
        assert response.status_code == 200

        lines = re.findall(r'<li class="access">(.*?)</li>', client.get(url).text)
        assert len(lines) == 1
        assert "在人群筛选中读取了您的资料" in lines[0]
        assert "campaign-sms" in lines[0]
        assert "已允许" in lines[0]
        # Not consented, so left out of the audience: nothing was read about it.
        assert "暂无访问记录" in client.get(other_url).text

    def test_when_nobody_read_then_the_history_says_so(self, client, keys, demo_dir):
        """An empty history is said in words."""
        html = client.get(center_url(client, keys, fresh_adults(demo_dir)[0])).text

        assert "暂无访问记录" in html


def attempt_lines(html):
    """The refused-attempt lines of the access history."""
    return re.findall(r'<li class="attempt">(.*?)</li>', html)


def access_lines(html):
    """The read lines of the access history."""
    return re.findall(r'<li class="access">(.*?)</li>', html)


class TestRefusedAttempts:
    def test_a_flood_of_keyless_requests_never_hides_a_read(
        self, client, keys, demo_dir
    ):
        """Anyone knowing a customer id can make refused requests; the read stays
        listed and the 20 probes are one line with their count."""
        sid = fresh_adults(demo_dir)[0]
        read(client, keys, sid, caller="brand-app", purpose="order_fulfilment")
        for _ in range(20):
            assert (
                client.get(f"/v1/datasets/customers/records/{sid}").status_code == 401
            )

        html = client.get(center_url(client, keys, sid)).text

        lines, tries = access_lines(html), attempt_lines(html)
        assert len(lines) == 1
        assert "brand-app" in lines[0]
        assert "订单履约" in lines[0]
        assert len(tries) == 1
        assert "未知访问方" in tries[0]
        assert "20 次" in tries[0]
        assert "共 20 次，均未返回您的资料" in html

    def test_refused_attempts_are_not_said_to_have_viewed_anything(
        self, client, keys, demo_dir
    ):
        """A 401, 403 or 422 returned nothing: it reads as an attempt, not a view."""
        sid = fresh_adults(demo_dir)[0]
        client.get(f"/v1/datasets/customers/records/{sid}")
        read(client, keys, sid)  # no consent: 403
        read(client, keys, sid, purpose="no_such_purpose")  # 422

        html = client.get(center_url(client, keys, sid)).text

        tries = attempt_lines(html)
        assert len(tries) == 3
        assert all("尝试查看您的资料" in t and "未获允许" in t for t in tries)
        assert "查看了您的资料" not in html
        assert "暂无访问记录" in html

    def test_when_more_reads_than_listed_then_the_page_says_so(
        self, client, keys, demo_dir
    ):
        """The newest 20 reads are listed and the page says older ones are not."""
        sid = fresh_adults(demo_dir)[0]
        url = center_url(client, keys, sid)
        read(client, keys, sid, caller="brand-app", purpose="order_fulfilment")
        before = client.get(url).text
        for _ in range(20):
            read(client, keys, sid, caller="brand-app", purpose="customer_service")

        html = client.get(url).text

        assert "仅显示最近 20 次访问" not in before
        assert len(access_lines(html)) == 20
        assert "仅显示最近 20 次访问" in html
        assert "订单履约" not in html


class TestConfirmations:
    def test_withdrawing_what_was_never_agreed_confirms_nothing(
        self, client, keys, demo_dir
    ):
        """撤回 on a purpose never consented changes nothing and says so."""
        sid = fresh_adults(demo_dir)[0]
        url = center_url(client, keys, sid)

        tapped = client.post(f"{url}/withdraw/coupon_targeting", follow_redirects=False)
        page = client.get(tapped.headers["location"]).text

        assert tapped.status_code == 303
        assert "没有需要撤回的同意" in page
        assert "已撤回" not in page.split("我的授权")[0]

    @pytest.mark.parametrize(
        "query",
        ["done=withdrawn", "done=marketing", "done=personalisation_off",
         "unchanged=marketing_push", "unchanged=marketing"],
    )  # fmt: skip
    def test_a_hand_made_query_shows_no_confirmation(
        self, client, keys, demo_dir, query
    ):
        """Only a change the ledger holds is confirmed; a typed query claims nothing."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)

        html = client.get(f"{center_url(client, keys, sid)}?{query}").text

        assert 'class="done"' not in html

    def test_a_reload_after_the_consent_changed_again_confirms_nothing(
        self, client, keys, demo_dir
    ):
        """Once the subject agreed again, the old withdrawal's page no longer says 已撤回."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)
        url = center_url(client, keys, sid)
        landing = client.post(
            f"{url}/withdraw/marketing_push", follow_redirects=False
        ).headers["location"]
        first = client.get(landing).text
        grant(client, keys, sid)

        again = client.get(landing).text

        assert 'class="done"' in first
        assert 'class="done"' not in again

    def test_all_marketing_withdrawn_names_each_purpose(self, client, keys, demo_dir):
        """撤回全部营销 confirms what it withdrew; a second tap says nothing was left."""
        sid = fresh_adults(demo_dir)[0]
        for purpose in ("marketing_push", "personalised_recommendation"):
            grant(client, keys, sid, purpose)
        url = center_url(client, keys, sid)

        first = client.post(f"{url}/withdraw-marketing").text
        second = client.post(f"{url}/withdraw-marketing").text

        assert "已撤回「营销推送」、「个性化推荐」的同意，立即生效。" in first
        assert "没有需要撤回的营销授权。" in second


class TestPersonalisationWording:
    def test_without_consent_the_switch_does_not_claim_recommendations_are_on(
        self, client, keys, demo_dir
    ):
        """No consent and no opt-out: the card says 未同意 and the switch agrees."""
        sid = fresh_adults(demo_dir)[0]

        html = client.get(center_url(client, keys, sid)).text

        box = html[html.index('id="personalisation"') :]
        assert "未同意" in card(html, "personalised_recommendation")
        assert "个性化推荐：<b>已开启</b>" not in html
        assert "个性化推荐：<b>未关闭</b>" in box
        assert "目前不会为您做个性化推荐" in box

    def test_with_consent_the_switch_says_on(self, client, keys, demo_dir):
        """A consented personalised purpose and no opt-out: 已开启."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid, "personalised_recommendation")

        html = client.get(center_url(client, keys, sid)).text

        assert "个性化推荐：<b>已开启</b>" in html


class TestOtherPaths:
    @pytest.mark.parametrize(
        "path", ["/withdraw/marketing_push", "/withdraw/", "/withdraw-marketing",
                 "/personalisation", "/no/such/page"],
    )  # fmt: skip
    def test_a_get_on_an_action_url_goes_back_to_the_page(
        self, client, keys, demo_dir, path
    ):
        """Opening an action URL as a link changes nothing and shows the page."""
        sid = fresh_adults(demo_dir)[0]
        grant(client, keys, sid)
        url = center_url(client, keys, sid)

        response = client.get(f"{url}{path}", follow_redirects=False)
        page = client.get(f"{url}{path}")

        assert response.status_code == 303
        assert response.headers["location"] == url
        assert page.status_code == 200
        assert card_state(page.text, "marketing_push") == "granted"

    @pytest.mark.parametrize(
        ("method", "path", "status", "words"),
        [("GET", "/withdraw/marketing_push", 403, REFUSED),
         ("PUT", "/withdraw/marketing_push", 403, REFUSED)],
    )  # fmt: skip
    def test_a_bad_link_under_any_path_gets_the_403_page(
        self, client, demo_dir, method, path, status, words
    ):
        """A forged link is refused in Chinese whatever follows it."""
        response = client.request(
            method, f"/consent-center/{forged(demo_dir, '')}{path}"
        )

        assert response.status_code == status
        assert response.headers["content-type"].startswith("text/html")
        assert words in response.text

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
    def test_another_method_or_action_gets_the_404_page(
        self, client, keys, demo_dir, method
    ):
        """No problem+json under the center: an unknown action is the Chinese 404."""
        url = center_url(client, keys, fresh_adults(demo_dir)[0])

        response = client.request(method, f"{url}/no-such-action")

        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "未找到该授权项目" in response.text

    def test_each_withdraw_button_names_its_purpose_and_expiry_is_beijing_time(
        self, client, keys, demo_dir
    ):
        """Screen readers hear which purpose 撤回 withdraws; every time says its zone."""
        sid = fresh_adults(demo_dir)[0]
        until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        grant(client, keys, sid, expires_at=until)

        html = card(client.get(center_url(client, keys, sid)).text, "marketing_push")

        assert 'aria-label="撤回「营销推送」的同意"' in html
        assert re.search(r"有效期至：[^<]*（北京时间）", html)
