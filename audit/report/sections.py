"""The report page's sections, one function each, from a `SelfCheckReport`.

Each returns a numbered `<section>` with a plain-Chinese heading and an English
subtitle; tables show codes with their Chinese words; charts are `charts`'s SVG.
Subjects appear only as counts and keyed references.
"""

from audit.report._html import Html, coded, figure, section, table
from audit.report.charts import SERIES, Bar, bar_chart, column_chart, donut
from audit.report.figures import OutcomeCounts, SelfCheckReport
from audit.report.labels import KINDS, OUTCOMES, PROBLEMS, beijing, reason_label

_COLOURS = tuple(SERIES.values())
_OUTCOME_HEAD = ("允许", "拒绝", "出错", "合计")


def purpose(report: SelfCheckReport, name: str) -> Html:
    """A purpose's code and Chinese title."""
    return coded(name, report.purpose_titles.get(name, ""))


def _outcomes(row: OutcomeCounts) -> tuple[int, int, int, int]:
    return row.allowed, row.denied, row.error, row.total


def chain(report: SelfCheckReport) -> Html:
    """Whether the trail verifies, and where it first does not."""
    c = report.chain
    if c.ok:
        body = (
            f'<p><span class="pill ok">完整 Intact</span> 共校验 {c.events:,} 条事件、'
            f"{c.chains:,} 条哈希链，未发现改动、缺失、插入或截断。</p>"
        )
    else:
        bad = c.first_bad or {}
        problem = str(bad.get("problem", ""))
        body = (
            '<p><span class="pill bad">异常 Broken</span> 在下列位置首次发现问题：</p>'
            + table(
                ("链", "序号", "事件", "问题"),
                [
                    (
                        str(bad.get("chain_id")),
                        str(bad.get("seq")),
                        str(bad.get("event_id") or "—"),
                        coded(problem, PROBLEMS.get(problem, "")),
                    )
                ],
            )
        )
    note = (
        '<p class="note">校验范围为整个审计日志（不限于本月），在生成本报告时执行。</p>'
    )
    return section(
        "chain", "一", "审计日志完整性", "Audit trail integrity", body + note
    )


def accesses(report: SelfCheckReport) -> Html:
    """Accesses by outcome, by day, by purpose and by caller."""
    a = report.accesses
    ring = donut(
        [(OUTCOMES[k], getattr(a.total, k), c) for k, c in SERIES.items()],
        "访问结果构成",
        f"{a.total.total:,}",
    )
    flagged = {f.day for f in report.anomalies.flags}
    days = column_chart(
        [d.key[8:] for d in a.by_day],
        [(d.allowed, d.denied, d.error) for d in a.by_day],
        _COLOURS,
        "每日访问量",
        marked=frozenset(n for n, d in enumerate(a.by_day) if d.key in flagged),
    )
    body = (
        f'<div class="duo">{figure(ring, "访问结果 / Outcomes")}'
        f"{figure(days, '每日访问量（北京时间；红点为量异常日）/ Daily volume')}</div>"
        + _legend()
        + _breakdown(report, "按用途 By purpose", a.by_purpose, by_purpose=True)
        + _breakdown(report, "按调用方 By caller", a.by_caller, by_purpose=False)
    )
    return section(
        "accesses",
        "二",
        "数据访问概况",
        "Accesses by purpose, caller and outcome",
        body,
    )


def _breakdown(
    report: SelfCheckReport,
    title: str,
    rows: tuple[OutcomeCounts, ...],
    *,
    by_purpose: bool,
) -> str:
    def label(key: str) -> str:
        words = report.purpose_titles.get(key) if by_purpose else None
        return f"{words}（{key}）" if words else key

    chart = bar_chart(
        [Bar(label(r.key), _outcomes(r)[:3]) for r in rows], _COLOURS, title
    )
    data = [
        (purpose(report, r.key) if by_purpose else r.key, *_outcomes(r)) for r in rows
    ]
    return f"<h3>{title}</h3>{figure(chart)}" + table(
        ("用途" if by_purpose else "调用方", *_OUTCOME_HEAD),
        data,
        numeric=(1, 2, 3, 4),
        keep=() if by_purpose else (0,),
    )


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{c}"></i>{OUTCOMES[k]} {k}</span>'
        for k, c in SERIES.items()
    )
    return f'<p class="legend">{items}</p>'


