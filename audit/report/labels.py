"""Plain-Chinese words the self-check report shows beside the trail's codes.

The officer sees both: the code is what the trail, the API and the JSON hold;
the words say what it means. A code missing here is shown on its own, never
hidden. A policy reason `code:detail` (e.g. `sensitive_tag_not_permitted:孕期`)
is labelled by its code.
"""

from datetime import UTC, datetime

from governance.subjects import CHINA_TZ

OUTCOMES = {"allowed": "允许", "denied": "拒绝", "error": "出错"}
REASONS = {
    "consent_missing": "未取得同意",
    "consent_withdrawn": "同意已撤回",
    "consent_expired": "同意已过期",
    "consent_stale": "告知已更新，需重新同意",
    "personalisation_opted_out": "已关闭个性化",
    "purpose_not_permitted": "调用方无权用于该用途",
    "policy_denied": "策略拒绝",
    "detokenise_not_permitted": "无权还原令牌",
    "forbidden_role": "角色无权访问",
    "unauthenticated": "未认证",
    "invalid_request": "请求无效",
    "unknown_dataset": "数据集不存在",
    "unknown_subject": "个人不存在",
    "dependency_unavailable": "依赖服务不可用",
    "internal_error": "内部错误",
    "sensitive_field_not_permitted": "敏感字段不允许用于该用途",
    "sensitive_tag_not_permitted": "敏感标签不允许用于该用途",
    "field_not_permitted": "字段不允许用于该用途",
    "tag_not_permitted": "标签不允许用于该用途",
    "price_discrimination_risk": "价格歧视风险",
    "approval_required": "批量读取需审批",
    "minor_excluded": "未成年人不适用",
    "recipient_not_permitted": "接收方未获许可",
    "recipient_consent_required": "需取得针对该接收方的单独同意",
    "transfer_mechanism_required": "出境需合法机制",
    "separate_consent_required": "需取得单独同意",
    "rate_limited": "超出调用额度或频率",
    "counters_unavailable": "额度计数不可用",
    "unknown_caller": "调用方不存在",
    "invalid_filter": "查询条件无效",
    "unknown_filter": "查询参数未知或重复",
    "invalid_month": "月份无效",
    "conflict": "与现有记录冲突",
}
KINDS = {
    "access.read": "单条记录读取",
    "access.query": "人群查询",
    "access.detokenise": "令牌还原",
    "text.redact": "文本脱敏",
    "consent.granted": "同意授予",
    "consent.withdrawn": "同意撤回",
    "consent.expired": "同意到期",
    "consent.imported": "同意批量导入",
    "consent.personalisation": "个性化开关",
    "consent.read": "查看同意记录",
    "consent.center_link": "签发同意管理链接",
    "audit.read": "查阅审计日志",
    "audit.verify": "校验审计日志",
    "audit.report": "生成合规自查报告",
    "decisions.read": "查阅决策日志",
    "caller.added": "新增调用方",
    "caller.revoked": "吊销调用方",
    "caller.changed": "变更调用方",
    "caller.role": "角色不符被拒",
    "caller.unauthenticated": "未认证请求",
    "caller.throttled": "未认证请求被限流",
    "caller.budget": "调用额度用尽",
    "audit.export": "导出审计日志",
    "audit.breach": "泄露影响查询",
}
STATUSES = {"scored": "已评估", "new": "本月新增", "short": "基线不足"}
DIRECTIONS = {"spike": "激增", "drop": "骤降"}
PROBLEMS = {
    "altered": "记录被改动",
    "missing": "记录缺失",
    "out_of_order": "顺序错乱",
    "broken_link": "链接断裂",
    "truncated": "链尾被截断",
    "head_mismatch": "链头不符",
    "unknown_chain": "出现未登记的链",
}


def reason_label(code: str) -> str:
    """The words for a reason code, or for the code part of `code:detail`."""
    return REASONS.get(code.split(":", 1)[0], "")


def beijing(ts: str) -> str:
    """A trail instant (UTC text) as Beijing time, `YYYY-MM-DD HH:MM:SS`."""
    moment = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
