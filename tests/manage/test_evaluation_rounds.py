"""A round end to end through the services: opening it, assigning experts (never to their own
institution), scoring and signing, publishing with notifications, the subsidy split, an appeal that
reopens one institution only, and bad input refused in Chinese with nothing written."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.errors import BusinessRuleViolation, Conflict, Forbidden, InvalidInput, NotFound
from core.models import (EvaluationAssignment, EvaluationEntry, EvaluationRound, EvaluationScore, Notification,
                         Role, User)
from core.services.data import evaluation_appeals as appeals
from core.services.data import evaluation_experts as experts
from core.services.data.evaluation_publish import publish, republish
from core.services.data.evaluation_rounds import assign_experts, load_round
from core.services.data.evaluation_sheets import score_sheet, standings
from tests.manage.evaluation_world import YEAR, World

TZ = "Asia/Shanghai"
EXPERT_KEYS = ("management", "team", "use_outcomes", "self_reliance")  # 10, 6, 6, 10 points


@pytest.fixture
def world(app: Flask) -> World:
    return World(app)


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    """Two institutions (no platform data: their data indicators score 0), an admin, five experts from
    elsewhere and one expert who works at 甲."""
    a, b = world.institution("EV-A", "甲研究院"), world.institution("EV-B", "乙大学")
    outside = world.institution("EV-X", "丙中心")
    admin = world.user(Role.platform_admin, "平台管理员")
    panel = [world.user(Role.expert, f"专家{n}", outside) for n in range(1, 6)]
    insider = world.user(Role.expert, "甲院专家", a)
    heads = {a: world.user(Role.institution_admin, "甲管理员", a), b: world.user(Role.institution_admin, "乙管理员", b)}
    round_id = world.open([a, b], budget="100000.00", admin=admin)
    return {"a": a, "b": b, "admin": admin, "panel": panel, "insider": insider, "heads": heads, "round": round_id}


def assign(world: World, s: dict[str, Any], expert_ids: list[int], institution_ids: list[int]) -> Any:
    with world.session() as session:
        return assign_experts(session, world.get(session, s["admin"]), s["round"], expert_ids, institution_ids)


def score(world: World, s: dict[str, Any], expert: int, institution: int, points: dict[str, Any],
          sign: bool = True) -> None:
    with world.session() as session:
        user = world.get(session, expert)
        experts.save_scores(session, user, s["round"], institution,
                            {k: (v, f"评语：{k} 得 {v} 分") for k, v in points.items()}, world.today())
        if sign:
            experts.sign(session, user, s["round"], institution, True, world.today())


def full(value: float) -> dict[str, float]:
    """Every expert indicator at the same share of its points."""
    return {key: round(top * value, 2) for key, top in zip(EXPERT_KEYS, (10, 6, 6, 10))}


def test_an_expert_never_scores_their_own_institution(world: World, setup: dict[str, Any]) -> None:
    s = setup
    with pytest.raises(BusinessRuleViolation) as refused:
        assign(world, s, [s["insider"]], [s["a"]])
    assert refused.value.message == "专家甲院专家属于甲研究院，须回避，不能评审本单位。"
    outcome = assign(world, s, [s["insider"]], [s["a"], s["b"]])  # in bulk: own institution left out, said so
    assert (outcome.added, outcome.conflicts) == (1, [("甲院专家", "甲研究院")])
    with world.session() as session:
        pairs = session.execute(select(EvaluationAssignment.institution_id).where(
            EvaluationAssignment.expert_id == s["insider"])).scalars().all()
        assert pairs == [s["b"]]
        insider = world.get(session, s["insider"])
        with pytest.raises(Forbidden) as forbidden:
            experts.save_scores(session, insider, s["round"], s["a"], {"team": (5, "很好")}, world.today())
        assert "须回避" in forbidden.value.message
        assert [t.institution.name for t in experts.my_tasks(session, insider, world.today())] == ["乙大学"]


def test_an_expert_sees_and_scores_only_what_is_assigned(world: World, setup: dict[str, Any]) -> None:
    s = setup
    assign(world, s, [s["panel"][0]], [s["b"]])
    with world.session() as session:
        expert = world.get(session, s["panel"][0])
        assert [t.institution.code for t in experts.my_tasks(session, expert, world.today())] == ["EV-B"]
        with pytest.raises(NotFound):
            experts.load_assignment(session, expert, s["round"], s["a"])
        with pytest.raises(NotFound):
            experts.save_scores(session, expert, s["round"], s["a"], {"team": (5, "好")}, world.today())
        assert experts.waiting_count(session, expert, world.today()) == 1


@pytest.mark.parametrize("points, message", [
    ("NaN", "不能是 NaN"), (float("nan"), "不能是 NaN"), ("inf", "不能是 NaN"), (True, "须为数字"),
    ("true", "不是数字"), (6.01, "不能超过 6"), (7, "不能超过 6"), (-1, "不能小于 0"), ("5.555", "最多保留 2 位小数"),
    ("", "不能为空"),
])
def test_a_bad_score_is_refused_and_nothing_of_the_form_is_kept(world: World, setup: dict[str, Any], points: Any,
                                                                message: str) -> None:
    s = setup
    assign(world, s, [s["panel"][0]], [s["a"]])
    with world.session() as session:
        expert = world.get(session, s["panel"][0])
        with pytest.raises(InvalidInput) as refused:
            # the good first value must not be written either
            experts.save_scores(session, expert, s["round"], s["a"], {"management": (8, "制度健全"), "team": (points, "队伍")},
                                world.today())
        assert message in refused.value.message and "“实验技术队伍建设”的评分" in refused.value.message
    with world.session() as session:
        assert session.scalar(select(func.count(EvaluationScore.id))) == 0


def test_a_comment_is_required_and_signing_locks_the_scores(world: World, setup: dict[str, Any]) -> None:
    s = setup
    assign(world, s, [s["panel"][0]], [s["a"]])
    with world.session() as session:
        expert = world.get(session, s["panel"][0])
        with pytest.raises(InvalidInput) as refused:
            experts.save_scores(session, expert, s["round"], s["a"], {"team": (5, "  ")}, world.today())
        assert refused.value.message == "“实验技术队伍建设”的评语不能为空。"
        experts.save_scores(session, expert, s["round"], s["a"], {"team": (5, "队伍稳定")}, world.today())
        with pytest.raises(BusinessRuleViolation) as incomplete:
            experts.sign(session, expert, s["round"], s["a"], True, world.today())
        assert "还有指标未评分：统筹管理、运行使用成效、服务科技基础条件自主保障" in incomplete.value.message
    score(world, s, s["panel"][0], s["a"], full(0.5), sign=False)
    with world.session() as session:
        expert = world.get(session, s["panel"][0])
        with pytest.raises(InvalidInput) as unconfirmed:
            experts.sign(session, expert, s["round"], s["a"], False, world.today())
        assert "请勾选" in unconfirmed.value.message
        experts.sign(session, expert, s["round"], s["a"], True, world.today())
    with world.session() as session:
        expert = world.get(session, s["panel"][0])
        with pytest.raises(Conflict) as locked:
            experts.save_scores(session, expert, s["round"], s["a"], {"team": (6, "改分")}, world.today())
        assert locked.value.message == "您已签名确认，评分已锁定，不能再修改。"
        assert experts.waiting_count(session, expert, world.today()) == 0


def test_five_experts_lose_the_extremes_four_are_averaged_and_the_result_is_published(
        world: World, setup: dict[str, Any]) -> None:
    s = setup
    assign(world, s, s["panel"], [s["a"]])  # five experts on 甲
    assign(world, s, s["panel"][:4], [s["b"]])  # four on 乙
    for expert, management in zip(s["panel"], (2, 6, 7, 8, 10)):
        score(world, s, expert, s["a"], {"management": management, "team": 6, "use_outcomes": 6, "self_reliance": 10})
    for expert, management in zip(s["panel"][:4], (2, 6, 7, 10)):
        score(world, s, expert, s["b"], {"management": management, "team": 3, "use_outcomes": 3, "self_reliance": 5})
    with world.session() as session:
        admin = world.get(session, s["admin"])
        publish(session, admin, s["round"], TZ, world.today())
    with world.session() as session:
        sheet_a = score_sheet(session, s["round"], s["a"], TZ, anonymous=True, published_only=True)
        sheet_b = score_sheet(session, s["round"], s["b"], TZ, anonymous=True, published_only=True)
        table = standings(session, s["round"], TZ)
        notes = session.scalars(select(Notification).where(Notification.kind == "evaluation_result")).all()
    management_a = next(r for r in sheet_a.rows if r.name == "统筹管理")
    assert management_a.points == 7.0 and "去掉一个最高分和一个最低分" in management_a.basis  # (6 + 7 + 8) / 3
    assert [e.dropped for e in management_a.experts] == [True, False, False, False, True]
    assert [e.label for e in management_a.experts] == ["专家 1", "专家 2", "专家 3", "专家 4", "专家 5"]
    management_b = next(r for r in sheet_b.rows if r.name == "统筹管理")
    assert management_b.points == 6.25 and not any(e.dropped for e in management_b.experts)  # (2 + 6 + 7 + 10) / 4
    # no platform data: the totals are the expert points, 7 + 6 + 6 + 10 = 29 and 6.25 + 3 + 3 + 5 = 17.25
    assert (sheet_a.total, sheet_b.total) == (29.0, 17.25)
    assert table.published and [r.code for r in table.rows] == ["EV-A", "EV-B"]
    assert all(r.grade == "poor" and r.rectification and r.subsidy_fen == 0 for r in table.rows)
    assert table.note == "全部机构评为较差，本轮不发放补助经费。"
    assert {n.user_id for n in notes} == set(s["heads"].values())
    assert all("须整改一年" in n.body and "申诉" in n.body for n in notes)


def test_publication_waits_for_every_signature(world: World, setup: dict[str, Any]) -> None:
    s = setup
    assign(world, s, s["panel"][:2], [s["a"]])
    score(world, s, s["panel"][0], s["a"], full(1))
    with world.session() as session:
        with pytest.raises(BusinessRuleViolation) as refused:
            publish(session, world.get(session, s["admin"]), s["round"], TZ, world.today())
    assert "甲研究院：专家2 尚未签名" in refused.value.message and "乙大学：尚未分配专家" in refused.value.message
    with world.session() as session:
        assert load_round(session, s["round"]).status == "open"


def _publish_two(world: World, s: dict[str, Any], a_share: float, b_share: float) -> None:
    """Three experts each; data indicators score 0, so the totals are the expert points x the shares."""
    assign(world, s, s["panel"][:3], [s["a"], s["b"]])
    for expert in s["panel"][:3]:
        score(world, s, expert, s["a"], full(a_share))
        score(world, s, expert, s["b"], full(b_share))
    with world.session() as session:
        publish(session, world.get(session, s["admin"]), s["round"], TZ, world.today())


def test_an_appeal_reopens_only_that_institution(world: World, setup: dict[str, Any]) -> None:
    s = setup
    with world.session() as session:  # data points are irrelevant here: give the experts the whole tree
        round_ = session.get(EvaluationRound, s["round"])
        assert round_ is not None
        round_.tree = {"tie_break": "sharing", "children": [
            {"key": "organisation", "name": "组织管理", "children": [
                {"key": "management", "name": "统筹管理", "kind": "expert", "points": 50}]},
            {"key": "sharing", "name": "共享服务", "children": [
                {"key": "self_reliance", "name": "服务科技基础条件自主保障", "kind": "expert", "points": 50}]}]}
    assign(world, s, s["panel"][:3], [s["a"], s["b"]])
    for expert in s["panel"][:3]:
        score(world, s, expert, s["a"], {"management": 40, "self_reliance": 45})  # 85: 良好
        score(world, s, expert, s["b"], {"management": 46, "self_reliance": 46})  # 92: 优秀
    with world.session() as session:
        publish(session, world.get(session, s["admin"]), s["round"], TZ, world.today())
    with world.session() as session:
        before = {e.institution_id: (e.total, e.grade, e.subsidy_fen, e.version)
                  for e in session.scalars(select(EvaluationEntry))}
        head = world.get(session, s["heads"][s["a"]])
        with pytest.raises(InvalidInput):
            appeals.file_appeal(session, head, s["round"], "太短", world.today())
        appeal = appeals.file_appeal(session, head, s["round"], "统筹管理评分未考虑我院新制定的共享管理办法。", world.today())
        appeal_id = appeal.id
    # 良好 0.8 x 85 = 68 against 优秀 1.0 x 92 = 92: ¥100,000 x 68/160 = ¥42,500 and ¥57,500
    assert before[s["a"]] == (85.0, "good", 4_250_000, 1) and before[s["b"]] == (92.0, "excellent", 5_750_000, 1)
    with world.session() as session:
        appeals.decide_appeal(session, world.get(session, s["admin"]), s["round"], appeal_id, True, "")
    with world.session() as session:
        signed = dict(session.execute(select(EvaluationAssignment.institution_id,
                                             func.count(EvaluationAssignment.signed_at))
                                      .group_by(EvaluationAssignment.institution_id)).all())
        assert signed == {s["a"]: 0, s["b"]: 3}  # only 甲's experts must sign again
        expert = world.get(session, s["panel"][0])
        assert [t.institution.code for t in experts.my_tasks(session, expert, world.today()) if t.waiting] == ["EV-A"]
        with pytest.raises(Conflict):  # 乙 stays locked
            experts.save_scores(session, expert, s["round"], s["b"], {"management": (50, "改")}, world.today())
        reopened = [n.user_id for n in session.scalars(select(Notification).where(Notification.kind == "evaluation_reopened"))]
        assert sorted(reopened) == sorted(s["panel"][:3])
    for expert in s["panel"][:3]:
        score(world, s, expert, s["a"], {"management": 46, "self_reliance": 45})  # 91: 优秀
    with world.session() as session:
        republish(session, world.get(session, s["admin"]), s["round"], s["a"], TZ)
    with world.session() as session:
        after = {e.institution_id: (e.total, e.grade, e.subsidy_fen, e.version)
                 for e in session.scalars(select(EvaluationEntry))}
        appeal = appeals.appeal_of(session, s["round"], s["a"])
        assert appeal is not None and appeal.status == "resolved" and appeal.previous["total"] == 85.0
    # 91 and 92, both 优秀: ¥100,000 x 91/183 = 49,726.775… -> ¥49,726.78 and ¥50,273.22
    assert after[s["a"]] == (91.0, "excellent", 4_972_678, 2)
    assert after[s["b"]] == (92.0, "excellent", 5_027_322, 1)  # its points and version untouched
    assert after[s["a"]][2] + after[s["b"]][2] == 10_000_000
    with world.session() as session:
        with pytest.raises(Conflict):
            appeals.file_appeal(session, world.get(session, s["heads"][s["a"]]), s["round"], "再次申诉，理由充分充分。",
                                world.today())


def test_the_appeal_window_closes(world: World, setup: dict[str, Any]) -> None:
    s = setup
    _publish_two(world, s, 0.5, 0.4)
    with world.session() as session:
        head = world.get(session, s["heads"][s["b"]])
        late = world.today() + timedelta(days=11)  # the window is 10 days
        with pytest.raises(BusinessRuleViolation) as closed:
            appeals.file_appeal(session, head, s["round"], "我们认为分数偏低，请复核。", late)
        assert "申诉期已于" in closed.value.message


@pytest.mark.parametrize("field, value, message", [
    ("budget", "NaN", "不能是 NaN"), ("budget", True, "须为数字"), ("budget", "-5", "不能小于 0"),
    ("budget", "1.005", "最多保留 2 位小数"), ("year", True, "须为数字"), ("year", "2025.5", "须为整数"),
    ("scoring_due", "明天", "格式应为"),
])
def test_a_round_with_bad_input_is_not_opened(world: World, field: str, value: Any, message: str) -> None:
    inst = world.institution("EV-Q")
    kw = {"budget": value} if field == "budget" else {field: value}
    with pytest.raises(InvalidInput) as refused:
        world.open([inst], **kw)
    assert message in refused.value.message
    with world.session() as session:
        assert session.scalar(select(func.count(EvaluationRound.id))) == 0


def test_one_round_a_year_and_only_admins_open_it(world: World) -> None:
    inst = world.institution("EV-Y")
    world.open([inst])
    with pytest.raises(Conflict) as twice:
        world.open([inst])
    assert twice.value.message == f"{YEAR} 年度的评价已经开启，每个年度只有一轮。"
    with pytest.raises(Forbidden):
        world.open([inst], year=YEAR - 1, admin=world.user(Role.institution_admin, "机构管理员", inst))
    with world.session() as session:
        assert session.scalar(select(func.count(User.id)).where(User.role == Role.expert)) == 0
