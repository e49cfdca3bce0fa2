"""Words around a match that tell what a number is, and shared boundaries.

`not_personal(text, start)` tells whether a match comes right after a word
saying it is an order, tracking, invoice or product number (订单号, 快递单号,
工单, SKU …); only a colon, quotes, brackets or spaces may stand between.
`has_context(pattern, text, start)` tells whether a required context word
(护照, 微信 …) occurs shortly before a match.
"""

import re

# ASCII words must start a word: "SN" is a serial number, not the end of "JSON".
_NOT_PERSONAL = (
    "订单编号|订单号码|订单号|订单|单号|运单|快递单|物流单|包裹号|工单|流水号|交易号"
    "|交易单|编号|批次|批号|发票|序列号|序号|条码|条形码|型号|货号|款号|账单|券码"
    "|兑换码|验证码|取件码|提货码|取餐号|排队号|版本|固件"
    "|(?<![A-Za-z])(?:imei|meid|sku|sn|order|tracking|invoice|serial|txn|trade"
    "|ticket|version|build|ver|v(?=[0-9]))(?:_?(?:no|id|number|num|code))?"
)
_NOT_PERSONAL_BEFORE = re.compile(
    f"(?:{_NOT_PERSONAL})(?:号码|号|码|为|是)?[\\s:：#=\"'(（\\[【_\\-]{{0,4}}$",
    re.IGNORECASE,
)
WINDOW = 24
"""How many characters before a match are read for context."""

# ASCII letters and digits around a match mean it is part of a longer token.
AFTER = r"(?![0-9A-Za-z])"
SEPARATOR = r"[ \-.\u2010-\u2015\u2212]"
"""One separator people type inside numbers: space, dash, dot."""
LONG_NUMBER = re.compile(rf"[0-9](?:{SEPARATOR}?[0-9]){{6}}")
"""Seven digits, maybe separated: in every phone, ID, card and document number."""


def bounded(first: str) -> str:
    """A pattern for a match's first character that no letter or digit precedes.

    A number glued to letters by a dash is a product code (SKU-…, ZX-…), so
    "letter or digit, then a dash" may not precede either. The character class
    comes first and the look-behinds after it, so the regex engine can skip
    straight to the characters that may start a match (several times faster
    than a leading look-behind, which it must try at every position).
    """
    return rf"{first}(?<![0-9A-Za-z].)(?<![0-9A-Za-z]-.)"


def han_except(chars: str) -> str:
    """A character class of CJK ideographs (U+4E00–U+9FFF) without `chars`."""
    ranges, low = [], 0x4E00
    for code in sorted({ord(c) for c in chars if "\u4e00" <= c <= "\u9fff"}):
        if low <= code - 1:
            ranges.append(f"{chr(low)}-{chr(code - 1)}")
        low = code + 1
    ranges.append(f"{chr(low)}-\u9fff")
    return "[" + "".join(ranges) + "]"


def ascii_word(word: str) -> str:
    """A case-insensitive pattern for an ASCII word, without the slow IGNORECASE flag."""
    return "".join(
        f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word
    )


def not_personal(text: str, start: int) -> bool:
    """Whether the match at `start` directly follows an order/product-number word."""
    return _NOT_PERSONAL_BEFORE.search(text, max(0, start - WINDOW), start) is not None


def has_context(pattern: re.Pattern[str], text: str, start: int, window: int) -> bool:
    """Whether `pattern` occurs within `window` characters before `start`."""
    return pattern.search(text, max(0, start - window), start) is not None
