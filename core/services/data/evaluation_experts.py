"""The expert's side of a round: the institutions assigned to them (and nothing else), a score with a
comment for each expert indicator (0 to the indicator's points), and the signature that locks them.
An expert never scores their own institution, even if their institution changed after assignment."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from core.errors import BusinessRuleViolation, Conflict, Forbidden, InvalidInput, NotFound
from core.models import (EvaluationAssignment, EvaluationEntry, EvaluationRound, EvaluationScore, Institution,
                         Role, User)
from core.models._types import utcnow
from core.services.data import evaluation_input as check
from core.services.data.evaluation_rounds import load_entry, load_round, tree_of
from core.services.people.authz import require_role

COMMENT_MAX = 2000


def _scorable(round_: EvaluationRound, entry: EvaluationEntry, today: date) -> bool:
    """Scores may change while the round is open up to its scoring deadline, or after an accepted appeal."""
    if entry.status == "reopened":
        return True
    return round_.status == "open" and today <= round_.scoring_due


def load_assignment(session: Session, expert: User, round_id: int, institution_id: int,
                    lock: bool = False) -> EvaluationAssignment:
    """The expert's own task; their own institution is refused, an unassigned one does not exist for them."""
    require_role(expert, Role.expert)
    if expert.institution_id is not None and expert.institution_id == institution_id:
        raise Forbidden("您是该机构的人员，须回避，不能评审本单位。", code="conflict_of_interest")
    query = select(EvaluationAssignment).where(EvaluationAssignment.round_id == round_id,
                                               EvaluationAssignment.institution_id == institution_id,
                                               EvaluationAssignment.expert_id == expert.id)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound("没有分配给您的这项评审。", code="assignment_not_found")
    return found


@dataclass(frozen=True)
class Task:
    round: EvaluationRound
    institution: Institution
    entry: EvaluationEntry
    assignment: EvaluationAssignment
    scored: int
    expert_indicators: int
    open: bool  # may still be scored

    @property
    def waiting(self) -> bool:
        return self.open and self.assignment.signed_at is None


def my_tasks(session: Session, expert: User, today: date) -> list[Task]:
    require_role(expert, Role.expert)
    rows = session.execute(
        select(EvaluationAssignment, EvaluationRound, Institution, EvaluationEntry)
        .join(EvaluationRound, EvaluationRound.id == EvaluationAssignment.round_id)
        .join(Institution, Institution.id == EvaluationAssignment.institution_id)
        .join(EvaluationEntry, and_(EvaluationEntry.round_id == EvaluationAssignment.round_id,
                                    EvaluationEntry.institution_id == EvaluationAssignment.institution_id))
        .where(EvaluationAssignment.expert_id == expert.id)
        .order_by(EvaluationRound.year.desc(), Institution.code)).all()
    scored = dict(session.execute(select(EvaluationScore.assignment_id, func.count())
                                  .where(EvaluationScore.assignment_id.in_([a.id for a, *_ in rows]))
                                  .group_by(EvaluationScore.assignment_id)).all()) if rows else {}
    trees: dict[int, int] = {}
    tasks = []
    for a, round_, institution, entry in rows:
        if institution.id == expert.institution_id:
            continue  # assigned before they joined it: not theirs to score
        if round_.id not in trees:
            trees[round_.id] = len(tree_of(round_).expert_leaves())
        tasks.append(Task(round_, institution, entry, a, scored.get(a.id, 0), trees[round_.id],
                          _scorable(round_, entry, today)))
    return tasks


def waiting_count(session: Session, expert: User, today: date) -> int:
    """Institutions waiting for this expert's scores and signature (the expert desk's counter)."""
    return int(session.scalar(
        select(func.count(EvaluationAssignment.id))
        .join(EvaluationRound, EvaluationRound.id == EvaluationAssignment.round_id)
        .join(EvaluationEntry, and_(EvaluationEntry.round_id == EvaluationAssignment.round_id,
                                    EvaluationEntry.institution_id == EvaluationAssignment.institution_id))
        .where(EvaluationAssignment.expert_id == expert.id, EvaluationAssignment.signed_at.is_(None),
               EvaluationAssignment.institution_id != (expert.institution_id or 0),
               or_(EvaluationEntry.status == "reopened",
                   and_(EvaluationRound.status == "open", EvaluationRound.scoring_due >= today)))) or 0)


def scores_of(session: Session, assignment_id: int) -> dict[str, EvaluationScore]:
    return {s.indicator: s for s in session.scalars(
        select(EvaluationScore).where(EvaluationScore.assignment_id == assignment_id))}


def save_scores(session: Session, expert: User, round_id: int, institution_id: int,
                values: Mapping[str, tuple[Any, Any]], today: date) -> dict[str, EvaluationScore]:
    """Scores (points, comment) per expert indicator key; a form may save some of them as a draft. Every
    value is checked before any is written: one bad value and nothing of the form is kept."""
    assignment = load_assignment(session, expert, round_id, institution_id, lock=True)
    round_ = load_round(session, round_id)
    entry = load_entry(session, round_id, institution_id)
    if assignment.signed_at is not None:
        raise Conflict("您已签名确认，评分已锁定，不能再修改。", code="scores_signed")
    if not _scorable(round_, entry, today):
        raise BusinessRuleViolation("评分已截止或结果已发布，不能再修改评分。", code="scoring_closed")
    leaves = {leaf.key: leaf for leaf in tree_of(round_).expert_leaves()}
    checked: dict[str, tuple[float, str]] = {}
    for key, (raw_points, raw_comment) in values.items():
        leaf = leaves.get(key)
        if leaf is None:
            raise InvalidInput(f"没有专家评分指标 {key!r}。", code="unknown_indicator")
        points = check.number(raw_points, f"“{leaf.name}”的评分", maximum=leaf.points)
        comment = check.text(raw_comment, f"“{leaf.name}”的评语", limit=COMMENT_MAX)
        checked[key] = (points, comment)
    if not checked:
        raise InvalidInput("请至少填写一项评分。", code="scores_required")
    stored = scores_of(session, assignment.id)
    for key, (points, comment) in checked.items():
        if key in stored:
            stored[key].points, stored[key].comment = points, comment
        else:
            stored[key] = EvaluationScore(assignment_id=assignment.id, indicator=key, points=points, comment=comment)
            session.add(stored[key])
    session.flush()
    return stored


def sign(session: Session, expert: User, round_id: int, institution_id: int, confirmed: bool,
         today: date) -> EvaluationAssignment:
    """The expert confirms their scores for this institution; from then on they are locked."""
    assignment = load_assignment(session, expert, round_id, institution_id, lock=True)
    round_ = load_round(session, round_id)
    entry = load_entry(session, round_id, institution_id)
    if assignment.signed_at is not None:
        raise Conflict("您已签名确认过这家机构的评分。", code="scores_signed")
    if not _scorable(round_, entry, today):
        raise BusinessRuleViolation("评分已截止或结果已发布，不能再签名。", code="scoring_closed")
    if confirmed is not True:
        raise InvalidInput("请勾选“我确认以上评分和评语属实、公正”后再签名。", code="confirmation_required")
    stored = scores_of(session, assignment.id)
    missing = [leaf.name for leaf in tree_of(round_).expert_leaves() if leaf.key not in stored]
    if missing:
        raise BusinessRuleViolation(f"还有指标未评分：{'、'.join(missing)}。全部评分后才能签名。",
                                    code="scores_incomplete")
    assignment.signed_at, assignment.signed_name = utcnow(), expert.display_name
    session.flush()
    return assignment
