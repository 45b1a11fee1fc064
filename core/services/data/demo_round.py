"""The last step of `flask data backfill-demo`: a finished annual evaluation round and two purchase checks,
made through the evaluation and purchase-check services, so that the console shows both on a fresh demo.

The round is for the calendar year with the most simulated months. About six institutions take part,
among them the one whose 自报 hours its sensors contradict (demo_history.assign_profiles makes it "low"):
its self-report states the hours it filed, far above the measured ones, so the gap flag shows. Each
institution's admin (the backfill's demo admins) files a self-report with a small generated PDF; five demo
experts (expert1…expert5, one of them working at a participating institution, so 回避 leaves that pair
out) score every expert indicator with a comment and sign; the round is published.

The purchase checks: an institution of the city of the saturated XRD/SEM asks for one of the same kind
(an expert concludes), and one of the city of the idle one asks too (left for the experts' desk)."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.models import (EvaluationAppeal, EvaluationAssignment, EvaluationEntry, EvaluationRound, EvaluationScore,
                         EvaluationSelfReport, Institution, Instrument, Notification, PurchaseRequest, Role,
                         SelfReportedHours, User)
from core.report_storage import LocalReportStorage
from core.services.data.demo_history import DEMO_OPENID, Profile, Window, institution_admin, kind_of
from core.services.data.documents import Sheet, pdf
from core.services.data.evaluation_experts import save_scores, sign
from core.services.data.evaluation_indicators import measure
from core.services.data.evaluation_publish import publish
from core.services.data.evaluation_rounds import assign_experts, open_round, tree_of
from core.services.data.evaluation_self_reports import attachments_dir, submit_self_report
from core.services.data.purchase_check import conclude, submit_request
from core.services.data.purchase_similar import PurchaseFields, TextEncoder
from core.services.people.authz import command_line_actor
from core.services.people.company_documents import Upload
from core.services.people.users import create_expert

ROUND_SUFFIX = "（演示）"  # marks the backfill's round, so --force removes it and nothing else
BUDGET_CNY = "1000000"
INSTITUTIONS = 6
EXPERT_PASSWORD = "demo-expert-2026"
EXPERTS = (("expert1", "王专家"), ("expert2", "李专家"), ("expert3", "陈专家"), ("expert4", "刘专家"),
           ("expert5", "赵专家"))
COMMENTS = ((0.85, "开放共享制度健全，服务记录完整，对外服务成效突出。"),
            (0.70, "开放共享工作扎实，服务流程规范，建议进一步扩大对外服务。"),
            (0.55, "开放共享基本落实，部分仪器使用记录不够完整，需加强管理。"),
            (0.0, "开放共享工作薄弱，自报数据与平台监测数据差距较大，需限期整改。"))
REQUESTS = {"XRD": ("X射线衍射仪", "物相定性定量分析、晶粒尺寸与残余应力测定", 1_200_000),
            "SEM": ("场发射扫描电子显微镜", "材料微观形貌观察与能谱元素分析", 2_800_000)}
EncoderFactory = Callable[[], TextEncoder]


@dataclass
class DemoRoundSummary:
    year: int | None = None
    # code, name, total, grade, subsidy in fen, by rank
    institutions: list[tuple[str, str, float, str, int]] = field(default_factory=list)
    flagged: str | None = None  # the institution whose self-report is flagged
    experts: int = 0
    conflicts: int = 0  # (expert, institution) pairs left out for 回避
    skipped: str | None = None  # why no round was made
    purchases: list[tuple[int, str, str]] = field(default_factory=list)  # id, status, draft opinion


def forget_demo_round(session: Session) -> None:
    """--force: the backfill's round (by its title) and the purchase requests its demo admins filed."""
    rounds = list(session.scalars(select(EvaluationRound.id).where(EvaluationRound.title.like("%" + ROUND_SUFFIX))))
    if rounds:
        assignments = select(EvaluationAssignment.id).where(EvaluationAssignment.round_id.in_(rounds))
        session.execute(delete(EvaluationScore).where(EvaluationScore.assignment_id.in_(assignments)))
        for model in (EvaluationAssignment, EvaluationSelfReport, EvaluationAppeal, EvaluationEntry):
            session.execute(delete(model).where(model.round_id.in_(rounds)))
        session.execute(delete(EvaluationRound).where(EvaluationRound.id.in_(rounds)))
    demo_people = select(User.id).where(User.wechat_openid.like(DEMO_OPENID + "%"))
    session.execute(delete(Notification).where(Notification.user_id.in_(demo_people),
                                               Notification.kind == "evaluation_result"))
    session.execute(delete(PurchaseRequest).where(PurchaseRequest.submitted_by_id.in_(demo_people)))
    session.flush()


