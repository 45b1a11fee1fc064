"""Companies are verified parties: only active members of a verified company see, apply for
and spend its innovation vouchers, whatever credit code anyone types into a profile."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select, text

from core.config import load_settings
from core.models import VoucherRedemption
from tests.conftest import stop_app
from tests.orders.conftest import CREDIT_CODE, OTHER_CREDIT_CODE, Market, market, market_factory  # noqa: F401

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
PDF = b"%PDF-1.4\n" + b"0" * 200 + b"\n%%EOF\n"


def submit(market: Market, who: dict[str, str], code: str = OTHER_CREDIT_CODE, *, licence: bytes | None = PNG,
           authorisation: bytes | None = None, is_legal_rep: bool = True, name: str = "杭州别家科技有限公司"):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {"company_name": name, "credit_code": code, "legal_rep_name": "王五",
                            "is_legal_rep": "true" if is_legal_rep else "false"}
    if licence is not None:
        data["licence"] = (BytesIO(licence), "营业执照.png")
    if authorisation is not None:
        data["authorisation"] = (BytesIO(authorisation), "授权书.jpg")
    return market.client.post("/api/v1/me/company/verification", headers=who, data=data,
                              content_type="multipart/form-data")


def decide(market: Market, company_id: int, who: dict[str, str] | None = None, **body: Any):  # type: ignore[no-untyped-def]
    return market.post(f"/admin/companies/{company_id}/decision", who or market.admin, **body)


def error_code(response) -> str:  # type: ignore[no-untyped-def]
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"]


def user_id(market: Market, who: dict[str, str]) -> int:
    return market.get("/me", who).get_json()["id"]


def order_body(voucher: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"service_code": "T-CQ-S002", "samples": 1, "sample_description": "辣椒粉一袋",
                            "mode": "mail",
                            "delivery_date": (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()}
    if voucher is not None:
        body["voucher_id"] = voucher
    return body


def join_and_approve(market: Market, name: str = "同事") -> tuple[dict[str, str], int]:
    """A colleague claims the customer's (verified) company and its admin approves them."""
    colleague = market.sign_in(name=name, company=CREDIT_CODE)
    member = market.get("/me/company", colleague).get_json()["membership"]
    assert member["status"] == "pending" and not member["invitation"]
    approved = market.post(f"/me/company/members/{member['id']}/approve", market.customer)
    assert approved.status_code == 200, approved.get_json()
    return colleague, member["id"]


def test_claiming_another_companys_credit_code_gives_nothing_on_its_vouchers(market: Market) -> None:
    voucher = market.voucher(amount=1000)  # the customer's company, verified, with an approved voucher
    attacker = market.sign_in(name="冒名者", company=CREDIT_CODE)  # PUT /me/company with that public code

    assert market.get("/vouchers", attacker).get_json()["items"] == []
    spend = market.post("/orders", attacker, **order_body(voucher))
    assert spend.status_code == 404 and error_code(spend) == "voucher_not_found"
    assert spend.get_json() == market.post("/orders", attacker, **order_body(999_999)).get_json()  # as if none existed
    apply = market.post("/vouchers", attacker, requested_cny=100, purpose="检测")
    assert apply.status_code == 422 and error_code(apply) == "company_required"
    assert "先完成企业认证" in apply.get_json()["error"]["message"]
    again = submit(market, attacker, CREDIT_CODE)
    assert again.status_code == 409 and error_code(again) == "company_already_verified"
    mine = market.get("/me/company", attacker).get_json()
    assert mine["membership"]["status"] == "pending" and mine["can_use_vouchers"] is False
    # the claim is only a join request, and the real company's admin hears of it
    inbox = market.get("/me/notifications", market.customer).get_json()["items"]
    assert inbox[0]["kind"] == "company_join_request" and "冒名者" in inbox[0]["body"]
    # the attacker can still book and pay cash
    assert market.pay(market.order(attacker, samples=1)["number"], attacker)["status"] == "paid"
    assert market.get("/vouchers", market.customer).get_json()["items"][0]["available_cny"] == 1000


