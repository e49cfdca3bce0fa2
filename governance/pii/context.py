"""Words around a match that tell what a number is, and shared boundaries.

`not_personal(text, start)` looks at the few characters before a match: when
the nearest context word says the number is an order, tracking, invoice or
product number (订单号, 快递单号, 工单, SKU …) the match is dropped; when the
nearest one says phone, card or ID (电话, 手机, 卡号 …) it is kept.
`has_context(pattern, text, start)` tells whether a required context word
(护照, 微信 …) occurs shortly before a match.
"""

import re

# A number is not personal data when it comes right after one of these. ASCII
# words must start a word: "SN" is a serial number, not the end of "JSON".
_NOT_PERSONAL = (
    "订单编号|订单号码|订单号|订单|单号|运单|快递单|物流单|包裹号|工单|流水号|交易号"
    "|交易单|编号|批次|批号|发票|序列号|序号|条码|条形码|型号|货号|款号|账单|券码"
    "|兑换码|验证码|取件码|提货码|取餐号|排队号|版本|固件"
    "|(?<![A-Za-z])(?:imei|meid|sku|sn|order|tracking|invoice|serial|txn|trade"
    "|ticket|version|build|ver|v(?=[0-9]))"
)
# …and is when the nearest word says what it is.
_PERSONAL = (
    "电话|手机|联系|致电|拨打|来电|回拨|热线|座机|号码|卡号|银行卡|账号|户号|身份证"
    "|证件|(?<![A-Za-z])(?:tel|phone|mobile|call|card)"
)
_CONTEXT = re.compile(f"(?P<no>{_NOT_PERSONAL})|(?P<yes>{_PERSONAL})", re.IGNORECASE)
WINDOW = 12
"""How many characters before a match are read for context."""

# ASCII letters and digits around a match mean it is part of a longer token.
BEFORE = r"(?<![0-9A-Za-z])"
AFTER = r"(?![0-9A-Za-z])"
SEPARATOR = r"[ \-.\u2010-\u2015\u2212]"
"""One separator people type inside numbers: space, dash, dot."""


def not_personal(text: str, start: int) -> bool:
    """Whether the nearest context word before `start` says "not personal data"."""
    window = text[max(0, start - WINDOW) : start]
    last = None
    for last in _CONTEXT.finditer(window):  # noqa: B007 - only the nearest counts
        pass
    return last is not None and last.group("no") is not None


def has_context(pattern: re.Pattern[str], text: str, start: int, window: int) -> bool:
    """Whether `pattern` occurs within `window` characters before `start`."""
    return pattern.search(text, max(0, start - window), start) is not None
