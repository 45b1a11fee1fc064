"""Needs the platform does not serve: it sells tests, not repairs,
registrations, remediation, installation or removals."""
from __future__ import annotations

from typing import Callable

NOT_TESTING = (
    "维修", "修理", "修一下", "去哪修", "上门修", "修好", "换屏", "注册", "代办", "代理记账", "辅导",
    "估价", "估个价", "回收", "施工", "治理", "除甲醛", "安装", "搬家", "保洁", "清洗", "贷款", "办证",
)
# words that make it a testing need after all ("污水治理后达不达标")
TESTING = ("测", "检", "验", "化验", "达标", "超标", "合格", "分析", "鉴定", "认证", "报告", "test", "analysis")


def out_of_scope(normalised_query: str, document_frequency: Callable[[str], int]) -> bool:
    """True when the query asks for a service that is not a test and no listing mentions it."""
    if any(t in normalised_query for t in TESTING):
        return False
    return any(w in normalised_query and not document_frequency(f"w:{w}") for w in NOT_TESTING)
