"""The instrument classification (设备分类编码) of the national record, top two levels.

A code is 大类 (2 digits) + 中类 (2 digits) + an optional 小类 (2 digits) the institution picks. The
大类 follow the national record's list; only 分析仪器 is split into 中类 here, the others carry
中类 00 (未细分). The numbers are this platform's (docs/import-format.md lists them).
"""
from __future__ import annotations

import re

MAJOR: dict[str, str] = {
    "01": "分析仪器", "02": "物理性能测试仪器", "03": "计量仪器", "04": "电子测量仪器", "05": "海洋仪器",
    "06": "地球探测仪器", "07": "大气探测仪器", "08": "天文仪器", "09": "医学诊断仪器", "10": "核仪器",
    "11": "特种检测仪器", "12": "工艺实验设备", "13": "计算机及其配套设备", "14": "激光器", "99": "其他仪器",
}
MIDDLE: dict[str, str] = {
    "0101": "电子光学仪器", "0102": "质谱仪器", "0103": "X射线仪器", "0104": "光谱仪器", "0105": "色谱仪器",
    "0106": "波谱仪器", "0107": "电化学仪器", "0108": "显微镜及图像分析仪器", "0109": "热分析仪器",
    "0110": "生化分离分析仪器", "0111": "环境与农业分析仪器", "0112": "样品前处理及制备仪器",
    **{f"{major}00": f"{name}（未细分）" for major, name in MAJOR.items() if major != "01"},
}
_CODE = re.compile(r"^(\d{2})(\d{2})(\d{2})?$")


def is_valid(code: str) -> bool:
    """A known 大类+中类, with or without a 小类."""
    found = _CODE.match(code)
    return bool(found) and f"{found.group(1)}{found.group(2)}" in MIDDLE  # type: ignore[union-attr]


def label(code: str | None) -> str:
    """大类 / 中类 in words ("分析仪器 / 色谱仪器"); "" for no code, the code itself if unknown."""
    if not code:
        return ""
    major, middle = MAJOR.get(code[:2]), MIDDLE.get(code[:4])
    if major is None or middle is None:
        return code
    return major if middle.endswith("（未细分）") else f"{major} / {middle}"


def same_class(a: str | None, b: str | None) -> bool:
    """Two instruments of one 中类 (the purchase check's first filter)."""
    return bool(a) and bool(b) and a[:4] == b[:4]  # type: ignore[index]
