"""Chinese personal names: a known surname, one or two given-name characters, context.

A candidate starts at a surname (compound surnames first); its given name is
one or two Han characters, two preferred when what follows fits. It is a name:

- with a **strong** context (0.85): right after a word that introduces a name
  (姓名, 联系人, 收件人, 客户, ``name``, ``contact`` …, optionally with a colon
  or quotes) or right before an honorific (先生, 女士, 老师 …). The given name
  may be any Han characters except stop characters (verbs, particles and titles
  such as 说, 来, 的); after a rare surname (国, 都, 来 …) they must be common
  given-name characters.
- **on its own** (0.6), when it reads as a name where it stands: a common
  surname, common given-name characters, then the end of the text, a non-Han
  character or a word that typically follows a name (说, 每, 在, 的, 来电,
  反馈, 本人 …). Before it, the start of the text, a non-Han character or a
  preposition or verb that takes a person (致, 给, 和, 谢谢, 听 …) is enough;
  after any other Han character (团购群里郑阳说, 周末王瑞会来) the name needs
  two of: a surname that seldom starts an ordinary word (王, 李, 张; not 高,
  周, 方), typical given-name characters (伟, 秀英, 建国), a verb right after
  it rather than a particle or punctuation.

Common words that look like names (黄金, 高兴, 王国 …) are never names; on its
own, neither is a candidate that starts with one, that is a place (金华, 唐山)
or whose surname ends a word with the character before it (关于, 上周).
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
    TYPICAL_GIVEN_CHARS,
    WORDY_SURNAMES,
)
from governance.pii._regions import place_names
from governance.pii.context import any_word
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_INTRODUCERS_ZH = (
    "姓名 名字 真实姓名 联系人 联络人 对接人 收件人 收货人 寄件人 发件人 签收人 客户 顾客 用户"
    " 会员 患者 病人 学员 家长 经办人 负责人 持卡人 开户人 户名 账户名 申请人 业主 房东 租客"
    " 乘客 旅客 员工 法定代表人 法人 监护人 借款人 收款人 付款人 投保人 被保险人 车主 工商户"
    " 经营者 店主 群主 管理员 主播 作者 同事 经理 老师 医生 学生 孩子 宝宝 经手人 代理人"
    " 介绍人 推荐人 担保人 受理人 审批人 领款人 提货人 取件人 送货人 快递员 骑手 司机 前台"
    " 组长 店长 店员 主管 队长 班长 部长 科长 主任 院长 校长 厂长 站长 所长 值班员 操作员"
    " 审核员 业务员 销售 导购 客服 售后 家属 邻居 买家 卖家 工程师 设计师 助理 秘书 师傅"
    " 我是 我叫 名叫 本人"
)
_INTRODUCERS_EN = (
    "name contact recipient receiver customer user dear attn mrs mr ms miss call by"
    " from to cc operator assignee reviewer owner creator"
)
_PREPOSITIONS = (
    "致 请 由 给 和 与 及 跟 同 找 叫 让 向 被 对 为 问 通知 感谢 谢谢 恭喜 亲爱的 尊敬的 @ 说"
    " 告诉 麻烦 提醒 转告 帮 替 代 等 听 据 陪 带 约 催 见 转交 交给 发给 打给 联系 、 是"
)
_PREPOSITION_WORDS = tuple(_PREPOSITIONS.split())
_INTRODUCER_WORDS = tuple(_INTRODUCERS_ZH.split())
_INTRODUCER_ENDS = frozenset(word[-1] for word in _INTRODUCER_WORDS)
_ENGLISH_WORDS = tuple(_INTRODUCERS_EN.split())
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_GLUE = frozenset(" \t\n\"':：=是为")
"""What may stand between an introducing word and the name: 姓名：张伟, 客户是张伟."""
_SINGLES = SINGLE_SURNAMES | RARE_SURNAMES
_FIRSTS = "".join(sorted(_SINGLES | {c[0] for c in COMPOUND_SURNAMES}))
# What may follow the surname in a name standing on its own: a given-name
# character or the second character of a compound surname.
_ALONE_NEXT = GIVEN_NAME_CHARS | {c[1] for c in COMPOUND_SURNAMES}
# Where a name may start: a surname followed by a Han character, and then
# either a character that may follow it in a name on its own, or, before it,
# the last character of an introducing word, an ASCII letter or a full stop,
# maybe followed by glue. With an honorific in the text, any surname.
_ANY_CANDIDATE = re.compile(f"[{_FIRSTS}](?=[{_HAN}])")
_CANDIDATE = re.compile(
    f"[{_FIRSTS}](?=[{_HAN}])(?:(?=[{''.join(sorted(_ALONE_NEXT))}])"
    + "".join(
        f"|(?<=[{''.join(sorted(_INTRODUCER_ENDS))}A-Za-z.]"
        f"[{re.escape(''.join(sorted(_GLUE)))}]{{{glue}}}.)"
        for glue in range(5)
    )
    + ")"
)
_HONORIFIC = any_word(
    "先生 女士 小姐 老师 同学 经理 总监 主任 医生 大夫 护士 律师 师傅 阿姨 叔叔 老板 同志"
)
_HONORIFIC_AFTER = re.compile(_HONORIFIC)
_FUNCTION_WORDS = frozenset("于和与及给由向对把被让请叫找同跟为问是在")
# What follows a name: verbs and adverbs (a name is the subject) ...
_VERBS = any_word(
    "来电 致电 反馈 反映 表示 说 讲 称 咨询 要求 投诉 申请 已 又 每 刚 也 都 还 会 将 要 想"
    " 正在 一直 已经 刚刚 刚才 本人 名下 负责 同意 推荐 回复 审核 值班 沟通 处理 确认 签收"
    " 购买 下单 收到 预约 报名 来访 留言 提出 办理 取消 上传 查收 核实 签字 回电 回个 需要"
    " 希望 帮 给 跟 把 被 让 对 在 去 来 到 买 订 打 发 住 拿 取 送 寄 收 填 改 换 用 加 问"
    " 找 叫 听 看 做 今天 明天 昨天 上午 下午 晚上 尽快 马上 立即 务必 重新 明早 明晚 没有 不"
    " 一起 那边 这边 那里 这里 他们 她们 等人 一家 夫妇 辞职 离职 入职 请假 到店 到岗 上门 安排"
)
_VERB_AFTER = re.compile(_VERBS)
# ... and particles, conjunctions and words about the person.
_FOLLOWERS = re.compile(
    rf"$|[^{_HAN}]|{_HONORIFIC}|{_VERBS}|"
    + any_word(
        "于 的 是 您好 你好 电话 手机 联系 退 签 拨 告知 和 与 及 等 并 家 身份证 地址 邮箱"
        " 女士 男 女 岁 老 请 前 过来"
    )
)


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


_STRONG, _OPEN, _AFTER_HAN = 2, 1, 0
"""What precedes a candidate: an introducing word, a boundary, another Han character."""


class PersonRecognizer(Recognizer):
    """Chinese names after an introducing word, before an honorific, or standing as one."""

    entity_types = (EntityType.PERSON,)

    def find(self, text: str) -> Iterator[Entity]:
        """Yield names."""
        # With an honorific in the text (王芳女士), any surname may start a name.
        honorific = _HONORIFIC_AFTER.search(text) is not None
        done = 0  # where the last name ended: names do not overlap
        for match in (_ANY_CANDIDATE if honorific else _CANDIDATE).finditer(text):
            start = match.start()
            if start < done:
                continue
            surname = text[start : start + 2]
            if surname not in COMPOUND_SURNAMES:
                surname = text[start]
                if surname not in _SINGLES:
                    continue  # the first character of a compound surname only
            if _introduced(text, start):
                left = _STRONG
            elif honorific or text[start + 1] in _ALONE_NEXT:
                left = _left_context(text, start)
            else:
                continue  # neither a strong context nor a name on its own
            found = _name_at(text, start, surname, left, honorific)
            if found is not None:
                done, score = found
                if done - start == 2 and _surname_before(text, start, score):
                    start -= 1  # 车桂珍: a rare surname, then a name-like 桂珍
                yield Entity(EntityType.PERSON, start, done, score)


def _introduced(text: str, start: int) -> bool:
    """Whether a word introducing a name ends at `start`, maybe followed by glue."""
    glued = start
    while glued > 0 and start - glued < 4 and text[glued - 1] in _GLUE:
        glued -= 1
    for end in range(start, glued - 1, -1):  # 我是 + 张伟: the glue may end the word
        if (
            end
            and text[end - 1] in _INTRODUCER_ENDS
            and text.endswith(_INTRODUCER_WORDS, max(0, end - 6), end)
        ):
            return True
    end = glued - 1 if text[glued - 1 : glued] == "." else glued  # Mr. 张
    if not end or text[end - 1] not in _ASCII_LETTERS:
        return False
    word = text[max(0, end - 10) : end].lower()
    return any(
        word.endswith(english)
        and (len(word) == len(english) or word[-len(english) - 1] not in _ASCII_LETTERS)
        for english in _ENGLISH_WORDS
    )


def _name_at(
    text: str, start: int, surname: str, left: int, honorifics: bool
) -> tuple[int, float] | None:
    """End and score of the best name starting with `surname` at `start`, if any.

    `honorifics` tells whether the text holds an honorific anywhere.
    """
    at = start + len(surname)
    first = text[at : at + 1]
    if not first or first in STOP_CHARS or not _is_han(first):
        return None
    second = text[at + 1 : at + 2]
    two = second != "" and second not in STOP_CHARS and _is_han(second)
    rare = surname in RARE_SURNAMES
    fallback = loose = None
    for end in (at + 2, at + 1) if two else (at + 1,):
        common = first in GIVEN_NAME_CHARS and (
            end == at + 1 or second in GIVEN_NAME_CHARS
        )
        if not common and (rare or not (left == _STRONG or honorifics)):
            continue  # only a strong context or an honorific allows other characters
        word = text[start:end] in COMMON_WORDS
        if (word or (end == at + 2 and text[start : at + 1] in COMMON_WORDS)) and not (
            _typical(text[at:end])
            and (not word or (left == _STRONG and _ends_here(text, end)))
        ):
            # 持卡人汪洋， and 刘海燕说 are names; 黄金价格, 客户关系经理,
            # 用户游戏活动 and 这款游戏里的王国越来越大 are not
            continue
        follower = _FOLLOWERS.match(text, end)
        honorific = honorifics and _HONORIFIC_AFTER.match(text, end) is not None
        if left == _STRONG or (
            honorific and (left == _OPEN or surname not in _FUNCTION_WORDS)
        ):
            if follower is not None:
                return end, 0.85
            fallback = fallback or (end, 0.85)
        elif common and not rare and _alone(text, start, at, end, left, follower):
            if follower is not None:
                return end, 0.6
            loose = loose or (end, 0.6)
    return fallback or loose


def _surname_before(text: str, start: int, score: float) -> bool:
    """Whether a two-character name found on its own is the given name of a longer one."""
    before = text[start - 1 : start]
    return (
        score < 0.85
        and before in _SINGLES
        and before not in _FUNCTION_WORDS
        and text[start - 1 : start + 1] not in COMMON_WORDS
    )


def _typical(given: str) -> bool:
    return all(c in TYPICAL_GIVEN_CHARS for c in given)


def _ends_here(text: str, end: int) -> bool:
    return end == len(text) or not _is_han(text[end])


def _alone(
    text: str, start: int, at: int, end: int, left: int, follower: re.Match[str] | None
) -> bool:
    """Whether a candidate without a strong context reads as a name where it stands.

    Evidence in half points, two points needed: a boundary or preposition
    before it (2); a surname that seldom starts an ordinary word (1); typical
    given-name characters (1); a two-character given name (0.5); after it a
    verb, punctuation or the end of the text (1) or another word that may
    follow a name (0.5), and anything else (-2).
    """
    if (
        text[start:end] in place_names()
        or text[start - 1 : start + 1] in COMMON_WORDS  # 关于, 上周
        or (  # 向正在, 应小于; but 周成本人
            text[end - 1 : end + 1] in COMMON_WORDS
            and (follower is None or follower.end() - end < 2)
        )
        or (left == _AFTER_HAN and text[at:end] == "文")  # 拉丁文, 西夏文
    ):
        return False
    if follower is not None:
        after = 2 if _ends_here(text, end) or _VERB_AFTER.match(text, end) else 1
    else:
        after = -4
    evidence = (
        4 * (left == _OPEN)
        + 2 * (text[start:at] not in WORDY_SURNAMES)
        + 2 * _typical(text[at:end])
        + (end - at == 2)
        + after
    )
    return evidence >= 4


def _left_context(text: str, start: int) -> int:
    """Whether a boundary or a preposition precedes `start` (no introducing word does)."""
    if start == 0 or not _is_han(text[start - 1]):
        return _OPEN
    if text.endswith(_PREPOSITION_WORDS, max(0, start - 3), start):
        return _OPEN
    return _AFTER_HAN
