"""Chinese personal names: a known surname, one or two given-name characters, context.

A candidate starts at a surname (compound surnames first) and is accepted:

- with a **strong** context (0.85): right after a word that introduces a name
  (姓名, 联系人, 收件人, 客户, ``name``, ``contact`` …, optionally with a colon
  or quotes) or right before an honorific (先生, 女士, 老师 …). The given name
  may be any Han characters except stop characters (verbs, particles and titles
  such as 说, 来, 的); after a rare surname (国, 都, 来 …) they must be common
  given-name characters.
- with a **weak** context (0.6): a common surname at the start of the text or
  after a non-Han character or a preposition (致, 给, 和 …), followed by a
  non-Han character or a word that typically follows a name (来电, 反馈, 您好
  …). Every given-name character must be a common one.

Two given-name characters are preferred when what follows fits; common words
that look like names (黄金, 高兴, 马上 …) are never names.
"""

import re
from collections.abc import Iterator

from governance.pii._names import (
    COMMON_WORDS,
    COMPOUND_SURNAMES,
    GIVEN_NAME_CHARS,
    RARE_SURNAMES,
    SINGLE_SURNAMES,
    STOP_CHARS,
)
from governance.pii.context import han_except
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_INTRODUCERS_ZH = (
    "姓名|名字|真实姓名|联系人|联络人|对接人|收件人|收货人|寄件人|发件人|签收人|客户|顾客"
    "|用户|会员|患者|病人|学员|家长|经办人|负责人|持卡人|开户人|户名|账户名|申请人|业主|房东"
    "|租客|乘客|旅客|员工|法定代表人|法人|监护人|借款人|收款人|付款人|投保人|被保险人|车主"
    "|工商户|经营者|店主|群主|管理员|主播|作者|同事|经理|老师|医生|学生|孩子|宝宝"
    "|经手人|代理人|介绍人|推荐人|担保人|受理人|审批人|领款人|提货人|取件人|送货人|快递员"
    "|骑手|司机|前台|我是|我叫|名叫|本人"
)
_INTRODUCERS_EN = (
    "name|contact|recipient|receiver|customer|user|dear|attn|mrs|mr|ms|miss|call|by|from"
    "|to|cc"
)
_INTRODUCERS = f"{_INTRODUCERS_ZH}|(?<![A-Za-z])(?:{_INTRODUCERS_EN})(?![A-Za-z])\\.?"
_PREPOSITIONS = (
    "致|请|由|给|和|与|及|跟|同|找|叫|让|向|被|对|为|问|通知|感谢|谢谢|恭喜"
    "|亲爱的|尊敬的|@|说|告诉|麻烦|提醒|转告|帮|替|代|等"
)
_GLUE = frozenset(" \t\"':：=是为")
_INTRODUCED = re.compile(rf"(?:{_INTRODUCERS})[\s\"':：=是为]{{0,4}}$", re.IGNORECASE)
_INTRODUCER_ENDS = frozenset(w[-1] for w in _INTRODUCERS_ZH.split("|")) | frozenset(
    "abcdefghijklmnopqrstuvwxyz."
)
_PREPOSITION_BEFORE = re.compile(f"(?:{_PREPOSITIONS})$")
_PREPOSITION_ENDS = frozenset(w[-1] for w in _PREPOSITIONS.split("|"))
_SINGLES = "".join(sorted(SINGLE_SURNAMES | RARE_SURNAMES))
_COMPOUNDS = "|".join(sorted(COMPOUND_SURNAMES))
# Han characters that end no context word: a surname after one of them can only
# be a name before an honorific. Singles and compounds are separate patterns so
# that each starts with characters the regex engine can seek.
_NO_CONTEXT = han_except("".join(_INTRODUCER_ENDS | _PREPOSITION_ENDS | _GLUE))
_SURNAMES_AFTER_CONTEXT = (
    re.compile(f"(?:{_COMPOUNDS})(?<!{_NO_CONTEXT}..)(?=[{_HAN}])"),
    re.compile(f"[{_SINGLES}](?<!{_NO_CONTEXT}.)(?=[{_HAN}])"),
)
_SURNAMES_ANYWHERE = (
    re.compile(f"(?:{_COMPOUNDS})(?=[{_HAN}])"),
    re.compile(f"[{_SINGLES}](?=[{_HAN}])"),
)
_HONORIFIC = "先生|女士|小姐|老师|同学|经理|总监|主任|医生|大夫|护士|律师|师傅|阿姨|叔叔|老板|同志"
_HONORIFIC_AFTER = re.compile(_HONORIFIC)
_FUNCTION_WORDS = frozenset("于和与及给由向对把被让请叫找同跟为问是在")
_GIVEN = re.compile(f"[{_HAN}]{{1,2}}")
_FOLLOWERS = re.compile(
    rf"$|[^{_HAN}]|{_HONORIFIC}|来电|致电|反馈|反映|表示|说|称|咨询|要求|投诉|申请|已|于|在"
    r"|的|是|您好|你好|电话|手机|联系|预约|购买|下单|签收|收到|退|报名|来访|留言|同意|确认"
    r"|和|与|及|今天|明天|昨天|上午|下午|晚上|需要|想|希望|也|都|还|会|将|等|并|对|把|被|给"
    r"|让|家|订|买|来|去|打|发|住|身份证|地址|邮箱|提出|办理|取消|签|拨|回复|告知|本人|女士"
    r"|男|女|岁|老|尽快|马上|立即|务必|请|重新|明早|明晚|前|上传|查收|核实|处理|签字|到"
    r"|过来|回电|回个|已经|刚刚|刚才|正在|一直|没有|不"
)


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


