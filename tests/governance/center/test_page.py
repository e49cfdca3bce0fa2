"""The consent-center page: every recorded value is text, never markup."""

from datetime import UTC, datetime

import pytest

from governance.center.history import Access, Attempts, History
from governance.center.labels import category_labels, china_time, purpose_title
from governance.center.page import render_center, render_error
from governance.center.view import Card, CenterView

EVIL = '<img src=x onerror="alert(1)">'
AT = datetime(2026, 3, 1, 2, 5, tzinfo=UTC)


def view_of(value):
    """A view whose every free-text field holds `value`."""
    card = Card(
        purpose="marketing_push", title=value, state="granted", summary=value,
        notice_version=value, categories=(value,), agreed_at=AT, ended_at=None,
        expires_at=None, marketing=True, personalised=False,
    )  # fmt: skip
    access = Access(caller=value, purpose=value, action=value, at=AT)
    attempts = Attempts(
        caller=value, purpose=value, action=value, outcome=value, reason=value,
        count=2, last=AT,
    )  # fmt: skip
    history = History((access,), attempts=(attempts,), attempt_total=2)
    return CenterView(
        value, (card,), personalisation=True, history=history, flash=value
    )


def test_when_values_hold_markup_then_it_is_escaped_everywhere():
    """Titles, notices, categories, callers, outcomes and the subject id are escaped."""
    html = render_center(view_of(EVIL), token="tok")

    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") >= 14


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (403, "链接无效或已过期"),
        (404, "未找到该授权项目"),
        (400, "请求无效"),
        (503, "服务暂时不可用"),
    ],
)
def test_error_pages_say_what_happened_in_chinese(status, words):
    """Each refusal has its own plain-Chinese page."""
    html = render_error(status)

    assert f"<h1>{words}</h1>" in html
    assert '<html lang="zh-CN">' in html


def test_labels_read_as_plain_chinese():
    """Purposes lose their English gloss, categories are named, times are Beijing time."""
    assert (
        purpose_title("营销推送 (SMS and app pushes)", "marketing_push") == "营销推送"
    )
    assert purpose_title("", "analytics") == "analytics"
    assert category_labels(["contact.phone", "x.unknown", "identity.name"]) == (
        "姓名",
        "手机号",
        "x.unknown",
    )
    named = {"cobrand-bank": "示例联名银行股份有限公司"}
    assert category_labels(["recipient:cobrand-bank", "recipient:gone"], named) == (
        "提供给：示例联名银行股份有限公司",
        "提供给：gone",
    )
    assert china_time(AT) == "2026年3月1日 10:05"
