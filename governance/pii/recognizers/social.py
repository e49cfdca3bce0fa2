"""WeChat ids and QQ numbers, recognised right after a word naming them.

WeChat: after 微信/微信号/vx/wx/WeChat/WeChat ID (a space may split 微 信 or
stand before 号/ID; then a colon or 是), an id of 6–20
letters, digits, ``_`` or ``-`` starting with a letter, or a ``wxid_`` id.
QQ: after QQ/QQ号/扣扣, 5 to 11 digits not starting with 0. Both 0.85. A
mobile number given as the WeChat id is found by the phone recognizer.
"""

import re
from collections.abc import Iterator

from governance.pii.context import ascii_word
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_GLUE = r"\s{0,2}(?:[:：=是为]\s{0,2})?"
# The context words start with a character class, so the engine can seek them;
# ASCII words are matched case-insensitively by their own classes.
_WECHAT_WORD = (
    "[微威薇VvWw](?<![A-Za-z].)"
    rf"(?:(?<=[微威薇Vv])\s{{0,2}}信|(?<=[Ww]){ascii_word('echat')}|(?<=[Ww]){ascii_word('eixin')}"
    "|[Xx])"
)
_WECHAT = re.compile(
    rf"{_WECHAT_WORD}(?:\s{{0,2}}(?:号|{ascii_word('id')}(?![A-Za-z0-9])|账号))?{_GLUE}"
    r"(?P<id>wxid_[A-Za-z0-9]{4,30}|[A-Za-z][\-_A-Za-z0-9]{5,19})(?![\-_A-Za-z0-9])"
)
_QQ = re.compile(
    rf"(?:[Qq](?<![A-Za-z].)[Qq]|扣扣)(?:号码|号)?{_GLUE}"
    r"(?P<id>[1-9][0-9]{4,10})(?![0-9])"
)
# Words that follow "WeChat" in prose without being an id.
_NOT_IDS = frozenset({"wechat", "weixin", "official", "account", "channel", "number"})


class WeChatRecognizer(Recognizer):
    """WeChat ids after a WeChat context word."""

    entity_types = (EntityType.CN_WECHAT_ID,)
    cue_chars = frozenset("信WwXx")

    def find(self, text: str) -> Iterator[Entity]:
        """Yield ids."""
        for match in _WECHAT.finditer(text):
            if match.group("id").lower() not in _NOT_IDS:
                start, end = match.span("id")
                yield Entity(EntityType.CN_WECHAT_ID, start, end, 0.85)


class QqRecognizer(Recognizer):
    """QQ numbers after a QQ context word."""

    entity_types = (EntityType.CN_QQ,)
    cue_chars = frozenset("Qq扣")

    def find(self, text: str) -> Iterator[Entity]:
        """Yield numbers."""
        for match in _QQ.finditer(text):
            start, end = match.span("id")
            yield Entity(EntityType.CN_QQ, start, end, 0.85)
