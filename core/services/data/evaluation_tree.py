"""The indicator tree of the annual evaluation: groups of indicators with their points, each leaf either
`data` (a figure the platform measures, mapped linearly to points) or `expert` (scored by experts).

The default follows the 2026 national structure (three first-level, nine second-level indicators);
EVALUATION_TREE_FILE names a JSON file of the same shape that replaces it. docs/indicators.md is the
reference of every formula. A round keeps the tree it was opened with (as the dict of `tree_dict`)."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import BusinessRuleViolation

TOTAL_POINTS = Decimal(100)
KINDS = ("data", "expert")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# the figures a data leaf may use: slug -> (name, unit shown); computed in evaluation_indicators.py
METRICS: dict[str, tuple[str, str]] = {
    "open_rate": ("开放率：开放共享的仪器台数 ÷ 在册仪器台数", "%"),
    "effective_utilisation": ("有效工作机时合计 ÷ 定额机时合计（台均有效机时 ÷ 台均定额）", "%"),
    "external_hours_avg": ("台均对外服务机时（小时）", "h"),
    "sensor_coverage": ("传感器覆盖率：有传感器上报的仪器·月 ÷ 仪器·月", "%"),
    "completion_rate": ("订单完成率：已确认或已结算 ÷ （已确认或已结算 + 被拒 + 发生争议）", "%"),
    "dispute_rate": ("争议率：发生争议的订单 ÷ 已出报告的订单", "%"),
    "rating_avg": ("用户评价平均星级（1–5 星）", "星"),
    "external_income_ratio": ("对外服务收入 ÷ 仪器原值", "%"),
}


@dataclass(frozen=True)
class Indicator:
    """A leaf: what is scored."""
    key: str
    name: str
    kind: str  # data | expert
    points: float
    group: str  # the key of its first-level group
    parent: str  # the name of its second-level indicator (its own name when it is one)
    metric: str | None = None  # data leaves
    zero_at: float = 0.0  # the figure at or beyond which the leaf scores 0 ...
    full_at: float = 1.0  # ... and at or beyond which it scores full points (linear between)
    guide: str = ""  # what experts look at; for data leaves, a note on the figure


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    points: float
    level: int
    children: tuple["Group | Indicator", ...]


@dataclass(frozen=True)
class Tree:
    name: str
    tie_break: str  # the first-level group whose points break a tie of totals
    groups: tuple[Group, ...]

    def leaves(self) -> list[Indicator]:
        found: list[Indicator] = []

        def walk(node: Group | Indicator) -> None:
            if isinstance(node, Indicator):
                found.append(node)
            else:
                for child in node.children:
                    walk(child)
        for group in self.groups:
            walk(group)
        return found

    def expert_leaves(self) -> list[Indicator]:
        return [leaf for leaf in self.leaves() if leaf.kind == "expert"]

    def data_leaves(self) -> list[Indicator]:
        return [leaf for leaf in self.leaves() if leaf.kind == "data"]

    def leaf(self, key: str) -> Indicator | None:
        return next((leaf for leaf in self.leaves() if leaf.key == key), None)

    @property
    def tie_break_name(self) -> str:
        return next(g.name for g in self.groups if g.key == self.tie_break)


def points_for(leaf: Indicator, value: float | None) -> float:
    """A data leaf's points: 0 without a figure; linear from zero_at (0 points) to full_at (full points),
    capped at both ends; a leaf whose full_at is below zero_at rewards small figures (the dispute rate)."""
    if value is None or not math.isfinite(value):
        return 0.0
    share = (value - leaf.zero_at) / (leaf.full_at - leaf.zero_at)
    return round2(leaf.points * min(1.0, max(0.0, share)))


def round2(value: float) -> float:
    """Half up to two decimals, as a person does it by hand (Python's round() is half-even on binary floats)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))


def _leaf(key: str, name: str, kind: str, points: float, **more: Any) -> dict[str, Any]:
    return {"key": key, "name": name, "kind": kind, "points": points, **more}


def default_tree_dict(national_external_hours: float = 273.0) -> dict[str, Any]:
    """The default tree: 68 points from the platform's data, 32 from experts."""
    return {
        "name": "大型科研仪器开放共享评价考核指标（2026 版结构）",
        "tie_break": "sharing",
        "children": [
            {"key": "organisation", "name": "组织管理", "children": [
                _leaf("management", "统筹管理", "expert", 10,
                      guide="管理制度是否健全并执行：开放共享管理办法、收费标准、收入分配与激励、安全与考核制度。"),
                _leaf("open_rate", "科研仪器开放率", "data", 8, metric="open_rate", zero_at=0.0, full_at=1.0),
                _leaf("team", "实验技术队伍建设", "expert", 6,
                      guide="专职实验技术人员的数量、结构、培训与职称晋升、激励措施。"),
                _leaf("online_platform", "在线服务平台建设", "data", 6, metric="sensor_coverage",
                      zero_at=0.0, full_at=0.8, guide="仪器入网并由电流传感器在线上报运行状态；覆盖 80% 即得满分。"),
            ]},
            {"key": "operation", "name": "运行使用", "children": [
                _leaf("effective_hours", "仪器运行机时", "data", 18, metric="effective_utilisation",
                      zero_at=0.0, full_at=1.0, guide="有效工作机时达到定额机时（100%）即得满分。"),
                {"key": "use_effect", "name": "运行使用及成效", "children": [
                    _leaf("completion_rate", "订单完成率", "data", 6, metric="completion_rate",
                          zero_at=0.6, full_at=0.95),
                    _leaf("use_outcomes", "运行使用成效", "expert", 6,
                          guide="仪器支撑的科研项目、论文、专利、标准和人才培养等成效。"),
                ]},
            ]},
            {"key": "sharing", "name": "共享服务", "children": [
                _leaf("external_hours", "共享机时", "data", 16, metric="external_hours_avg", zero_at=0.0,
                      full_at=national_external_hours,
                      guide=f"台均对外服务机时达到全国平均水平（{national_external_hours:g} 小时）即得满分。"),
                {"key": "service_effect", "name": "对外服务成效及用户评价", "children": [
                    _leaf("rating", "用户评价", "data", 5, metric="rating_avg", zero_at=3.0, full_at=5.0),
                    _leaf("external_income", "对外服务收入", "data", 5, metric="external_income_ratio",
                          zero_at=0.0, full_at=0.05),
                    _leaf("dispute_rate", "服务争议率", "data", 4, metric="dispute_rate", zero_at=0.10, full_at=0.0),
                ]},
                _leaf("self_reliance", "服务科技基础条件自主保障", "expert", 10,
                      guide="自主研制仪器、功能开发与技术改造、关键部件国产化、对重大任务的保障能力。"),
            ]},
        ],
    }


def _number(raw: Any, where: str, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise _bad(f"{where} 的 {what} 须为数字")
    return float(raw)


def _bad(reason: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(f"指标体系无效：{reason}。", code="invalid_indicator_tree")


def _parse(raw: Any, level: int, group: str, parent: str, seen: set[str]) -> Group | Indicator:
    if not isinstance(raw, dict):
        raise _bad(f"第 {level} 级有一项不是对象")
    key, name = raw.get("key"), raw.get("name")
    if not isinstance(key, str) or not _KEY.match(key):
        raise _bad(f"指标 {name or key!r} 的 key 须为小写英文字母开头的字母、数字或下划线")
    if key in seen:
        raise _bad(f"key {key!r} 重复")
    seen.add(key)
    if not isinstance(name, str) or not name.strip():
        raise _bad(f"{key} 缺少名称")
    children = raw.get("children")
    if children is None:
        return _parse_leaf(raw, key, name.strip(), level, group, parent)
    if level == 1:
        group = key
    if not isinstance(children, list) or not children:
        raise _bad(f"{key} 的 children 须为非空列表")
    if "kind" in raw:
        raise _bad(f"{key} 有下级指标，不能再设 kind")
    nodes = tuple(_parse(c, level + 1, group, name.strip() if level == 2 else parent, seen) for c in children)
    total = sum(Decimal(str(n.points)) for n in nodes)
    if "points" in raw and Decimal(str(_number(raw["points"], key, "points"))) != total:
        raise _bad(f"{key} 的分值 {raw['points']} 与其下级指标分值之和 {total} 不等")
    return Group(key=key, name=name.strip(), points=float(total), level=level, children=nodes)


def _parse_leaf(raw: dict[str, Any], key: str, name: str, level: int, group: str, parent: str) -> Indicator:
    if level == 1:
        raise _bad(f"一级指标 {key} 须有下级指标")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _bad(f"末级指标 {key} 的 kind 须为 data（平台数据）或 expert（专家评分）")
    points = _number(raw.get("points"), key, "points")
    if points <= 0 or Decimal(str(points)).as_tuple().exponent < -2:  # type: ignore[operator]
        raise _bad(f"{key} 的分值须为正数，最多两位小数")
    guide = raw.get("guide", "")
    if not isinstance(guide, str):
        raise _bad(f"{key} 的 guide 须为文字")
    own_parent = name if level == 2 else parent
    if kind == "expert":
        return Indicator(key=key, name=name, kind=kind, points=points, group=group, parent=own_parent, guide=guide)
    metric = raw.get("metric")
    if metric not in METRICS:
        raise _bad(f"数据指标 {key} 的 metric 须为 {' / '.join(METRICS)} 之一")
    zero_at, full_at = _number(raw.get("zero_at"), key, "zero_at"), _number(raw.get("full_at"), key, "full_at")
    if zero_at == full_at:
        raise _bad(f"{key} 的 zero_at 与 full_at 不能相等")
    return Indicator(key=key, name=name, kind=kind, points=points, group=group, parent=own_parent, metric=metric,
                     zero_at=zero_at, full_at=full_at, guide=guide)


def parse_tree(raw: Any) -> Tree:
    """A validated tree: unique keys, every leaf with its kind (and a known metric and mapping for data
    leaves), each group's points the sum of its children's, 100 points in all, and a tie-break group."""
    if not isinstance(raw, dict) or not isinstance(raw.get("children"), list) or not raw["children"]:
        raise _bad("须为一个对象，children 为一级指标的列表")
    seen: set[str] = set()
    groups = tuple(_parse(child, 1, "", "", seen) for child in raw["children"])
    total = sum(Decimal(str(g.points)) for g in groups)
    if total != TOTAL_POINTS:
        raise _bad(f"各指标分值之和须为 100，现为 {total}")
    tie_break = raw.get("tie_break", groups[-1].key)
    if tie_break not in {g.key for g in groups}:
        raise _bad(f"tie_break 须为一级指标的 key，现为 {tie_break!r}")
    name = raw.get("name") or "开放共享评价考核指标"
    return Tree(name=str(name), tie_break=tie_break, groups=groups)  # type: ignore[arg-type]


def load_tree_dict(tree_file: str | None, national_external_hours: float) -> dict[str, Any]:
    """The tree a new round takes: the file of EVALUATION_TREE_FILE if set (validated), else the default."""
    if not tree_file:
        raw: Any = default_tree_dict(national_external_hours)
    else:
        try:
            raw = json.loads(Path(tree_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise _bad(f"无法读取指标体系文件 {tree_file}（{exc.strerror}）") from None
        except ValueError as exc:
            raise _bad(f"指标体系文件 {tree_file} 不是有效的 JSON（{exc}）") from None
    parse_tree(raw)
    return raw  # type: ignore[no-any-return]
