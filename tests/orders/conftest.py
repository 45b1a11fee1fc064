"""A marketplace to order from: the mini catalog (no search index needed), a
customer with a company, staff of two labs, a platform admin, all signed in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.services.orders.ledger import ledger_problems
from tests.conftest import MINI_CATALOG, cli

CREDIT_CODE = "91500000MA5U7G2X39"  # a valid unified social credit code
OTHER_CREDIT_CODE = "91330106MA2GL1AE5H"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Market:
    app: Flask
    client: FlaskClient
    customer: dict[str, str]
    food_lab: dict[str, str]
    material_lab: dict[str, str]
    admin: dict[str, str]

    def sign_in(self, role: str = "enterprise", institution: str | None = None, name: str = "x",
                company: str | None = CREDIT_CODE) -> dict[str, str]:
        body: dict[str, Any] = {"name": name, "role": role}
        if institution:
            body["institution"] = institution
        answer = self.client.post("/api/v1/auth/demo-login", json=body)
        assert answer.status_code == 200, answer.get_json()
        headers = {"Authorization": f"Bearer {answer.get_json()['token']}"}
        if role == "enterprise" and company:
            r = self.client.put("/api/v1/me/company", headers=headers, json={
                "company_name": f"{name}食品有限公司", "credit_code": company, "contact_name": name,
                "contact_phone": "13800000000"})
            assert r.status_code == 200, r.get_json()
        return headers

    def post(self, path: str, who: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
        return self.client.post("/api/v1" + path, headers=who, json=body)

    def get(self, path: str, who: dict[str, str]):  # type: ignore[no-untyped-def]
        return self.client.get("/api/v1" + path, headers=who)

    def order(self, who: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
        body = {"service_code": "T-CQ-S002", "samples": 2, "sample_description": "辣椒粉两袋，每袋 100 g",
                "mode": "mail", "delivery_date": (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()}
        body.update(overrides)
        r = self.post("/orders", who or self.customer, **body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def pay(self, number: str, who: dict[str, str] | None = None) -> dict[str, Any]:
        r = self.post(f"/orders/{number}/payment", who or self.customer)
        assert r.status_code == 200, r.get_json()
        payment = r.get_json()["payment"]
        if payment.get("paid"):
            return r.get_json()["order"]
        done = self.client.post(payment["pay_url"], headers=who or self.customer)
        assert done.status_code == 200, done.get_json()
        return done.get_json()["order"]

    def paid_order(self, **overrides: Any) -> str:
        number = self.order(**overrides)["number"]
        assert self.pay(number)["status"] == "paid"
        return number

    def through_report(self, number: str) -> None:
        for step in ("accept", "samples-received", "start-testing"):
            r = self.post(f"/lab/orders/{number}/{step}", self.food_lab)
            assert r.status_code == 200, r.get_json()
        r = self.client.post(f"/api/v1/lab/orders/{number}/report", headers=self.food_lab,
                             data={"file": (pdf_file(), "report.pdf")}, content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()

    def ledger(self) -> dict[str, Any]:
        return self.get("/admin/ledger", self.admin).get_json()

    def assert_books_balance(self) -> None:
        with self.app.extensions["platform"].session_factory() as session:
            assert ledger_problems(session) == []

    def verify_company(self, who: dict[str, str] | None = None) -> None:
        """The user's company (from their profile) verified the real way: licence submitted, admin approves."""
        who = who or self.customer
        if self.get("/me/company", who).get_json()["can_use_vouchers"]:
            return
        profile = self.get("/me", who).get_json()
        r = self.client.post("/api/v1/me/company/verification", headers=who, content_type="multipart/form-data", data={
            "company_name": profile["company_name"], "credit_code": profile["company_credit_code"],
            "legal_rep_name": profile["contact_name"], "is_legal_rep": "true", "licence": (pdf_file(), "执照.pdf")})
        assert r.status_code == 201, r.get_json()
        r = self.post(f"/admin/companies/{r.get_json()['company']['id']}/decision", self.admin, approve=True)
        assert r.status_code == 200, r.get_json()

    def voucher(self, who: dict[str, str] | None = None, amount: float = 5000) -> int:
        self.verify_company(who)
        r = self.post("/vouchers", who or self.customer, requested_cny=amount, purpose="食品安全检测")
        assert r.status_code == 201, r.get_json()
        vid = r.get_json()["id"]
        r = self.post(f"/admin/vouchers/{vid}/decision", self.admin, approve=True)
        assert r.status_code == 200, r.get_json()
        return vid


def pdf_file(size: int = 2000) -> Any:
    from io import BytesIO

    return BytesIO(b"%PDF-1.4\n" + b"0" * size + b"\n%%EOF\n")


def next_weekday_at(hour: int, days_ahead: int = 7) -> datetime:
    """A Monday-to-Friday local time at least a few days ahead, as an aware datetime."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def build_market(app: Flask) -> Market:
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    market = Market(app, app.test_client(), {}, {}, {}, {})
    market.customer = market.sign_in(name="张三")
    market.food_lab = market.sign_in("lab_staff", "T-CQ-FOOD", name="食品实验室")
    market.material_lab = market.sign_in("lab_staff", "T-CD-MAT", name="材料实验室")
    market.admin = market.sign_in("platform_admin", name="平台")
    return market


# many sign-ins from one test address: the per-IP sign-in limit is for the real world
NO_LOGIN_LIMIT = {"RATE_LIMIT_LOGIN_PER_IP": "0"}


@pytest.fixture
def market_factory(app_factory: Callable[..., Flask], tmp_path: Path) -> Callable[..., Market]:
    made = iter(range(100))

    def make(**env: str) -> Market:
        return build_market(app_factory(tmp_path / f"market{next(made)}", **{**NO_LOGIN_LIMIT, **env}))

    return make


@pytest.fixture
def market(market_factory: Callable[..., Market]) -> Market:
    return market_factory()
