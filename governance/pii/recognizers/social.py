"""WeChat ids and QQ numbers, recognised right after a word naming them.

WeChat: after 微信/微信号/vx/wx/WeChat (and a colon or 是), an id of 6–20
letters, digits, ``_`` or ``-`` starting with a letter, or a ``wxid_`` id.
QQ: after QQ/QQ号/扣扣, 5 to 11 digits not starting with 0. Both 0.85. A
mobile number given as the WeChat id is found by the phone recognizer.
"""

import re
from collections.abc import Iterator

from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_GLUE = r"\s{0,2}(?:[:：=是为]\s{0,2})?"
_WECHAT = re.compile(
    r"(?:微信|威信|薇信|V信|(?<![A-Za-z])(?:wechat|weixin|vx|wx))"
    rf"(?:号|id|账号)?{_GLUE}"
    r"(?P<id>wxid_[A-Za-z0-9]{4,30}|[A-Za-z][\-_A-Za-z0-9]{5,19})(?![\-_A-Za-z0-9])",
    re.IGNORECASE,
)
_QQ = re.compile(
    rf"(?:(?<![A-Za-z])qq|扣扣)(?:号码|号)?{_GLUE}(?P<id>[1-9][0-9]{{4,10}})(?![0-9])",
    re.IGNORECASE,
)
_WECHAT_CUE = re.compile(r"信|wechat|weixin|[vw]x", re.IGNORECASE)
_QQ_CUE = re.compile(r"qq|扣扣", re.IGNORECASE)
# Words that follow "WeChat" in prose without being an id.
_NOT_IDS = frozenset({"wechat", "weixin", "official", "account", "channel", "number"})


class WeChatRecognizer(Recognizer):
    """WeChat ids after a WeChat context word."""

    entity_types = (EntityType.CN_WECHAT_ID,)
    cue = _WECHAT_CUE

    def find(self, text: str) -> Iterator[Entity]:
        """Yield ids."""
        for match in _WECHAT.finditer(text):
            if match.group("id").lower() not in _NOT_IDS:
                start, end = match.span("id")
                yield Entity(EntityType.CN_WECHAT_ID, start, end, 0.85)


class QqRecognizer(Recognizer):
    """QQ numbers after a QQ context word."""

    entity_types = (EntityType.CN_QQ,)
    cue = _QQ_CUE

    def find(self, text: str) -> Iterator[Entity]:
        """Yield numbers."""
        for match in _QQ.finditer(text):
            start, end = match.span("id")
            yield Entity(EntityType.CN_QQ, start, end, 0.85)