def _round_year(window: Window) -> int:
    years = Counter(int(m[:4]) for m in window.months)
    return max(years, key=lambda y: (years[y], y))


def _participants(profiles: Sequence[Profile]) -> list[tuple[int, str, str]]:
    """(id, code, name): the disagreeing institution first, then those with the most simulated instruments."""
    counts = Counter((p.institution_id, p.institution_code, p.institution_name) for p in profiles)
    low = {(p.institution_id, p.institution_code, p.institution_name) for p in profiles if p.usage == "low"}
    ranked = sorted(counts, key=lambda k: (k not in low, -counts[k], k[1]))
    return ranked[:INSTITUTIONS]


def _experts(session: Session, home: str | None) -> list[User]:
    """The five demo experts (kept across --force); the last one works at `home`."""
    found = []
    for n, (username, name) in enumerate(EXPERTS):
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            institution = home if n == len(EXPERTS) - 1 else None
            user = create_expert(session, username, EXPERT_PASSWORD, institution, f"{name}（评审专家）")
        found.append(user)
    return found


def _attachment(title: str, lines: list[str]) -> bytes:
    return pdf(title, lines, [Sheet("说明", ["项目", "内容"], [["材料性质", "演示数据自动生成，非真实材料"]])])


def _self_report_hours(session: Session, institution_id: int, year: int) -> float:
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    return float(session.scalar(select(func.sum(SelfReportedHours.hours))
                                .join(Instrument, Instrument.id == SelfReportedHours.instrument_id)
                                .where(Instrument.institution_id == institution_id,
                                       SelfReportedHours.month.in_(months))) or 0.0)


def _run_round(session: Session, settings: Settings, window: Window, profiles: Sequence[Profile], seed: int,
               now: datetime, summary: DemoRoundSummary) -> None:
    rng = random.Random(f"{seed}:evaluation")
    tz = settings.orders.timezone
    today = now.astimezone(ZoneInfo(tz)).date()
    year = _round_year(window)
    summary.year = year
    title = f"{year} 年度大型科研仪器开放共享评价考核{ROUND_SUFFIX}"
    if session.scalar(select(EvaluationRound.id).where(EvaluationRound.year == year)) is not None:
        summary.skipped = f"{year} 年度已有一轮评价（不是本命令建的），未再建演示评价。"
        return
    chosen = _participants(profiles)
    low = {p.institution_id for p in profiles if p.usage == "low"}
    operator = command_line_actor()
    round_ = open_round(session, operator, settings, year=year, title=title, budget_cny=BUDGET_CNY,
                        institution_ids=[i for i, _, _ in chosen], self_report_due=today.isoformat(),
                        scoring_due=today.isoformat(), appeal_days=15)
    storage = LocalReportStorage(attachments_dir(settings))
    quality: dict[int, float] = {}
    for iid, code, name in chosen:
        measured = measure(session, iid, year, tz)
        hours = measured.effective_hours * rng.uniform(0.97, 1.06)
        if iid in low:  # what it filed as 自报 hours, far above what its sensors saw
            hours = max(_self_report_hours(session, iid, year), 1.6 * measured.effective_hours + 100)
            summary.flagged = code
        figures = {"effective_hours": round(hours, 1), "external_hours": round(measured.external_hours, 1),
                   "instruments_open": measured.instruments_open,
                   "external_income": f"{measured.income_external_fen / 100:.2f}"}
        text = f"{name} {year} 年度大型科研仪器开放共享自评报告：本年度按规定开放共享，详见附件。"
        attachment = _attachment(f"{name} {year} 年度开放共享自评报告",
                                 [f"有效工作机时 {figures['effective_hours']} 小时",
                                  f"对外服务机时 {figures['external_hours']} 小时",
                                  f"开放共享仪器 {figures['instruments_open']} 台"])
        admin = institution_admin(session, iid, code, name)
        submit_self_report(session, admin, round_.id, figures, text, [(f"{code}-自评报告.pdf", attachment)],
                           storage, settings, today)
        quality[iid] = rng.uniform(0.35, 0.5) if iid in low else rng.uniform(0.72, 0.96)
    experts = _experts(session, chosen[1][1] if len(chosen) > 1 else None)
    outcome = assign_experts(session, operator, round_.id, [x.id for x in experts], [i for i, _, _ in chosen])
    summary.experts, summary.conflicts = len(experts), len(outcome.conflicts)
    leaves = tree_of(round_).expert_leaves()
    for expert in experts:
        for iid, _, _ in chosen:
            if expert.institution_id == iid:
                continue  # 回避: not assigned
            scores = {}
            for leaf in leaves:
                share = min(1.0, max(0.0, quality[iid] + rng.uniform(-0.08, 0.08)))
                comment = next(words for floor, words in COMMENTS if share >= floor)
                scores[leaf.key] = (round(leaf.points * share * 2) / 2, comment)
            save_scores(session, expert, round_.id, iid, scores, today)
            sign(session, expert, round_.id, iid, True, today)
    results = publish(session, operator, round_.id, tz, today)
    summary.institutions = [(r.code, r.name, r.total, r.grade, r.subsidy_fen) for r in results]


