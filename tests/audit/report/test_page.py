"""The report page and JSON: self-contained, escaped, no personal value, same figures."""

import asyncio
import re

import orjson
import pytest
from report_trail import (
    SUBJECT_REF,
    append,
    cst,
    forge_allowed_read,
    read,
    report_of,
    sqlite_url,
)

from audit.report.document import SCHEMA, render_json, report_document
from audit.report.page import render_html
from governance.store import open_store

HOSTILE = '<img src=x onerror="alert(1)">&'
HEADINGS = [
    "个人信息保护合规自查报告",
    "结论摘要",
    "审计日志完整性",
    "数据访问概况",
    "敏感个人信息",
    "拒绝原因",
    "同意与撤回",
    "调用量异常",
    "生效的策略版本",
    "全部审计事件",
]
SUBTITLES = [
    "Audit trail integrity",
    "Accesses by purpose, caller and outcome",
    "Sensitive-category accesses",
    "Denials by reason",
    "Consent grants and withdrawals",
    "Policy revisions in force",
]


@pytest.fixture
def page_and_json(seeded, catalog):
    """The seeded month with a hostile caller name and a forged breach, rendered both ways."""

    async def write() -> None:
        store = await open_store(sqlite_url(seeded))
        try:
            await append(
                store,
                [read(SUBJECT_REF, cst(22, 9), HOSTILE, "marketing_push", "C000001")],
            )
            await forge_allowed_read(store, SUBJECT_REF, "W000004", cst(20, 15))
        finally:
            await store.dispose()

    asyncio.run(write())
    report = report_of(sqlite_url(seeded), catalog)
    return report, render_html(report), render_json(report)


def test_the_page_has_its_sections_in_chinese_with_english_subtitles(page_and_json):
    """Each section has its plain-Chinese heading and an English subtitle."""
    _, page, _ = page_and_json

    assert '<html lang="zh-CN">' in page
    assert all(h in page for h in HEADINGS)
    assert all(s in page for s in SUBTITLES)
    assert page.count("<svg") >= 5  # outcome ring, days, purposes, callers, reasons


def test_the_page_loads_nothing_from_anywhere(page_and_json):
    """No script, no external URL; a strict CSP meta tag; A4 print styles."""
    _, page, _ = page_and_json

    assert "<script" not in page.lower()
    assert re.findall(r'(?:src|href)="([^"]*)"', page) == ["data:,"]
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {
        "http://www.w3.org/2000/svg"
    }
    assert "url(" not in page
    assert "@import" not in page
    assert "default-src 'none'" in page
    assert "@page{size:A4" in page
    assert "@media print" in page


def test_every_value_from_the_trail_is_escaped(page_and_json):
    """A caller name carrying markup is shown as text, never as an element."""
    _, page, _ = page_and_json

    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in page


def test_no_subject_id_appears_only_keyed_references(page_and_json):
    """Subject ids never appear; the breach names its subject by reference only."""
    report, page, json_text = page_and_json
    ids = ["C000001", "C000020", "W000001", "W000004", "W000005"]

    assert not [i for i in ids if i in page or i.encode() in json_text]
    assert SUBJECT_REF("W000004") in page
    assert report.consent.violations == 1


def test_the_json_carries_the_same_figures_under_a_schema_version(page_and_json):
    """The JSON is the report document: schema, version and every figure."""
    report, _, json_text = page_and_json
    document = orjson.loads(json_text)

    assert (document["schema"], document["schema_version"]) == (SCHEMA, 1)
    assert document["month"] == "2026-03"
    assert document["accesses"]["total"] == {
        "key": "total", "allowed": 1693, "denied": 8, "error": 0, "total": 1701,
    }  # fmt: skip
    assert document["consent"]["violations"] == 1
    assert document == orjson.loads(orjson.dumps(report_document(report)))


def test_a_clean_month_says_so(seeded, catalog):
    """Without a breach the page states that none was found, in green."""
    page = render_html(report_of(sqlite_url(seeded), catalog))

    assert '<p class="verdict ok"><b>0</b> 撤回同意后未发现被允许的访问' in page
    assert "完整 Intact" in page
