"""Words around a match that tell what a number is, and shared boundaries.

`not_personal(text, start)` tells whether a match comes right after a word
saying it is an order, tracking, invoice or product number (订单号, 快递单号,
工单, SKU …); only a colon, quotes, brackets or spaces may stand between. It
is a hint for numbers that carry no check of their own: an ID number with a
valid check character and a Luhn-valid card are personal after any word.
`has_context(pattern, text, start)` tells whether a required context word
(护照, 微信 …) occurs shortly before a match. `any_word(words)` writes a list
of words as one pattern with shared prefixes factored out.
"""

import re

WINDOW = 24
"""How many characters before a match are read for context."""

# ASCII letters and digits around a match mean it is part of a longer token.
AFTER = r"(?![0-9A-Za-z])"
SEPARATOR = r"[ \-.\u2010-\u2015\u2212]"
"""One separator people type inside numbers: space, dash, dot."""
LONG_NUMBER = re.compile(rf"[0-9](?:{SEPARATOR}?[0-9]){{6}}")
"""Seven digits, maybe separated: in every phone, ID, card and document number."""
DIGITS = frozenset("0123456789")
"""The characters of numbers (after normalisation)."""


UNGLUED = (
    r"(?:(?<![0-9A-Za-z].)|(?<=%[0-9A-Fa-f]{2}.))(?<![0-9A-Za-z]-.)"
    r"(?!(?<=%[0-9A-Fa-f])[0-9A-Fa-f])"
)
"""Look-arounds, right after a match's first character: no letter or digit
before it, unless it ends a URL escape (``%E8%AF%9D``, ``%3D``, ``%20``); no
letter or digit followed by a dash (see `bounded`); and not the first hex
digit of an escape, so that ``%20`` + a card is not read as ``20`` + card."""


def bounded(first: str) -> str:
    """A pattern for a match's first character that no letter or digit precedes.

    A number glued to letters by a dash is a product code (SKU-…, ZX-…), so
    "letter or digit, then a dash" may not precede either. The character class
    comes first and the look-behinds after it, so the regex engine can skip
    straight to the characters that may start a match (several times faster
    than a leading look-behind, which it must try at every position).
    """
    return f"{first}{UNGLUED}"


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


_Trie = dict[str, "_Trie"]


def any_word(words: str) -> str:
    """A pattern matching any of the space-separated `words`, with shared prefixes factored out.

    ``收件人|收货人|收款人`` becomes ``收(?:件人|货人|款人)``: the regex engine
    tries the alternatives of a group one by one, so a flat alternation of a
    hundred words costs a hundred tries wherever one of their first characters
    occurs, the factored one a few. The longest word wins where several match.
    """
    tree: _Trie = {}
    for word in words.split():
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _alternatives(tree)


def _alternatives(node: _Trie) -> str:
    branches = [
        re.escape(char) + _alternatives(child)
        for char, child in sorted(node.items(), key=lambda item: -_depth(item[1]))
        if char
    ]
    if not branches:
        return ""
    optional = "" in node
    if len(branches) == 1 and not optional:
        return branches[0]
    body = "|".join(branches)
    group = body if len(branches) == 1 and len(body) == 1 else f"(?:{body})"
    return f"{group}?" if optional else group


def _depth(node: _Trie) -> int:
    return 1 + max((_depth(child) for child in node.values()), default=0)


def not_personal(text: str, start: int) -> bool:
    """Whether the match at `start` directly follows an order/product-number word.

    The text before the match (and its first character) is read backwards, so
    the pattern is anchored where the match starts instead of searched for
    across the window.
    """
    glued = start  # a quick test first: the character before the separators
    while glued > 0 and start - glued < 4 and text[glued - 1] in _NOT_PERSONAL_GLUE:
        glued -= 1
    if not glued or text[glued - 1] not in _NOT_PERSONAL_ENDS:
        return False
    before = text[max(0, start - WINDOW) : start + 1][::-1].lower()
    return _NOT_PERSONAL_BEFORE.match(before) is not None


def has_context(pattern: re.Pattern[str], text: str, start: int, window: int) -> bool:
    """Whether `pattern` occurs within `window` characters before `start`."""
    return pattern.search(text, max(0, start - window), start) is not None


# What may precede a number that is not personal, written backwards (see
# `not_personal`): separators, then maybe 号/码/是, then a word naming an
# order, tracking, invoice or product number. ASCII words must start a word:
# "SN" is a serial number, not the end of "JSON"; "v" only right before a digit.
# A bare 编号 is not one: 证件编号, 会员编号 and 客户编号 name personal numbers.
_NOT_PERSONAL_ZH = (
    "订单编号 订单号码 订单号 订单 单号 运单 快递单 物流单 包裹号 工单 流水号 交易号 交易单"
    " 商品编号 产品编号 设备编号 合同编号 快递编号 物流编号"
    " 批次 批号 发票 序列号 序号 条码 条形码 型号 货号 款号 账单 券码 兑换码 验证码 取件码"
    " 提货码 取餐号 排队号 版本 固件"
)
_NOT_PERSONAL_EN = (
    "imei meid sku sn order tracking invoice serial txn trade ticket version build ver"
)
_NOT_PERSONAL_GLUE = frozenset(" \t\n\r\f\v:：#=\"'(（[【_-")
# The last characters of the words and of 号/码/是: one of them, or an ASCII
# letter, precedes the separators before every number that is not personal.
_NOT_PERSONAL_ENDS = frozenset(
    "".join(word[-1] for word in _NOT_PERSONAL_ZH.split())
    + "号码为是abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_NOT_PERSONAL_BEFORE = re.compile(
    "[0-9]v(?![a-z])|.[\\s:：#=\"'(（\\[【_\\-]{0,4}(?:码号|号|码|为|是)?(?:"
    + any_word(" ".join(word[::-1] for word in _NOT_PERSONAL_ZH.split()))
    + "|(?:(?:on|di|rebmun|mun|edoc)_?)?(?:"
    + any_word(" ".join(word[::-1] for word in _NOT_PERSONAL_EN.split()))
    + ")(?![a-z]))"
)