def test_approved_verification_makes_the_submitter_the_admin_and_tells_them(market: Market) -> None:
    boss = market.sign_in(name="别家经办人", company=None)
    no_letter = submit(market, boss, is_legal_rep=False)
    assert no_letter.status_code == 400 and error_code(no_letter) == "authorisation_required"
    sent = submit(market, boss, is_legal_rep=False, authorisation=JPEG)
    assert sent.status_code == 201, sent.get_json()
    mine = sent.get_json()
    assert mine["company"]["status"] == "pending" and mine["membership"]["role"] == "admin"
    assert mine["membership"]["status"] == "pending" and mine["can_use_vouchers"] is False
    assert datetime.fromisoformat(mine["company"]["submitted_at"]).utcoffset() is not None
    assert market.post("/vouchers", boss, requested_cny=100, purpose="检测").status_code == 422

    queue = market.get("/admin/companies?status=pending", market.admin).get_json()["items"]
    assert [(c["credit_code"], c["submitter_name"], c["submitter_is_legal_rep"]) for c in queue] == [
        (OTHER_CREDIT_CODE, "别家经办人", False)]
    docs = {d["kind"]: d for d in queue[0]["documents"]}
    assert set(docs) == {"licence", "authorisation"} and docs["licence"]["size_bytes"] == len(PNG)
    licence = market.client.get(docs["licence"]["download_url"], headers=market.admin)
    assert licence.status_code == 200 and licence.data == PNG and licence.mimetype == "image/png"
    letter = market.client.get(docs["authorisation"]["download_url"], headers=market.admin)
    assert letter.data == JPEG and letter.mimetype == "image/jpeg"
    assert market.client.get(docs["licence"]["download_url"], headers=boss).status_code == 403

    approved = decide(market, queue[0]["id"], approve=True)
    assert approved.status_code == 200 and approved.get_json()["status"] == "verified"
    assert decide(market, queue[0]["id"], approve=True).status_code == 409  # decided once
    mine = market.get("/me/company", boss).get_json()
    assert mine["company"]["status"] == "verified" and mine["can_use_vouchers"] is True
    assert (mine["membership"]["role"], mine["membership"]["status"]) == ("admin", "active")
    note = market.get("/me/notifications", boss).get_json()["items"][0]
    assert note["kind"] == "company_verified" and "已通过" in note["title"]
    assert market.post("/vouchers", boss, requested_cny=100, purpose="检测").status_code == 201
    assert market.get("/admin/companies?status=pending", market.admin).get_json()["items"] == []


def test_a_rejection_needs_a_reason_the_submitter_reads_and_may_resubmit(market: Market) -> None:
    boss = market.sign_in(name="别家法人", company=None)
    company = submit(market, boss).get_json()["company"]["id"]
    no_reason = decide(market, company, approve=False, reason="  ")
    assert no_reason.status_code == 400 and error_code(no_reason) == "reason_required"
    rejected = decide(market, company, approve=False, reason="营业执照照片不清晰")
    assert rejected.get_json()["status"] == "rejected"
    note = market.get("/me/notifications", boss).get_json()["items"][0]
    assert note["kind"] == "company_rejected" and "营业执照照片不清晰" in note["body"]
    mine = market.get("/me/company", boss).get_json()
    assert mine["company"]["rejection_reason"] == "营业执照照片不清晰" and mine["can_use_vouchers"] is False

    again = submit(market, boss, licence=PDF)
    assert again.status_code == 201 and again.get_json()["company"]["status"] == "pending"
    assert again.get_json()["company"]["rejection_reason"] is None
    assert submit(market, boss).status_code == 409  # already waiting for review
    assert decide(market, company, approve=True).status_code == 200
    assert market.get("/me/company", boss).get_json()["can_use_vouchers"] is True


def test_a_bad_licence_file_is_refused_and_nothing_is_stored(market_factory: Callable[..., Market]) -> None:  # noqa: F811
    market = market_factory(COMPANY_DOCUMENT_MAX_MB="0.01")  # 10 kB
    boss = market.sign_in(name="别家", company=None)
    for kwargs, code in [
        ({"licence": b"GIF89a not a licence"}, "unsupported_file_type"),
        ({"licence": b"PK\x03\x04 a zip"}, "unsupported_file_type"),
        ({"licence": b"%PDF-1.4\n" + b"0" * 11_000}, "file_too_large"),
        ({"licence": PNG, "is_legal_rep": False, "authorisation": b"<html>"}, "unsupported_file_type"),
        ({"licence": None}, "licence_required"),
        ({"code": "91330106MA2GL1AE5X"}, "invalid_company"),  # wrong check character
    ]:
        refused = submit(market, boss, **kwargs)
        expected = 413 if code == "file_too_large" else 400
        assert refused.status_code == expected and error_code(refused) == code, (kwargs, refused.get_json())
        assert refused.get_json()["error"]["message"]
    assert market.get("/admin/companies?status=all", market.admin).get_json()["items"] == []
    assert market.get("/me/company", boss).get_json() == {"company": None, "membership": None,
                                                         "can_use_vouchers": False}
    stored = market.app.extensions["platform"].settings.company_documents_dir
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


