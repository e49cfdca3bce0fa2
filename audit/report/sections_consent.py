"""The report page's consent section: grants and withdrawals, and whether withdrawals held.

Accesses allowed after a withdrawal are findings and are shown first and in
red; a clean month says so in as many words.
"""

from html import escape

from audit.report._html import Html, coded, section, table
from audit.report.figures import SelfCheckReport
from audit.report.labels import KINDS, beijing
from audit.report.sections import purpose
from audit.report.withdrawals import LISTED_FINDINGS


def duration(seconds: float | None) -> str:
    """Seconds in Chinese units: `45 秒`, `3 分 5 秒`, `2 小时 10 分`, `3 天 4 小时`."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} 秒" if seconds < 10 else f"{s} 秒"
    if s < 3600:
        return f"{s // 60} 分 {s % 60} 秒"
    if s < 86400:
        return f"{s // 3600} 小时 {s % 3600 // 60} 分"
    return f"{s // 86400} 天 {s % 86400 // 3600} 小时"


def consent(report: SelfCheckReport) -> Html:
    """Changes by purpose, how fast withdrawals took effect, and accesses allowed after them."""
    c = report.consent
    changes = table(
        ("用途", "授予", "撤回", "到期"),
        [
            (purpose(report, r.purpose), r.granted, r.withdrawn, r.expired)
            for r in c.changes
        ],
        numeric=(1, 2, 3),
        empty="本月同意记录没有变化。",
    )
    lat = c.latency
    tiles = "".join(
        f'<div class="stat"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
        for k, v in (
            ("本月撤回 Withdrawals", f"{lat.withdrawals:,}"),
            ("其后出现拒绝 Then refused", f"{lat.refused:,}"),
            ("中位数 Median", duration(lat.median_s)),
            ("P95", duration(lat.p95_s)),
            ("最长 Max", duration(lat.max_s)),
        )
    )
    body = (
        _findings(report)
        + f"<h3>同意的授予、撤回与到期 Grants and withdrawals</h3>{changes}"
        + "<h3>撤回到首次拒绝的时间 Withdrawal to first refusal</h3>"
        + f'<div class="stats">{tiles}</div>'
        + '<p class="note">自同意撤回记入同意记录起，到同一个人、同一用途的第一次访问被拒绝为止。'
        "撤回后没有再被访问的不计入时间分布。</p>"
    )
    return section(
        "consent", "五", "同意与撤回", "Consent grants and withdrawals", body
    )


def _findings(report: SelfCheckReport) -> str:
    c = report.consent
    if not c.violations:
        return (
            '<p class="verdict ok"><b>0</b> 撤回同意后未发现被允许的访问'
            "（同一个人、同一用途，单条读取与人群查询均已核对）。</p>"
        )
    listed = table(
        ("访问时间（北京时间）", "调用方", "用途", "类型", "个人（引用）", "撤回时间"),
        [
            (
                beijing(f.ts),
                f.caller,
                purpose(report, f.purpose),
                coded(f.kind, KINDS.get(f.kind, "")),
                Html(f'<code class="ref">{escape(f.subject_ref)}</code>'),
                beijing(f.withdrawn_at),
            )
            for f in c.listed
        ],
        keep=(0, 1, 5),
    )
    more = (
        f'<p class="note">仅列出最早的 {LISTED_FINDINGS} 条。</p>'
        if c.violations > len(c.listed)
        else ""
    )
    return (
        f'<p class="verdict bad"><b>{c.violations:,}</b> 次访问发生在个人撤回同意之后却被允许'
        "（Accesses allowed after a withdrawal）。必须为零：请逐条核查。</p>"
        f"{listed}{more}"
    )