def sensitive(report: SelfCheckReport) -> Html:
    """Allowed accesses that released sensitive categories, and sensitive tag filters."""
    uses = table(
        ("敏感类别", "用途", "调用方", "字段", "访问次数"),
        [
            (
                coded(u.category, report.category_titles.get(u.category, "")),
                purpose(report, u.purpose),
                u.caller,
                "、".join(u.fields),
                u.events,
            )
            for u in report.sensitive
        ],
        numeric=(4,),
        keep=(2,),
        empty="本月没有放行敏感类别字段的访问。",
    )
    tags = table(
        ("敏感标签", "类别", "用途", "结果", "查询次数"),
        [
            (
                t.tag,
                coded(t.category, report.category_titles.get(t.category, "")),
                purpose(report, t.purpose),
                coded(t.outcome, OUTCOMES.get(t.outcome, "")),
                t.events,
            )
            for t in report.sensitive_tags
        ],
        numeric=(4,),
        empty="本月没有以敏感标签筛选的人群查询。",
    )
    body = (
        '<p class="note">敏感类别以数据目录（catalog）为准：访问被允许且放行了该类别字段'
        "（保留、掩码、令牌化等，只要不是“不提供”）即计入。</p>"
        f"<h3>放行的敏感字段 Sensitive fields released</h3>{uses}"
        f"<h3>以敏感标签筛选的人群查询 Audience filters on sensitive tags</h3>{tags}"
    )
    return section(
        "sensitive", "三", "敏感个人信息", "Sensitive-category accesses", body
    )


def denials(report: SelfCheckReport) -> Html:
    """Refused accesses by reason code, and the policy's reasons."""
    d = report.denials
    total = sum(r.count for r in d.by_reason) or 1
    chart = bar_chart(
        [
            Bar(f"{reason_label(r.key) or r.key}（{r.key}）", (r.count,))
            for r in d.by_reason
        ],
        (SERIES["denied"],),
        "拒绝原因",
    )
    reasons = table(
        ("原因", "次数", "占比"),
        [
            (coded(r.key, reason_label(r.key)), r.count, f"{r.count / total:.1%}")
            for r in d.by_reason
        ],
        numeric=(1, 2),
        empty="本月没有被拒绝的访问。",
    )
    policy = table(
        ("策略给出的理由", "次数"),
        [(coded(r.key, reason_label(r.key)), r.count) for r in d.policy_reasons],
        numeric=(1,),
        empty="本月没有策略拒绝。",
    )
    outside = table(
        ("事件类型", "原因", "调用方", "次数"),
        [
            (
                coded(r.kind, KINDS.get(r.kind, "")),
                coded(r.reason, reason_label(r.reason)),
                r.caller,
                r.count,
            )
            for r in d.outside_access
        ],
        numeric=(3,),
        keep=(2,),
        empty="本月没有数据访问以外的拒绝。",
    )
    body = (
        (figure(chart, "拒绝原因 / Denials by reason") if d.by_reason else "")
        + reasons
        + f"<h3>策略拒绝的具体理由 Policy reasons</h3>{policy}"
        + "<h3>数据访问以外的拒绝 Refused outside data access</h3>"
        + '<p class="note">未认证、角色不符（如业务密钥查阅审计日志）、限流、额度用尽、'
        "同意登记被拒等：未读取数据，但同样需要核查。</p>" + outside
    )
    return section("denials", "四", "拒绝原因", "Denials by reason", body)


def revisions(report: SelfCheckReport) -> Html:
    """Policy bundle revisions that decided events this month."""
    body = table(
        ("策略版本", "首次出现（北京时间）", "最后出现", "决策次数"),
        [
            (
                coded(r.revision, ""),
                beijing(r.first_seen),
                beijing(r.last_seen),
                r.decisions,
            )
            for r in report.revisions
        ],
        numeric=(3,),
        keep=(1, 2),
        empty="本月没有由策略决定的事件。",
    )
    return section(
        "revisions", "七", "生效的策略版本", "Policy revisions in force", body
    )


def kinds(report: SelfCheckReport) -> Html:
    """Every event of the month by kind and outcome."""
    body = table(
        ("事件类型", *_OUTCOME_HEAD),
        [
            (coded(k.key, KINDS.get(k.key, "")), k.allowed, k.denied, k.error, k.count)
            for k in report.events_by_kind
        ],
        numeric=(1, 2, 3, 4),
    )
    return section("kinds", "八", "全部审计事件", "All audit events by kind", body)
