"""Each data indicator of the default tree on a hand-made institution, every figure and point worked out
by hand below (docs/indicators.md has the formulas), and the indicator tree's own rules: the default
adds up to 100, a replacement file is validated and used, a broken one is refused in Chinese."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from flask import Flask

from core.errors import BusinessRuleViolation
from core.models import OrderStatus, Role
from core.services.data.evaluation_indicators import data_scores, measure
from core.services.data.evaluation_rounds import load_round, tree_of
from core.services.data.evaluation_tree import default_tree_dict, load_tree_dict, parse_tree, points_for
from tests.manage.evaluation_world import YEAR, World

TZ = "Asia/Shanghai"
S = OrderStatus


@pytest.fixture
def world(app: Flask) -> World:
    return World(app)


def build_institution(world: World) -> int:
    """The institution every expected figure below is computed from."""
    inst = world.institution("EV-A", "甲研究院")
    i1 = world.instrument(inst, "EV-A-1", value_cny=1_000_000)
    i2 = world.instrument(inst, "EV-A-2", value_cny=500_000)
    world.instrument(inst, "EV-A-3", open_for_sharing=False)  # registered, not open, no stated value
    world.instrument(inst, "EV-A-4", share_mode="none", value_cny=500_000)  # open flag set but share mode none
    world.instrument(inst, "EV-A-5", in_service=date(YEAR + 1, 3, 1))  # enters service after the year: not counted
    for m in range(1, 13):  # I1: 100 h of 100 h quota, 30 h external, ¥1,000 external income each month
        world.month(i1, f"{YEAR}-{m:02d}", effective=100, quota=100, external=30,
                    source="sensor" if m <= 6 else "self_report", income_external_fen=100_000)
    for m in range(7, 13):  # I2: half a year, 50 h of 100 h, 10 h external, sensor partly (mixed)
        world.month(i2, f"{YEAR}-{m:02d}", effective=50, quota=100, external=10, source="mixed")
    world.month(i1, f"{YEAR - 1}-12", effective=999, quota=1, external=999)  # other years do not count
    world.month(i1, f"{YEAR + 1}-01", effective=999, quota=1, external=999)
    # orders placed in the year (local time): 17 settled, 1 confirmed, 1 settled after a dispute,
    # 2 rejected, and three that count nowhere (cancelled, paid and in progress, a refunded group-buy)
    boundary = datetime(YEAR - 1, 12, 31, 16, 30, tzinfo=timezone.utc)  # 00:30 on 1 January in Shanghai
    world.order(inst, S.settled, created=boundary)
    settled = [world.order(inst, S.settled) for _ in range(16)]
    world.order(inst, S.confirmed)
    world.order(inst, S.settled, through=(S.report_issued, S.disputed, S.settled))
    world.order(inst, S.rejected)
    world.order(inst, S.rejected)
    world.order(inst, S.cancelled)
    world.order(inst, S.paid)
    world.order(inst, S.refunded)
    # 16:30 UTC on 31 December is already next year in Shanghai: not this year's order
    world.order(inst, S.rejected, created=datetime(YEAR, 12, 31, 16, 30, tzinfo=timezone.utc))
    for order, stars in zip(settled, (5, 5, 4, 3)):
        world.rating(order, stars)
    world.rating(settled[5], 1, created=datetime(YEAR + 1, 1, 5, tzinfo=timezone.utc))  # next year's rating
    return inst


def test_each_data_indicator_on_a_hand_made_institution(world: World) -> None:
    inst = build_institution(world)
    with world.session() as session:
        figures = measure(session, inst, YEAR, TZ)
        scores = {s.leaf.key: s for s in data_scores(parse_tree(default_tree_dict()), figures)}
    assert (figures.instruments, figures.instruments_open) == (4, 2)
    assert (figures.effective_hours, figures.quota_hours, figures.external_hours) == (1500, 1800, 420)
    assert (figures.months, figures.sensor_months, figures.instruments_with_months) == (18, 12, 2)
    assert (figures.income_external_fen, figures.value_fen) == (1_200_000, 200_000_000)
    assert (figures.orders_completed, figures.orders_failed) == (19, 2)
    assert (figures.orders_reported, figures.orders_disputed) == (19, 1)
    assert (figures.ratings, figures.stars) == (4, 17)

    expected = {
        # 开放率 2 ÷ 4 = 50 % -> 8 x 0.5
        "open_rate": (0.5, 4.00),
        # sensor coverage 12 ÷ 18 instrument-months = 66.7 %, full at 80 % -> 6 x 0.6667 / 0.8 = 5.00
        "online_platform": (12 / 18, 5.00),
        # 有效机时 1500 h ÷ 定额 1800 h = 83.3 % -> 18 x 0.8333 = 15.00
        "effective_hours": (1500 / 1800, 15.00),
        # completion 19 ÷ (19 + 2) = 90.48 %, linear from 60 % to 95 % -> 6 x 0.8707 = 5.2245 -> 5.22
        "completion_rate": (19 / 21, 5.22),
        # 台均对外机时 420 h ÷ 2 = 210 h against 273 h -> 16 x 0.7692 = 12.3077 -> 12.31
        "external_hours": (210.0, 12.31),
        # ratings 5, 5, 4, 3 -> 4.25 stars, linear from 3 to 5 -> 5 x 0.625 = 3.125 -> 3.13 (half up)
        "rating": (4.25, 3.13),
        # external income ¥12,000 ÷ value ¥2,000,000 = 0.6 %, full at 5 % -> 5 x 0.12 = 0.60
        "external_income": (0.006, 0.60),
        # disputes 1 ÷ 19 reported = 5.26 %, 0 points at 10 %, full at 0 % -> 4 x 0.4737 = 1.8947 -> 1.89
        "dispute_rate": (1 / 19, 1.89),
    }
    assert set(scores) == set(expected)
    for key, (value, points) in expected.items():
        assert scores[key].value == pytest.approx(value), key
        assert scores[key].points == points, key
    assert sum(points for _, points in expected.values()) == pytest.approx(47.15)
    assert scores["open_rate"].explanation == "开放 2 台 ÷ 在册 4 台 = 50.0%"
    assert scores["external_hours"].explanation == "对外机时 420.0 h ÷ 2 台 = 210.0 h"


def test_an_institution_without_data_scores_nothing_on_data(world: World) -> None:
    inst = world.institution("EV-EMPTY")
    with world.session() as session:
        scores = data_scores(parse_tree(default_tree_dict()), measure(session, inst, YEAR, TZ))
    assert {s.leaf.key: s.points for s in scores} == dict.fromkeys(
        ("open_rate", "online_platform", "effective_hours", "completion_rate", "external_hours", "rating",
         "external_income", "dispute_rate"), 0.0)
    assert all(s.value is None for s in scores)


def test_the_mapping_is_linear_and_capped_both_ways() -> None:
    tree = parse_tree(default_tree_dict())
    hours, disputes = tree.leaf("effective_hours"), tree.leaf("dispute_rate")
    assert hours and disputes
    assert [points_for(hours, v) for v in (0, 0.5, 1.0, 1.7, -1)] == [0, 9, 18, 18, 0]
    assert [points_for(disputes, v) for v in (0, 0.05, 0.10, 0.5)] == [4, 2, 0, 0]
    assert points_for(hours, None) == 0 and points_for(hours, float("nan")) == 0


def test_the_default_tree_has_the_national_structure_and_100_points() -> None:
    tree = parse_tree(default_tree_dict())
    assert [g.name for g in tree.groups] == ["组织管理", "运行使用", "共享服务"]
    seconds = [c.name for g in tree.groups for c in g.children]
    assert seconds == ["统筹管理", "科研仪器开放率", "实验技术队伍建设", "在线服务平台建设", "仪器运行机时",
                       "运行使用及成效", "共享机时", "对外服务成效及用户评价", "服务科技基础条件自主保障"]
    assert sum(leaf.points for leaf in tree.leaves()) == 100
    assert {leaf.key for leaf in tree.expert_leaves()} == {"management", "team", "use_outcomes", "self_reliance"}
    assert tree.tie_break_name == "共享服务"


def _small_tree(points: float = 60) -> dict:
    return {"name": "试行指标", "tie_break": "b", "children": [
        {"key": "a", "name": "管理", "children": [{"key": "rules", "name": "制度", "kind": "expert", "points": points}]},
        {"key": "b", "name": "共享", "children": [
            {"key": "open", "name": "开放率", "kind": "data", "metric": "open_rate", "points": 40, "zero_at": 0, "full_at": 1}]},
    ]}


@pytest.mark.parametrize("broken, message", [
    (lambda t: t.update(children=[]), "children"),
    (lambda t: t["children"][0]["children"][0].update(points=50), "之和须为 100"),
    (lambda t: t["children"][0]["children"][0].pop("kind"), "kind 须为 data"),
    (lambda t: t["children"][1]["children"][0].update(metric="magic"), "metric 须为"),
    (lambda t: t["children"][1]["children"][0].update(full_at=0), "不能相等"),
    (lambda t: t["children"][1]["children"][0].update(points=True), "须为数字"),
    (lambda t: t["children"][1]["children"][0].update(key="rules"), "重复"),
    (lambda t: t.update(tie_break="zzz"), "tie_break"),
])
def test_a_broken_tree_is_refused_in_chinese(broken, message: str) -> None:  # type: ignore[no-untyped-def]
    tree = _small_tree()
    broken(tree)
    with pytest.raises(BusinessRuleViolation) as refused:
        parse_tree(tree)
    assert message in refused.value.message and refused.value.message.startswith("指标体系无效")


def test_a_tree_file_replaces_the_default_and_rounds_keep_their_copy(app_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(_small_tree(), ensure_ascii=False), encoding="utf-8")
    world = World(app_factory(tmp_path / "app", EVALUATION_TREE_FILE=str(path)))
    inst = world.institution("EV-T")
    round_id = world.open([inst])
    path.write_text("{not json", encoding="utf-8")  # a later change of the file does not touch the round
    with world.session() as session:
        assert [leaf.key for leaf in tree_of(load_round(session, round_id)).leaves()] == ["rules", "open"]
    with pytest.raises(BusinessRuleViolation) as refused:
        load_tree_dict(str(path), 273)
    assert "不是有效的 JSON" in refused.value.message
    with pytest.raises(BusinessRuleViolation) as refused:
        world.open([inst], year=YEAR - 1, admin=world.user(Role.platform_admin, "另一位管理员"))
    assert "不是有效的 JSON" in refused.value.message
