"""The self-check report as one self-contained HTML page.

`render_html(report)` returns a whole document: `lang="zh-CN"`, a strict
Content-Security-Policy (nothing may be fetched: no script, font, image or
style sheet from anywhere), inline CSS laid out for a phone first and printed
on A4, and charts as inline SVG (`charts`). Every value from the trail, the
ledger or the catalog is escaped; subjects appear only as counts and keyed
references.
"""

from html import escape

from audit.report import sections, sections_consent, sections_volume
from audit.report._html import Html, section
from audit.report.document import SCHEMA
from audit.report.figures import SelfCheckReport
from audit.report.labels import beijing

TITLE = "个人信息保护合规自查报告"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
_STYLE = """
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}
body{margin:0;background:#eef1f5;color:#1f2329;font:15px/1.6 -apple-system,"PingFang SC",
"Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif}
main{max-width:960px;margin:0 auto;padding:14px 10px 40px}
.cover{background:#15325b;color:#fff;border-radius:10px;padding:20px 18px;margin-bottom:12px}
.cover .eyebrow{margin:0;font-size:12px;letter-spacing:.06em;opacity:.8}
.cover h1{font-size:23px;line-height:1.3;margin:6px 0 2px}.cover .sub{margin:0;opacity:.85}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:8px 16px;
margin:16px 0 0;font-size:13px}.meta dt{opacity:.7}.meta dd{margin:0;font-weight:600}
section{background:#fff;border-radius:10px;padding:14px 14px 16px;margin:12px 0;
box-shadow:0 1px 2px rgba(16,24,40,.08)}
h2{font-size:18px;margin:0 0 10px;padding-bottom:8px;border-bottom:2px solid #15325b;
display:flex;flex-wrap:wrap;align-items:baseline;gap:2px 10px}
h2 .no{color:#15325b}
h2 .en{font-size:12px;font-weight:400;color:#646a73}h3{font-size:15px;margin:18px 0 8px}
.tiles{display:grid;grid-template-columns:repeat(2,1fr);gap:8px}
.tile{border:1px solid #e4e7ec;border-radius:8px;padding:8px 12px}
.tile b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.tile span{font-size:12px;color:#646a73}.tile.bad{border-color:#f1b8b3;background:#fdf0ef}
.tile.bad b{color:#c62828}.tile.ok b{color:#1a7f37}.tile.warn b{color:#9a5b00}
ul.findings{list-style:none;padding:0;margin:12px 0 0}
.findings li{padding:8px 0;border-top:1px solid #eef0f3;display:flex;gap:8px}
.sev{flex:none;font-size:12px;font-weight:600;border-radius:4px;padding:0 6px;height:20px}
.sev.high{background:#fdecea;color:#c62828}.sev.mid{background:#fff4e0;color:#9a5b00}
.sev.info{background:#e8f0fb;color:#2f6fb5}.sev.ok{background:#e3f5e8;color:#1a7f37}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:6px 8px;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600;white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums}.scroll{overflow-x:auto}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f2f4f7;padding:1px 4px;
border-radius:3px}code.ref{font-size:11px;white-space:nowrap}
code.under{display:block;background:none;padding:0;font-size:11px;color:#7a808a}td.keep,th.keep{white-space:nowrap}
.muted{color:#646a73;font-size:12px}figure{margin:8px 0}
figcaption{font-size:12px;color:#646a73}
.chart{width:100%;max-width:470px;height:auto;display:block}.spark{width:120px;height:28px}
.duo{display:grid;grid-template-columns:1fr;gap:4px 16px}
@media(min-width:720px){.duo{grid-template-columns:minmax(240px,1fr) 2fr}
.tiles{grid-template-columns:repeat(4,1fr)}}
.legend{font-size:12px;margin:4px 0}.legend span{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.pill{display:inline-block;padding:1px 10px;border-radius:999px;font-size:13px;font-weight:600}
.pill.ok{background:#e3f5e8;color:#1a7f37}.pill.bad{background:#fdecea;color:#c62828}
.verdict{border-radius:8px;padding:10px 12px}.verdict b{font-size:20px;margin-right:6px}
.verdict.ok{background:#e3f5e8;color:#14532d}.verdict.bad{background:#fdecea;color:#7f1d1d}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(105px,1fr));gap:8px}
.stat{background:#f5f7fa;border-radius:8px;padding:8px 10px}
.stat b{display:block;font-size:17px}.stat span{font-size:12px;color:#646a73}
.note{font-size:13px;color:#4b5563}.empty{color:#646a73}.warn{color:#9a5b00;font-weight:600}
footer{font-size:12px;color:#646a73;padding:8px 4px}
@media(max-width:480px){table{font-size:12.5px}th,td{padding:6px 5px}}
@page{size:A4;margin:14mm 12mm}
@media print{*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{background:#fff;font-size:10pt}main{max-width:none;padding:0}
section{box-shadow:none;border:1px solid #d0d5dd;border-radius:0}
h2,h3{break-after:avoid}figure,tr,.tile,.stat,.verdict{break-inside:avoid}
.scroll{overflow:visible}.chart{max-width:430px}}
"""


