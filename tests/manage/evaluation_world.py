"""A small hand-made world for the evaluation tests: institutions, instruments, monthly rows, orders,
ratings and people written straight into the database, so every figure a test expects can be worked
out by hand from what is written here."""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterator

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from core.models import (DeliveryMode, Institution, Instrument, InstrumentMonth, Order, OrderEvent, OrderStatus,
                         Rating, Role, Service, User)
from core.models._types import local_today, utcnow
from core.services.data.evaluation_rounds import open_round

YEAR = 2025
_numbers = itertools.count(1)


class World:
    def __init__(self, app: Flask):
        self.app = app
        self.platform = app.extensions["platform"]
        self.settings = self.platform.settings
        self._services: dict[int, tuple[int, int]] = {}
        self._customer: int | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.platform.transaction() as session:
            yield session

    def today(self) -> date:
        return local_today(self.settings.orders.timezone)

    def _add(self, row: Any) -> int:
        with self.session() as session:
            session.add(row)
            session.flush()
            return int(row.id)

    def institution(self, code: str, name: str | None = None) -> int:
        return self._add(Institution(code=code, name=name or f"{code} 测试机构", city="重庆"))

    def instrument(self, institution_id: int, code: str, *, open_for_sharing: bool = True, share_mode: str | None = None,
                   value_cny: float | None = None, in_service: date | None = None) -> int:
        return self._add(Instrument(code=code, institution_id=institution_id, name=f"仪器 {code}",
                                    open_for_sharing=open_for_sharing, share_mode=share_mode,
                                    value_cny=None if value_cny is None else Decimal(str(value_cny)),
                                    in_service_date=in_service))

    def month(self, instrument_id: int, month: str, *, effective: float = 0.0, quota: float = 0.0,
              external: float = 0.0, source: str = "sensor", income_external_fen: int = 0) -> None:
        self._add(InstrumentMonth(instrument_id=instrument_id, month=month, effective_hours=effective,
                                  quota_hours=quota, external_hours=external, effective_source=source,
                                  income_external_fen=income_external_fen, income_internal_fen=0, orders_settled=0,
                                  computed_at=utcnow()))

    def user(self, role: Role, name: str, institution_id: int | None = None, username: str | None = None,
             password: str | None = None) -> int:
        """A person; with a password (slow to hash, on purpose) only when a test signs them in."""
        return self._add(User(username=username or f"u{next(_numbers)}", display_name=name, role=role,
                              institution_id=institution_id,
                              password_hash=generate_password_hash(password) if password else None))

    def _service(self, institution_id: int) -> tuple[int, int]:
        if institution_id not in self._services:
            instrument = self.instrument(institution_id, f"SVC-INS-{next(_numbers)}", open_for_sharing=False,
                                         in_service=date(2099, 1, 1))  # not registered in the year: no effect on counts
            service = self._add(Service(code=f"SVC-{next(_numbers)}", instrument_id=instrument, name="检测服务",
                                        price_cny=Decimal("100")))
            self._services[institution_id] = (instrument, service)
        return self._services[institution_id]

    def order(self, institution_id: int, status: OrderStatus, *, created: datetime | None = None,
              through: tuple[OrderStatus, ...] = ()) -> int:
        """An order placed at `created` (UTC) now in `status`, having passed through `through` (its events)."""
        if self._customer is None:
            self._customer = self.user(Role.enterprise, "客户")
        instrument, service = self._service(institution_id)
        order_id = self._add(Order(
            number=f"E{next(_numbers):08d}", user_id=self._customer, service_id=service, instrument_id=instrument,
            institution_id=institution_id, samples=1, sample_description="样品", company_name="某公司",
            contact_name="张三", contact_phone="13800000000", mode=DeliveryMode.mail, unit_price_cents=10000,
            total_cents=10000, status=status, created_at=created or datetime(YEAR, 6, 1, tzinfo=timezone.utc)))
        with self.session() as session:
            for step in through:
                session.add(OrderEvent(order_id=order_id, actor_role="system", to_status=step.value))
        return order_id

    def rating(self, order_id: int, stars: int, created: datetime | None = None) -> None:
        with self.session() as session:
            order = session.get(Order, order_id)
            assert order is not None
            session.add(Rating(order_id=order_id, service_id=order.service_id, user_id=order.user_id, stars=stars,
                               created_at=created or datetime(YEAR, 7, 1, tzinfo=timezone.utc)))

    def open(self, institution_ids: list[int], budget: str = "1000000", **kw: Any) -> int:
        admin = kw.pop("admin", None) or self.user(Role.platform_admin, "平台管理员")
        with self.session() as session:
            round_ = open_round(session, session.get(User, admin), self.settings, year=kw.pop("year", YEAR), title="",
                                budget_cny=budget, institution_ids=institution_ids,
                                self_report_due=kw.pop("self_report_due", (self.today() + timedelta(days=10)).isoformat()),
                                scoring_due=kw.pop("scoring_due", (self.today() + timedelta(days=20)).isoformat()),
                                appeal_days=kw.pop("appeal_days", 10))
            return round_.id

    def get(self, session: Session, user_id: int) -> User:
        user = session.get(User, user_id)
        assert user is not None
        return user


def published_rounds(app: Flask, own: str, foreign: str) -> dict[str, dict[str, int]]:
    """For the role/page matrix: a published round of last year in which institution `own` (code) took part,
    with a self-report carrying one PDF and one signing expert; and a round of the year before in which only
    `foreign` did. Returns, per side ("A" own, "B" foreign), the ids a route's address needs."""
    from sqlalchemy import select

    from core.report_storage import LocalReportStorage
    from core.services.data.evaluation_experts import save_scores, sign
    from core.services.data.evaluation_publish import publish
    from core.services.data.evaluation_rounds import assign_experts, tree_of, load_round
    from core.services.data.evaluation_self_reports import attachments_dir, submit_self_report

    world = World(app)
    with world.session() as session:
        ids = dict(session.execute(select(Institution.code, Institution.id).where(Institution.code.in_((own, foreign)))).all())
        head = session.scalar(select(User.id).where(User.institution_id == ids[own], User.role == Role.institution_admin))
    assert head is not None, f"{own} has no institution admin"
    admin = world.user(Role.platform_admin, "评价管理员")
    expert = world.user(Role.expert, "矩阵专家")
    year = world.today().year
    a = world.open([ids[own]], admin=admin, year=year - 1)
    b = world.open([ids[foreign]], admin=admin, year=year - 2)
    with world.session() as session:
        submit_self_report(session, world.get(session, head), a, {"effective_hours": 10, "external_hours": 2,
                           "instruments_open": 1, "external_income": "100"}, "自评", [("自评.pdf", b"%PDF-1.4\n%%EOF\n")],
                           LocalReportStorage(attachments_dir(world.settings)), world.settings, world.today())
        assign_experts(session, world.get(session, admin), a, [expert], [ids[own]])
    with world.session() as session:
        leaves = tree_of(load_round(session, a)).expert_leaves()
        person = world.get(session, expert)
        save_scores(session, person, a, ids[own], {leaf.key: (leaf.points / 2, "中等") for leaf in leaves}, world.today())
        sign(session, person, a, ids[own], True, world.today())
    with world.session() as session:
        publish(session, world.get(session, admin), a, world.settings.orders.timezone, world.today())
    return {"A": {"round_id": a, "institution_id": ids[own], "n": 1},
            "B": {"round_id": b, "institution_id": ids[foreign], "n": 1}}