@dataclass(frozen=True)
class _Similar:
    """An XRD or SEM of the catalog whose city the request comes from."""
    instrument_id: int
    kind: str
    usage: str
    city: str
    institution_id: int


def _kinds(session: Session, profiles: Sequence[Profile]) -> list[_Similar]:
    """The simulated XRDs and SEMs (their usage known), or the catalog's when the slice has none."""
    found = [_Similar(p.instrument_id, kind_of(p.name, p.name_en), p.usage, p.city, p.institution_id)
             for p in profiles if kind_of(p.name, p.name_en) in REQUESTS]
    if found:
        return found
    rows = session.execute(select(Instrument.id, Instrument.name, Instrument.name_en, Instrument.city,
                                  Institution.city, Institution.id)
                           .join(Institution, Institution.id == Instrument.institution_id)
                           .order_by(Instrument.code)).all()
    return [_Similar(iid, kind_of(name, name_en or ""), "unknown", city or home or "", inst)
            for iid, name, name_en, city, home, inst in rows if kind_of(name, name_en or "") in REQUESTS]


def _requester(session: Session, owner: _Similar) -> tuple[int, str, str] | None:
    """Another institution of the instrument's city (the owner itself if it is alone there)."""
    rows = session.execute(select(Institution.id, Institution.code, Institution.name)
                           .where(Institution.city == owner.city)
                           .order_by(Institution.id == owner.institution_id, Institution.code)).all()
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else None


def _purchases(session: Session, settings: Settings, profiles: Sequence[Profile], experts: list[User],
               encoder: EncoderFactory, now: datetime, summary: DemoRoundSummary) -> None:
    kinds = _kinds(session, profiles)
    busy = next((k for k in kinds if k.usage == "saturated"), None) or (kinds[0] if kinds else None)
    idle = next((k for k in kinds if k.usage == "idle" and k is not busy), None)
    idle = idle or next((k for k in kinds if k is not busy), None) or busy
    made: list[PurchaseRequest] = []
    for n, owner in enumerate((busy, idle)):
        who = _requester(session, owner) if owner else None
        if owner is None or who is None:
            continue
        name, purpose, price = REQUESTS[owner.kind]
        classification = session.scalar(select(Instrument.classification_code)
                                        .where(Instrument.id == owner.instrument_id)) or "0103"
        admin = institution_admin(session, *who)
        quotes = [Upload(f"报价单{k}.pdf", _attachment(f"{name}报价单（供应商 {k}）",
                                                         [f"报价 {price * (1 + 0.04 * (k - 1)):,.0f} 元（含税）"]))
                  for k in (1, 2, 3)]
        fields = PurchaseFields(name=name, classification=classification, price_fen=price * 100, city=owner.city,
                                purpose=purpose, expected_hours=900.0, institution_id=who[0])
        made.append(submit_request(session, admin, fields, quotes, encoder(), settings,
                                   now - timedelta(days=12 - 5 * n)))
    expert = next((x for x in experts if made and x.institution_id != made[0].institution_id), None)
    if expert is not None and made[0].status == "submitted":
        verdict = "share" if made[0].draft_opinion == "share" else "purchase"
        comment = ("区域内同类仪器机时已饱和，新购理由充分，同意购置；购置后须纳入平台开放共享。" if verdict == "purchase"
                   else "区域内同类仪器尚有富余机时且对外开放，建议通过平台共享使用，暂不购置。")
        conclude(session, expert, made[0].id, verdict, comment, now - timedelta(days=3))
    summary.purchases = [(r.id, r.status, r.draft_opinion) for r in made]


def demo_round_and_check(session: Session, settings: Settings, window: Window, profiles: Sequence[Profile],
                         seed: int, encoder: EncoderFactory, now: datetime) -> DemoRoundSummary:
    """A published evaluation round and two purchase checks (one concluded, one waiting) for the demo."""
    summary = DemoRoundSummary()
    _run_round(session, settings, window, profiles, seed, now, summary)
    home = _participants(profiles)
    experts = [x for x in _experts(session, home[1][1] if len(home) > 1 else None) if x.role == Role.expert]
    _purchases(session, settings, profiles, experts, encoder, now, summary)
    return summary