def render_html(report: SelfCheckReport) -> str:
    """The whole report page."""
    body = "".join(
        (
            _cover(report),
            _summary(report),
            sections.chain(report),
            sections.accesses(report),
            sections.sensitive(report),
            sections.denials(report),
            sections_consent.consent(report),
            sections_volume.volume(report),
            sections.revisions(report),
            sections.kinds(report),
            _footer(),
        )
    )
    title = f"{TITLE} {report.month}"
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _cover(report: SelfCheckReport) -> str:
    year, month = report.month.split("-")
    period = f"{int(year)}年{int(month)}月（北京时间）"
    if not report.complete:
        period += "，本月尚未结束，数据截至生成时间"
    meta = "".join(
        f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>"
        for k, v in (
            ("报告期间 Period", period),
            ("生成时间 Generated", f"{beijing(report.generated_at)}（北京时间）"),
            ("数据来源 Sources", "审计日志（哈希链）与同意记录"),
            ("格式版本 Schema", SCHEMA),
        )
    )
    return (
        '<header class="cover"><p class="eyebrow">PIPL 合规自查 · MONTHLY SELF-CHECK</p>'
        f'<h1>{TITLE}</h1><p class="sub">Personal information protection: monthly'
        f' compliance self-check</p><dl class="meta">{meta}</dl></header>'
    )


def _summary(report: SelfCheckReport) -> Html:
    a, c = report.accesses, report.consent
    denied_share = f"{a.total.denied / a.total.total:.1%}" if a.total.total else "—"
    sensitive = sum(u.events for u in report.sensitive)
    tiles = [
        ("", f"{a.total.total:,}", "数据访问 Accesses"),
        (
            "warn" if a.total.denied else "",
            f"{a.total.denied:,}",
            f"被拒绝 Denied（{denied_share}）",
        ),
        ("", f"{a.subjects:,}", "涉及个人（去重）Subjects"),
        ("", f"{sensitive:,}", "放行敏感类别 Sensitive"),
        (
            "bad" if c.violations else "ok",
            f"{c.violations:,}",
            "撤回后仍被允许 After withdrawal",
        ),
        (
            "ok" if report.chain.ok else "bad",
            "完整" if report.chain.ok else "异常",
            "审计链 Trail",
        ),
        (
            "warn" if report.anomalies.flags else "",
            f"{len(report.anomalies.flags):,}",
            "量异常日 Flagged days",
        ),
        (
            "warn" if report.anomalies.new_callers else "",
            f"{len(report.anomalies.new_callers):,}",
            "新增调用方 New callers",
        ),
    ]
    grid = "".join(
        f'<div class="tile {cls}"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
        for cls, v, k in tiles
    )
    items = "".join(
        f'<li><span class="sev {sev}">{escape(word)}</span><span>{escape(text)}</span></li>'
        for sev, word, text in _findings(report)
    )
    body = (
        f'<div class="tiles">{grid}</div>'
        f'<h3>需关注事项 Findings</h3><ul class="findings">{items}</ul>'
    )
    return section("summary", "", "结论摘要", "Summary", body)


def _findings(report: SelfCheckReport) -> list[tuple[str, str, str]]:
    """(severity class, severity word, sentence) for everything an officer should follow up."""
    out = []
    if not report.chain.ok:
        out.append(("high", "高", "审计日志校验未通过，见第一节：日志可能被篡改。"))
    if report.consent.violations:
        out.append(
            (
                "high",
                "高",
                f"撤回同意后仍有 {report.consent.violations:,} 次访问被允许，见第五节。",
            )
        )
    flags = report.anomalies.flags
    if flags:
        callers = "、".join(sorted({f.caller for f in flags}))
        out.append(
            (
                "mid",
                "中",
                f"{len(flags)} 个调用日的访问量偏离基线（{callers}），见第六节。",
            )
        )
    refused_tags = sum(
        t.events for t in report.sensitive_tags if t.outcome != "allowed"
    )
    if refused_tags:
        out.append(
            (
                "mid",
                "中",
                f"{refused_tags:,} 次人群查询试图以敏感标签筛选，已被拒绝，见第三节。",
            )
        )
    outside = report.denials.outside_access
    if outside:
        kinds = "、".join(sorted({r.kind for r in outside}))
        out.append(
            (
                "mid",
                "中",
                f"{sum(r.count for r in outside):,} 次数据访问以外的请求被拒绝"
                f"（{kinds}），见第四节。",
            )
        )
    if report.anomalies.new_callers:
        names = "、".join(report.anomalies.new_callers)
        out.append(
            ("info", "提示", f"本月新增调用方：{names}，请确认已登记其用途与授权。")
        )
    sensitive = sum(u.events for u in report.sensitive)
    if sensitive:
        out.append(
            (
                "info",
                "提示",
                f"敏感类别字段被放行 {sensitive:,} 次，请核对用途与单独同意，见第三节。",
            )
        )
    if not out:
        out.append(("ok", "正常", "本月未发现需关注事项。"))
    return out


def _footer() -> str:
    return (
        "<footer>本报告由 Governance Proxy 依据审计日志与同意记录自动生成"
        "（govproxy audit report）。"
        "个人仅以数量或加密引用（s_…）出现，不含任何个人信息原值。数字均按北京时间统计；"
        "“访问”指经代理的数据读取（单条读取、人群查询、令牌还原）。</footer>"
    )
