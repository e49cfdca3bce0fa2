"""Plain-Chinese words the consent center shows for catalog names and codes.

The catalog's categories and reason codes are identifiers meant for engineers;
the subject reads these labels instead. A name missing here is shown as it is
rather than hidden: the subject is never told less than what is recorded.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime

from governance.catalog.models import RECIPIENT_SCOPE
from governance.subjects import CHINA_TZ

CATEGORY_LABELS = {
    "identity.customer_id": "会员号",
    "identity.name": "姓名",
    "identity.id_card": "身份证号",
    "identity.birth_date": "出生日期",
    "profile.nickname": "昵称",
    "contact.phone": "手机号",
    "contact.email": "电子邮箱",
    "contact.address": "收货地址",
    "financial.bank_card": "银行卡号（敏感信息）",
    "financial.debt": "负债情况（敏感信息）",
    "text.free": "备注文字",
    "consumption.level": "消费水平",
    "consumption.price_sensitivity": "价格敏感度",
    "interest.shopping": "购物兴趣",
    "lifecycle.stage": "会员阶段",
    "health.fertility": "孕育信息（敏感信息：健康）",
    "health.condition": "疾病信息（敏感信息：健康）",
}
STATE_LABELS = {
    "granted": "已同意",
    "withdrawn": "已撤回",
    "expired": "已过期",
    "stale": "需重新确认",
    "none": "未同意",
}
# A read that returned data, and an attempt that did not: only the first
# "viewed" anything, so the two are never worded alike.
KIND_LABELS = {
    "access.read": "查看了您的资料",
    "access.query": "在人群筛选中读取了您的资料",
}
ATTEMPT_LABELS = {
    "access.read": "尝试查看您的资料",
    "access.query": "尝试在人群筛选中读取您的资料",
}
ATTEMPT_OUTCOMES = {"denied": "未获允许", "error": "未能完成"}
REASON_LABELS = {
    "consent_missing": "您未同意该用途",
    "consent_withdrawn": "您已撤回同意",
    "consent_expired": "您的同意已过期",
    "consent_stale": "告知内容已更新，需您重新确认",
    "personalisation_opted_out": "您已关闭个性化推荐",
    "purpose_not_permitted": "访问方无权用于该用途",
    "policy_denied": "不符合数据使用规则",
}


def category_labels(
    categories: Iterable[str], recipients: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """Chinese labels of data categories: identity first, as the table orders them.

    A scope entry naming a recipient (`recipient:<name>`, SC-02) reads as
    "提供给：" and the recipient's legal name from `recipients` (name → legal
    name), or its registered name when the catalog no longer lists it.
    """
    order = {name: i for i, name in enumerate(CATEGORY_LABELS)}
    ranked = sorted(categories, key=lambda c: (order.get(c, len(order)), c))
    return tuple(_label(c, recipients or {}) for c in ranked)


def _label(category: str, recipients: Mapping[str, str]) -> str:
    if category.startswith(RECIPIENT_SCOPE):
        name = category.removeprefix(RECIPIENT_SCOPE)
        return f"提供给：{recipients.get(name, name)}"
    return CATEGORY_LABELS.get(category, category)


def purpose_title(description: str, fallback: str) -> str:
    """The Chinese head of a purpose description: '营销推送 (SMS ...)' -> '营销推送'."""
    head = description.split(" (", 1)[0].split("（", 1)[0].strip()
    return head or fallback


def china_time(moment: datetime) -> str:
    """`moment` as Beijing time in words, e.g. '2026年3月1日 10:05'."""
    local = moment.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