def test_a_join_request_approved_by_the_company_admin_gives_access_and_the_spender_is_recorded(market: Market) -> None:
    voucher = market.voucher(amount=1000)
    colleague = market.sign_in(name="同事", company=CREDIT_CODE)
    assert market.get("/vouchers", colleague).get_json()["items"] == []
    members = market.get("/me/company/members", market.customer).get_json()["items"]
    request = next(m for m in members if m["display_name"] == "同事")
    assert request["status"] == "pending"
    assert market.get("/me/company/members", colleague).status_code == 403  # not an admin (not even a member yet)

    assert market.post(f"/me/company/members/{request['id']}/approve", market.customer).status_code == 200
    assert market.get("/me/notifications", colleague).get_json()["items"][0]["kind"] == "company_member_approved"
    assert [v["id"] for v in market.get("/vouchers", colleague).get_json()["items"]] == [voucher]
    order = market.order(colleague, samples=1, voucher_id=voucher)
    assert order["voucher_cny"] > 0 and market.pay(order["number"], colleague)["status"] == "paid"
    with market.app.extensions["platform"].session_factory() as session:
        spent = session.scalars(select(VoucherRedemption)).all()
    assert [r.spent_by_user_id for r in spent] == [user_id(market, colleague)]
    assert market.get("/vouchers", market.customer).get_json()["items"][0]["reserved_cny"] == order["voucher_cny"]


def test_removal_takes_access_away_at_once_even_for_an_order_placed_before(market: Market) -> None:
    voucher = market.voucher(amount=1000)
    colleague, member_id = join_and_approve(market)
    number = market.order(colleague, samples=1, voucher_id=voucher)["number"]  # placed while a member

    removed = market.post(f"/me/company/members/{member_id}/remove", market.customer)
    assert removed.status_code == 200 and removed.get_json()["status"] == "removed"
    assert market.get("/me/notifications", colleague).get_json()["items"][0]["kind"] == "company_member_removed"
    pay = market.post(f"/orders/{number}/payment", colleague)
    assert pay.status_code == 404 and error_code(pay) == "voucher_not_found"
    assert market.get(f"/orders/{number}", colleague).get_json()["status"] == "created"
    assert market.get("/vouchers", colleague).get_json()["items"] == []
    assert market.post("/orders", colleague, **order_body(voucher)).status_code == 404
    balance = market.get("/vouchers", market.customer).get_json()["items"][0]
    assert (balance["reserved_cny"], balance["available_cny"]) == (0, 1000)
    market.assert_books_balance()


def test_another_companys_admin_cannot_manage_your_members(market: Market) -> None:
    market.verify_company()
    other_admin = market.sign_in(name="别家管理员", company=None)
    decide(market, submit(market, other_admin).get_json()["company"]["id"], approve=True)
    applicant = market.sign_in(name="申请人", company=CREDIT_CODE)
    member_id = market.get("/me/company", applicant).get_json()["membership"]["id"]

    for action in ("approve", "remove"):
        r = market.post(f"/me/company/members/{member_id}/{action}", other_admin)
        assert r.status_code == 404 and error_code(r) == "member_not_found"
    assert all(m["id"] != member_id for m in market.get("/me/company/members", other_admin).get_json()["items"])
    plain, _ = join_and_approve(market, "普通成员")
    r = market.post(f"/me/company/members/{member_id}/approve", plain)
    assert r.status_code == 403 and error_code(r) == "not_company_admin"
    assert market.get("/me/company", applicant).get_json()["membership"]["status"] == "pending"


