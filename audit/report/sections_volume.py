"""The report page's caller-volume section: each caller against its own baseline.

The rule itself is `audit.report.anomalies`'s; its words here are built from the
same constants, so the page always states the rule the figures were made with.
"""

from html import escape

from audit.report import anomalies as rule
from audit.report._html import Html, coded, section, table
from audit.report.charts import sparkline
from audit.report.figures import SelfCheckReport
from audit.report.labels import DIRECTIONS, STATUSES
from audit.report.month import BASELINE_DAYS


def volume(report: SelfCheckReport) -> Html:
    """Callers' daily volume against their baseline, flagged days and new callers."""
    an = report.anomalies
    flags_by_caller: dict[str, set[str]] = {}
    for f in an.flags:
        flags_by_caller.setdefault(f.caller, set()).add(f.day)
    days = [d.key for d in report.accesses.by_day]
    callers = table(
        ("调用方", "每日走势", "本月合计", "状态", "基线中位数", "MAD", "基线天数"),
        [
            (
                c.caller,
                Html(
                    sparkline(
                        c.daily,
                        c.median if c.status == "scored" else None,
                        _marked(days, flags_by_caller.get(c.caller, set())),
                        f"{c.caller} 每日访问量",
                    )
                ),
                c.month_total,
                coded(c.status, STATUSES.get(c.status, "")),
                c.median if c.status == "scored" else None,
                c.mad if c.status == "scored" else None,
                c.baseline_days,
            )
            for c in an.callers
        ],
        numeric=(2, 4, 5, 6),
        keep=(0,),
    )
    flags = table(
        ("日期", "调用方", "当日访问", "基线中位数", "稳健 z", "方向"),
        [
            (
                f.day,
                f.caller,
                f.count,
                f.median,
                f.score,
                coded(f.direction, DIRECTIONS[f.direction]),
            )
            for f in an.flags
        ],
        numeric=(2, 3, 4),
        keep=(0, 1),
        empty="没有调用日偏离基线。",
    )
    new = "、".join(an.new_callers) or "无"
    body = (
        f'<p class="note">{_rule_words()}</p>'
        f'<p><b>本月新增调用方 New callers：</b><span class="{"warn" if an.new_callers else ""}">'
        f"{escape(new)}</span></p>"
        f"<h3>偏离基线的调用日 Flagged days</h3>{flags}"
        f'<h3>各调用方 Callers <span class="muted">（红点为被标记的日子，虚线为基线中位数）'
        f"</span></h3>{callers}"
    )
    return section(
        "volume", "六", "调用量异常", "Callers departing from their usual volume", body
    )


def _marked(days: list[str], flagged: set[str]) -> frozenset[int]:
    return frozenset(n for n, d in enumerate(days) if d in flagged)


def _rule_words() -> str:
    return (
        f"规则：以本月之前 {BASELINE_DAYS} 天为基线，按北京时间逐日统计每个调用方的访问次数"
        f"（无访问的日子计 0；调用方首次访问晚于基线起点的，从首次访问日算起，不足"
        f" {rule.MIN_BASELINE_DAYS} 天的不评估）。取基线中位数 m 与中位绝对偏差 MAD，离散度"
        f" s = max({rule.MAD_TO_SD}×MAD, {rule.RELATIVE_FLOOR:.0%}×m, 1)。本月已结束的某一天若"
        f" |当日次数 − m| / s &gt; {rule.THRESHOLD} 且 |当日次数 − m| ≥ {rule.MIN_DEVIATION}"
        " 次，即标记为激增或骤降。本月之前从未访问过数据的调用方列为新增调用方。"
    )
