"""The consent center as one self-contained HTML page (no script, no external asset).

`render_center(view, token=...)` and `render_error(status)` return
whole documents: `lang="zh-CN"`, a device-width viewport and an inline
`<style>`, laid out for a 375 px phone screen first. Every value that comes
from the ledger, the trail or the catalog goes through `html.escape`; the
token only ever appears inside the page's own form actions.
"""

from html import escape

from governance.center.history import MAX_ACCESSES, Access, Attempts, History
from governance.center.labels import ATTEMPT_OUTCOMES, STATE_LABELS, china_time
from governance.center.view import Card, CenterView

TITLE = "隐私与授权管理"
ERRORS = {
    400: ("请求无效", "请返回上一页重试。"),
    403: (
        "链接无效或已过期",
        "为保护您的信息，此链接已失效。请回到 App 的「隐私与授权」重新打开。",
    ),
    404: ("未找到该授权项目", "请返回上一页刷新后重试。"),
    503: ("服务暂时不可用", "您的操作未生效，请稍后再试。"),
}
_STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1f2329;font:16px/1.6 -apple-system,"PingFang SC",
"Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif;
overflow-wrap:anywhere}
main{max-width:640px;margin:0 auto;padding:16px 12px 32px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:24px 0 8px}h3{font-size:17px;margin:0}
p{margin:6px 0}.muted{color:#646a73;font-size:14px}
.card,.box{background:#fff;border-radius:12px;padding:14px;margin:10px 0;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
.head{display:flex;justify-content:space-between;align-items:center;gap:8px}
.badge{flex:none;font-size:13px;padding:2px 10px;border-radius:999px;background:#eef0f3}
.granted{background:#e3f5e8;color:#1a7f37}.withdrawn,.none{background:#eef0f3;color:#646a73}
.expired,.stale{background:#fff4e0;color:#9a5b00}
.notice{background:#f7f8fa;border-radius:8px;padding:8px 10px;font-size:15px}
button{font:inherit;min-height:44px;padding:8px 18px;border-radius:22px;cursor:pointer;
border:1px solid #c9cdd4;background:#fff;color:#1f2329}
button.danger{border-color:#d93026;color:#d93026}button.wide{width:100%}
form{margin:10px 0 0}.done{background:#e3f5e8;color:#1a7f37;border-radius:8px;padding:10px}
ol{list-style:none;padding:0;margin:0}li{padding:10px 0;border-bottom:1px solid #eef0f3}
li:last-child{border-bottom:0}.allowed{color:#1a7f37}.denied,.error{color:#d93026}
"""


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _button(
    action: str, label: str, *, css: str = "", field: str = "", aria: str = ""
) -> str:
    hidden = field and f'<input type="hidden" name="enabled" value="{escape(field)}">'
    named = aria and f' aria-label="{escape(aria)}"'
    return (
        f'<form method="post" action="{escape(action)}">{hidden}'
        f'<button type="submit" class="{escape(css)}"{named}>{escape(label)}</button>'
        "</form>"
    )


def render_card(card: Card, base: str) -> str:
    """One purpose: what it is, what it covers, what was agreed and when."""
    lines = [
        f'<div class="head"><h3>{escape(card.title)}</h3>'
        f'<span class="badge {card.state}">{STATE_LABELS[card.state]}</span></div>',
        f'<p class="notice">{escape(card.summary)}</p>',
        f'<p class="muted">涉及信息：{escape("、".join(card.categories))}</p>',
    ]
    if card.agreed_at:
        version = escape(card.notice_version or "-")
        lines.append(
            f'<p class="muted">同意时间：{china_time(card.agreed_at)}（北京时间）'
            f" · 告知版本 {version}</p>"
        )
    if card.state == "stale":
        lines.append(
            '<p class="muted">告知内容已更新，需要您在 App 中重新确认后才会继续使用。</p>'
        )
    if card.ended_at:
        word = "撤回时间" if card.state == "withdrawn" else "过期时间"
        lines.append(
            f'<p class="muted">{word}：{china_time(card.ended_at)}（北京时间）</p>'
        )
    elif card.expires_at and card.withdrawable:
        lines.append(
            f'<p class="muted">有效期至：{china_time(card.expires_at)}（北京时间）</p>'
        )
    if card.withdrawable:
        lines.append(
            _button(
                f"{base}/withdraw/{card.purpose}",
                "撤回",
                css="danger",
                aria=f"撤回「{card.title}」的同意",
            )
        )
    purpose = escape(card.purpose)
    return (
        f'<article class="card" id="purpose-{purpose}" data-purpose="{purpose}"'
        f' data-state="{card.state}">{"".join(lines)}</article>'
    )


def render_personalisation(view: CenterView, base: str) -> str:
    """The A-01 switch: an opt-out that stops personalised recommendations.

    It is not a consent: while it is on, recommendations still need a
    consented purpose (a card above), so "on" is said only when one is, and
    the page never reads as both agreed and not agreed.
    """
    off = "关闭后，我们不再根据您的消费和兴趣为您推荐商品或推送内容。"
    if not view.personalisation:
        state, note = "已关闭", "即使您同意了相关用途，我们也不会据此为您推荐。"
    elif view.personalised_in_use:
        state, note = "已开启", f"仅用于您在上方同意的用途。{off}"
    else:
        state, note = "未关闭", f"您尚未同意相关用途，目前不会为您做个性化推荐。{off}"
    label, value = (
        ("关闭个性化推荐", "false")
        if view.personalisation
        else ("开启个性化推荐", "true")
    )
    enabled = str(view.personalisation).lower()
    return (
        f'<div class="box" id="personalisation" data-enabled="{enabled}">'
        f'<p>个性化推荐：<b>{state}</b></p><p class="muted">{note}</p>'
        f"{_button(f'{base}/personalisation', label, css='wide', field=value)}</div>"
    )


def render_access(access: Access) -> str:
    """One read that returned the subject's data."""
    return (
        f'<li class="access"><b>{escape(access.caller)}</b> 以「{escape(access.purpose)}」'
        f"为目的{escape(access.action)}"
        f'<br><span class="muted">{china_time(access.at)}（北京时间）</span> · '
        '<span class="allowed">已允许</span></li>'
    )


def render_attempts(group: Attempts) -> str:
    """Refused attempts alike in caller, purpose and reason: one line and a count."""
    purpose = f"以「{escape(group.purpose)}」为目的" if group.purpose else ""
    reason = f"（{escape(group.reason)}）" if group.reason else ""
    outcome = escape(group.outcome)
    word = escape(ATTEMPT_OUTCOMES.get(group.outcome, group.outcome))
    times = f" {group.count} 次，均" if group.count > 1 else "，"
    return (
        f'<li class="attempt"><b>{escape(group.caller)}</b> {purpose}'
        f'{escape(group.action)}{times}<span class="{outcome}">{word}</span>{reason}'
        f'<br><span class="muted">最近一次：{china_time(group.last)}（北京时间）</span></li>'
    )


def render_history(history: History) -> str:
    """Reads that returned data, then refused attempts summed up apart from them,
    so no number of refusals can push a read off the page."""
    parts = ['<h2>谁访问了我的数据</h2><div class="box" id="accesses">']
    if history.accesses:
        parts.append(f"<ol>{''.join(render_access(a) for a in history.accesses)}</ol>")
        if history.more_accesses:
            parts.append(
                f'<p class="muted" id="more-accesses">仅显示最近 {MAX_ACCESSES} 次访问，'
                "更早的访问未列出。</p>"
            )
    else:
        parts.append('<p class="muted">暂无访问记录。</p>')
    parts.append("</div>")
    if history.attempt_total:
        parts += [
            '<h2>被拒绝或未完成的访问尝试</h2><div class="box" id="attempts">',
            f'<p class="muted">共 {history.attempt_total} 次，均未返回您的资料。</p>',
            f"<ol>{''.join(render_attempts(g) for g in history.attempts)}</ol>",
        ]
        if history.unlisted_attempts:
            parts.append(
                f'<p class="muted">另有 {history.unlisted_attempts} 次较早的尝试未逐条列出。</p>'
            )
        parts.append("</div>")
    return "".join(parts)


def render_center(view: CenterView, *, token: str) -> str:
    """The whole consent center page of one subject."""
    base = f"/consent-center/{token}"
    marketing = any(c.marketing and c.withdrawable for c in view.cards)
    body = [
        f"<h1>{TITLE}</h1>",
        f'<p class="muted">会员号 {escape(view.subject_id)}</p>',
        "<p>您可以在这里查看同意过的用途，并随时撤回，撤回立即生效。"
        "撤回不影响您下单、收货、退款和客服服务。</p>",
        f'<p class="done" role="status">{escape(view.flash)}</p>' if view.flash else "",
        '<h2>我的授权</h2><section id="consents">',
        *(render_card(c, base) for c in view.cards),
        "</section>",
        _button(f"{base}/withdraw-marketing", "撤回全部营销", css="danger wide")
        if marketing
        else "",
        "<h2>个性化推荐设置</h2>",
        render_personalisation(view, base),
        render_history(view.history),
        '<p class="muted">此链接仅供您本人使用，请勿转发。</p>',
    ]
    return _document(TITLE, "".join(body))


def render_error(status: int) -> str:
    """A page saying, in Chinese, why nothing can be shown or changed."""
    title, advice = ERRORS.get(status) or ERRORS[400 if status < 500 else 503]
    return _document(
        title, f'<h1>{escape(title)}</h1><div class="box"><p>{escape(advice)}</p></div>'
    )