class PersonRecognizer(Recognizer):
    """Chinese names after an introducing word or before an honorific or verb."""

    entity_types = (EntityType.PERSON,)

    def find(self, text: str) -> Iterator[Entity]:
        """Yield names."""
        honorifics = _HONORIFIC_AFTER.search(text) is not None
        compounds, singles = (
            _SURNAMES_ANYWHERE if honorifics else _SURNAMES_AFTER_CONTEXT
        )
        starts = set()
        for match in (*compounds.finditer(text), *singles.finditer(text)):
            start, surname = match.span()
            if start in starts:
                continue  # 欧阳, not 欧
            starts.add(start)
            strong, weak = self._left_context(text, start)
            if not (strong or weak or honorifics):
                continue
            found = self._given_name(
                text,
                surname,
                strong=strong,
                weak=weak and match.group() not in RARE_SURNAMES,
                rare=match.group() in RARE_SURNAMES,
                function_word=match.group() in _FUNCTION_WORDS,
            )
            if found is not None:
                end, score = found
                if text[start:end] not in COMMON_WORDS:
                    yield Entity(EntityType.PERSON, start, end, score)

    @staticmethod
    def _left_context(text: str, start: int) -> tuple[bool, bool]:
        """Whether a word introducing a name ends at `start`, and whether a weak context does."""
        glued = start
        while glued > 0 and start - glued < 4 and text[glued - 1] in _GLUE:
            glued -= 1
        before = text[glued - 1].lower() if glued else ""
        ends = before in _INTRODUCER_ENDS or (
            start > 0 and text[start - 1] in _INTRODUCER_ENDS
        )
        strong = (
            ends and _INTRODUCED.search(text, max(0, start - 16), start) is not None
        )
        if strong or not start or not _is_han(text[start - 1]):
            return strong, True
        return False, (
            text[start - 1] in _PREPOSITION_ENDS
            and _PREPOSITION_BEFORE.search(text, max(0, start - 3), start) is not None
        )

    @staticmethod
    def _given_name(
        text: str,
        at: int,
        *,
        strong: bool,
        weak: bool,
        rare: bool,
        function_word: bool,
    ) -> tuple[int, float] | None:
        """End and score of the best given name starting at `at`, if any."""
        fallback = None
        han = _GIVEN.match(text, at)
        available = len(han.group()) if han else 0
        for length in (2, 1):
            given = text[at : at + length]
            if length > available or any(c in STOP_CHARS for c in given):
                continue
            end = at + length
            honorific = _HONORIFIC_AFTER.match(text, end) is not None
            fits = _FOLLOWERS.match(text, end) is not None
            common = all(c in GIVEN_NAME_CHARS for c in given)
            if rare and not common:
                continue
            if strong or (honorific and (weak or not function_word)):
                if fits:
                    return end, 0.85
                fallback = fallback or (end, 0.85)
            elif weak and fits and common:
                return end, 0.6
        return fallback