def test_invitations_must_be_accepted_and_the_last_admin_cannot_leave(market: Market) -> None:
    voucher = market.voucher(amount=1000)
    me = market.get("/me/company", market.customer).get_json()["membership"]
    last = market.post(f"/me/company/members/{me['id']}/remove", market.customer)
    assert last.status_code == 409 and error_code(last) == "last_admin"

    guest = market.sign_in(name="受邀人", company=None)
    invited = market.post("/me/company/invitations", market.customer, user_id=user_id(market, guest))
    assert invited.status_code == 201 and invited.get_json()["invitation"] is True
    assert market.post("/me/company/invitations", market.customer, user_id=10_000).status_code == 404
    assert market.get("/me/notifications", guest).get_json()["items"][0]["kind"] == "company_invitation"
    assert market.get("/vouchers", guest).get_json()["items"] == []
    r = market.post(f"/me/company/members/{invited.get_json()['id']}/approve", market.customer)
    assert r.status_code == 409 and error_code(r) == "invitation_pending"  # only the invited user can say yes

    accepted = market.post("/me/company/invitation/accept", guest)
    assert accepted.status_code == 200 and accepted.get_json()["can_use_vouchers"] is True
    assert [v["id"] for v in market.get("/vouchers", guest).get_json()["items"]] == [voucher]
    left = market.post(f"/me/company/members/{invited.get_json()['id']}/remove", guest)  # a member may leave
    assert left.status_code == 200 and market.get("/vouchers", guest).get_json()["items"] == []


@pytest.mark.parametrize("role,institution,status", [
    ("enterprise", None, 403), ("lab_staff", "T-CQ-FOOD", 403), ("platform_admin", None, 200)])
def test_only_platform_admins_review_companies(market: Market, role: str, institution: str | None,
                                               status: int) -> None:
    company = submit(market, market.sign_in(name="别家", company=None)).get_json()["company"]["id"]
    who = market.sign_in(role, institution, name="审核人", company=None)
    assert market.get("/admin/companies", who).status_code == status
    assert market.client.get(f"/api/v1/admin/companies/{company}/documents/licence", headers=who).status_code == status
    decision = decide(market, company, who, approve=False, reason="材料不全")
    assert decision.status_code == status
    if status == 403:
        assert error_code(decision) == "forbidden"
        assert market.get("/admin/companies", market.admin).get_json()["items"][0]["status"] == "pending"


def test_old_voucher_applications_get_an_unverified_company_that_nobody_can_spend_for(tmp_path: Path) -> None:
    from app import create_app

    application = create_app(load_settings({"DATA_DIR": str(tmp_path), "DEMO_MODE": "1"}))
    try:
        runner = application.test_cli_runner()
        assert runner.invoke(args=["db", "upgrade", "0006"]).exit_code == 0
        engine = application.extensions["platform"].engine
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, display_name, role, active, created_at, updated_at) "
                              "VALUES (1, '老用户', 'enterprise', true, '2025-01-01', '2025-01-01')"))
            for i, (code, name) in enumerate([(CREDIT_CODE, "旧名"), (CREDIT_CODE, "新名"), (OTHER_CREDIT_CODE, "别家")]):
                conn.execute(text(
                    "INSERT INTO voucher_applications (id, user_id, company_credit_code, company_name, requested_cents,"
                    " purpose, status, approved_cents, reserved_cents, consumed_cents, created_at, updated_at) VALUES "
                    "(:id, 1, :code, :name, 100, 'x', 'approved', 100, 0, 0, '2025-01-01', '2025-01-01')"),
                    {"id": i + 1, "code": code, "name": name})
        assert runner.invoke(args=["db", "upgrade", "0007"]).exit_code == 0
        with engine.begin() as conn:
            companies = conn.execute(text("SELECT id, credit_code, name, status FROM companies ORDER BY id")).all()
            links = conn.execute(text("SELECT company_id FROM voucher_applications ORDER BY id")).scalars().all()
            members = conn.execute(text("SELECT count(*) FROM company_members")).scalar()
    finally:
        stop_app(application)
    assert [(c.credit_code, c.name, c.status) for c in companies] == [
        (CREDIT_CODE, "新名", "unverified"), (OTHER_CREDIT_CODE, "别家", "unverified")]
    assert links == [companies[0].id, companies[0].id, companies[1].id] and members == 0



def test_a_member_removed_between_two_payment_attempts_cannot_try_again(market: Market) -> None:
    voucher = market.voucher(amount=1000)
    colleague, member_id = join_and_approve(market)
    number = market.order(colleague, samples=1, voucher_id=voucher)["number"]
    assert market.post(f"/orders/{number}/payment", colleague).status_code == 200  # voucher part reserved
    assert market.post(f"/me/company/members/{member_id}/remove", market.customer).status_code == 200
    retry = market.post(f"/orders/{number}/payment", colleague)
    assert retry.status_code == 404 and error_code(retry) == "voucher_not_found"
    assert market.get(f"/orders/{number}", colleague).get_json()["status"] == "awaiting_payment"
    market.assert_books_balance()
