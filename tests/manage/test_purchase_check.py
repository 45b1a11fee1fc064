"""新购查重评议: each draft opinion on a small hand-made region with its answer worked out here, the split
purchase, the expert's conclusion and the conflict of interest, the JSON API (roles, bad input, the
idempotency key) and the check on the demo catalog (the other XRDs for an XRD, the other SEMs for an SEM).
The encoder is the app's own (use-multilingual), as in production."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from core.db import unit_of_work
from core.errors import BusinessRuleViolation, Conflict, Forbidden, InvalidInput, PayloadTooLarge
from core.models import Institution, Instrument, InstrumentMonth, PurchaseRequest, Role, Service, User
from core.services.data import purchase_check as pc
from core.services.data.purchase_similar import PurchaseFields, last_full_months
from core.services.people.company_documents import Upload
from tests.conftest import ROOT, build_app, cli, stop_app

NOW = datetime(2026, 12, 3, 2, tzinfo=timezone.utc)  # 10:00 on 3 December in Shanghai
MONTHS = last_full_months(NOW, "Asia/Shanghai")  # 2025-12 … 2026-11
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
XRD = dict(name="X射线衍射仪", classification="0103", specs="Cu靶，测角仪半径250 mm，一维阵列探测器",
           purpose="物相定性定量分析、晶粒尺寸与残余应力测定")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = build_app(tmp_path_factory.mktemp("purchase"), RATE_LIMIT_LOGIN_PER_IP="100000")
    yield application
    stop_app(application)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        yield s


def encoder(app: Flask) -> Any:
    return app.extensions["search"].encoder


def settings(app: Flask) -> Any:
    return app.extensions["platform"].settings


def institution(session: Session, code: str, city: str) -> Institution:
    found = Institution(code=code, name=f"{city}{code}研究院", city=city)
    session.add(found)
    session.flush()
    return found


def instrument(session: Session, owner: Institution, code: str, name: str = "X射线衍射仪", classification: str = "0103",
               hours: float | None = None, quota: float = 1400 / 12, months: int = 12, open_: bool = True,
               **values: Any) -> Instrument:
    """An instrument with `hours` of effective work in each of the last `months` full months (None: no figures)."""
    found = Instrument(code=code, institution_id=owner.id, name=name, classification_code=classification,
                       open_for_sharing=open_, share_mode="external" if open_ else "none", **values)
    session.add(found)
    session.flush()
    session.add(Service(code=f"{code}-S", instrument_id=found.id, name=f"{name}测试", price_cny=180))
    if hours is not None:
        for month in MONTHS[12 - months:]:
            session.add(InstrumentMonth(instrument_id=found.id, month=month, effective_hours=hours, quota_hours=quota,
                                        computed_at=NOW))
        # the running month and one before the window count for nothing
        for month in ("2026-12", "2025-11"):
            session.add(InstrumentMonth(instrument_id=found.id, month=month, effective_hours=700, quota_hours=quota,
                                        computed_at=NOW))
    session.flush()
    return found


def user(session: Session, role: Role, owner: Institution | None = None, name: str = "用户") -> User:
    found = User(username=None, display_name=name, role=role, institution_id=owner.id if owner else None, active=True)
    session.add(found)
    session.flush()
    return found


def submit(app: Flask, session: Session, actor: User, city: str, price_cny: float = 1_350_000, now: datetime = NOW,
           quotations: list[Upload] | None = None, **fields: Any) -> PurchaseRequest:
    values = {**XRD, **fields}
    return pc.submit_request(session, actor, PurchaseFields(price_fen=round(price_cny * 100), city=city, **values),
                             quotations, encoder(app), settings(app), now)


def codes(found: PurchaseRequest) -> list[str]:
    return [s["instrument"]["code"] for s in found.similar]


# --- the draft opinion -------------------------------------------------------------------------

def test_purchase_when_nothing_similar_is_in_the_province(app: Flask, session: Session) -> None:
    lab, other = institution(session, "XA-1", "西安"), institution(session, "XA-2", "西安")
    instrument(session, other, "XA-2-HPLC", name="高效液相色谱仪", classification="0105", hours=30)
    far = institution(session, "SH-1", "上海")
    instrument(session, far, "SH-1-XRD", hours=10)  # an idle XRD, but in another province
    found = submit(app, session, user(session, Role.institution_admin, lab), "西安")
    assert found.similar == [] and found.draft_opinion == "purchase" and found.status == "submitted"
    assert "在陕西未找到同类仪器" in found.reasons[0]


def test_purchase_when_every_similar_one_is_saturated(app: Flask, session: Session) -> None:
    lab, busy = institution(session, "WH-1", "武汉"), institution(session, "WH-2", "武汉")
    # 110 h a month: 1,320 h in 12 months ≥ 1,200 h (utilisation 1320 / 1400 = 94 %)
    instrument(session, busy, "WH-2-XRD", hours=110)
    # 95 h of a 100 h quota: 1,140 h < 1,200 h, but utilisation 95 % ≥ 85 %
    instrument(session, busy, "WH-2-PXRD", name="X射线粉末衍射仪", hours=95, quota=100)
    # 105 h a month for the 6 months it has figures: 630 h, at a yearly pace of 1,260 h ≥ 1,200 h
    instrument(session, busy, "WH-2-NEW", name="多功能X射线衍射仪", hours=105, quota=200, months=6)
    found = submit(app, session, user(session, Role.institution_admin, lab), "武汉")
    figures = {s["instrument"]["code"]: (s["effective_hours_12m"], s["utilisation_12m"], s["saturated"])
               for s in found.similar}
    assert figures == {"WH-2-XRD": (1320.0, 0.9429, True), "WH-2-PXRD": (1140.0, 0.95, True),
                       "WH-2-NEW": (630.0, 0.525, True)}
    assert found.draft_opinion == "purchase"
    assert "同类仪器均已饱和" in found.reasons[1] and "1320 小时" in found.reasons[1]


def test_share_when_a_similar_one_is_open_and_under_used(app: Flask, session: Session) -> None:
    lab, other, busy = (institution(session, "NJ-1", "南京"), institution(session, "NJ-2", "南京"),
                        institution(session, "SZ-9", "苏州"))
    instrument(session, other, "NJ-2-XRD", hours=30)  # 360 h, 26 % of 1,400 h
    instrument(session, busy, "SZ-9-XRD", hours=120)  # saturated, in the same province
    found = submit(app, session, user(session, Role.institution_admin, lab), "南京", expected_hours=500)
    assert found.draft_opinion == "share"
    assert codes(found) == ["NJ-2-XRD", "SZ-9-XRD"]  # the same city first
    first = found.similar[0]
    assert (first["effective_hours_12m"], first["utilisation_12m"], first["open_for_sharing"]) == (360.0, 0.2571, True)
    assert first["same_city"] and not found.similar[1]["same_city"]
    assert first["services"] == [{"name": "X射线衍射仪测试", "price_cny": 180.0, "price_unit": None}]
    said = " ".join(found.reasons)
    assert "对外开放共享且未饱和" in said and "南京NJ-2研究院" in said and "利用率 26%" in said
    assert "尚余约 1040 小时/年" in said  # 1,400 − 360


def test_expert_review_when_the_under_used_one_is_not_open(app: Flask, session: Session) -> None:
    lab, other = institution(session, "CS-1", "长沙"), institution(session, "CS-2", "长沙")
    instrument(session, other, "CS-2-XRD", hours=30, open_=False)
    found = submit(app, session, user(session, Role.institution_admin, lab), "长沙")
    assert codes(found) == ["CS-2-XRD"] and found.similar[0]["open_for_sharing"] is False
    assert found.draft_opinion == "expert_review"
    assert any("未饱和但未对外开放共享" in r for r in found.reasons)


def test_the_requesters_own_idle_instrument_comes_first_open_or_not(app: Flask, session: Session) -> None:
    lab, other = institution(session, "KM-1", "昆明"), institution(session, "KM-2", "昆明")
    instrument(session, other, "KM-2-XRD", hours=20)
    instrument(session, lab, "KM-1-XRD", hours=10, open_=False)  # not open to others, but it is theirs
    found = submit(app, session, user(session, Role.institution_admin, lab), "昆明")
    assert codes(found) == ["KM-1-XRD", "KM-2-XRD"] and found.similar[0]["own_institution"]
    assert found.draft_opinion == "share" and "本单位已有同类仪器且未饱和" in found.reasons[1]


def test_no_figures_is_no_proof_of_saturation(app: Flask, session: Session) -> None:
    lab, other = institution(session, "GY-1", "贵阳"), institution(session, "GY-2", "贵阳")
    instrument(session, other, "GY-2-XRD", hours=None)
    found = submit(app, session, user(session, Role.institution_admin, lab), "贵阳")
    assert found.similar[0]["utilisation_12m"] is None and found.similar[0]["saturated"] is None
    assert found.draft_opinion == "expert_review" and any("缺少机时数据" in r for r in found.reasons)


def test_similar_by_text_or_model_across_classes_and_not_by_class_alone(app: Flask, session: Session) -> None:
    lab, other = institution(session, "HF-1", "合肥"), institution(session, "HF-2", "合肥")
    # classified elsewhere by its owner, but an XRD by name and text
    instrument(session, other, "HF-2-XRD", classification="0199", specs="Cu靶，一维阵列探测器", hours=20)
    # a different instrument of the same model line
    instrument(session, other, "HF-2-MODEL", name="衍射系统", classification="0900", model="D8 ADVANCE", hours=20)
    # another X-ray instrument: the same 中类 is enough
    instrument(session, other, "HF-2-XRF", name="X射线荧光光谱仪", hours=20)
    # a tensile tester: 未细分 (0200) is no class match, and neither text nor model is close
    instrument(session, other, "HF-2-UTM", name="电子万能试验机", classification="0200", hours=20)
    found = submit(app, session, user(session, Role.institution_admin, lab), "合肥", model="D8 Advance",
                   classification="0103")
    matched = {s["instrument"]["code"]: s["matched_by"] for s in found.similar}
    assert "text" in matched["HF-2-XRD"] and "class" not in matched["HF-2-XRD"]
    assert matched["HF-2-MODEL"] == ["model"] and "class" in matched["HF-2-XRF"]
    assert "HF-2-UTM" not in matched


# --- the split purchase, below the threshold --------------------------------------------------

def test_small_requests_of_one_class_that_reach_the_threshold_together_are_flagged(app: Flask, session: Session) -> None:
    lab = institution(session, "XN-1", "西宁")
    admin = user(session, Role.institution_admin, lab)
    old = submit(app, session, admin, "西宁", 400_000, now=NOW - timedelta(days=500))  # 400 days before the next
    first = submit(app, session, admin, "西宁", 300_000, now=NOW - timedelta(days=100))
    unlike = submit(app, session, admin, "西宁", 400_000, now=NOW - timedelta(days=50), name="扫描电子显微镜",
                    classification="0101")
    for small in (old, first, unlike):  # each alone: recorded, no check due, no split
        assert (small.status, small.draft_opinion, small.split_suspected) == ("recorded", "purchase", False)
        assert "低于查重评议起点 500,000.00 元" in small.reasons[0]
    second = submit(app, session, admin, "西宁", 250_000)  # 300,000 + 250,000 = 550,000 ≥ 500,000
    assert second.split_suspected and second.draft_opinion == "expert_review" and second.status == "submitted"
    split = next(r for r in second.reasons if r.startswith("疑似拆分采购"))
    assert f"第 {first.id} 号（300,000.00 元）" in split and "合计 550,000.00 元" in split
    assert f"第 {old.id} 号" not in split and f"第 {unlike.id} 号" not in split
    whole = submit(app, session, admin, "西宁", 600_000)  # at or above the threshold is no split
    assert not whole.split_suspected


def test_a_small_request_without_an_institution_is_refused(app: Flask, session: Session) -> None:
    admin = user(session, Role.platform_admin)
    with pytest.raises(BusinessRuleViolation) as refused:
        submit(app, session, admin, "重庆", 200_000)
    assert refused.value.status == 422 and "低于查重评议起点" in refused.value.message


def test_only_admins_file_and_an_institution_admin_only_for_their_own(app: Flask, session: Session) -> None:
    lab, other = institution(session, "TY-1", "太原"), institution(session, "TY-2", "太原")
    for role in (Role.lab_staff, Role.enterprise, Role.expert):
        with pytest.raises(Forbidden):
            submit(app, session, user(session, role, lab), "太原")
    with pytest.raises(Forbidden) as refused:
        pc.submit_request(session, user(session, Role.institution_admin, lab),
                          PurchaseFields(price_fen=100_000_000, city="太原", **XRD), None, encoder(app), settings(app),
                          NOW, institution_code=other.code)
    assert "只能为本机构" in refused.value.message
    assert session.scalar(select(func.count()).select_from(PurchaseRequest)
                          .where(PurchaseRequest.institution_id.in_([lab.id, other.id]))) == 0


# --- quotations --------------------------------------------------------------------------------

def test_three_pdf_quotations_are_stored_and_anything_else_refused(app: Flask, session: Session) -> None:
    lab = institution(session, "NC-1", "南昌")
    admin = user(session, Role.institution_admin, lab)
    good = [Upload(f"报价单{n}.pdf", PDF + bytes([n])) for n in (1, 2, 3)]
    refusals = [
        ([*good[:2]], InvalidInput, "须上传 3 份报价单"),
        ([*good[:2], Upload("报价.pdf", b"PK\x03\x04 a zip named .pdf")], InvalidInput, "第 3 份报价单不是 PDF"),
        ([Upload("big.pdf", PDF + b"0" * (10 * 1024 * 1024)), *good[1:]], PayloadTooLarge, "第 1 份报价单超过 10 MB"),
    ]
    for uploads, error, message in refusals:
        with pytest.raises(error) as refused:
            submit(app, session, admin, "南昌", quotations=uploads)
        assert message in refused.value.message
    assert session.scalar(select(func.count()).select_from(PurchaseRequest)
                          .where(PurchaseRequest.institution_id == lab.id)) == 0
    found = submit(app, session, admin, "南昌", quotations=good)
    assert len(found.quotations) == 3
    name, data = pc.quotation_file(session, admin, found.id, 2, settings(app))
    assert data == PDF + bytes([2]) and name == "报价单2.pdf"


# --- the expert's conclusion -------------------------------------------------------------------

def test_an_expert_concludes_with_a_comment_and_not_on_their_own_institution(app: Flask, session: Session) -> None:
    lab, elsewhere = institution(session, "NN-1", "南宁"), institution(session, "NN-2", "南宁")
    found = submit(app, session, user(session, Role.institution_admin, lab), "南宁")
    evidence = (list(found.similar), list(found.reasons), found.draft_opinion)
    colleague = user(session, Role.expert, lab, "同单位专家")
    with pytest.raises(Forbidden) as refused:
        pc.conclude(session, colleague, found.id, "purchase", "同意。", NOW)
    assert refused.value.status == 403 and "须回避" in refused.value.message
    assert found.id not in [r.id for r in pc.awaiting_conclusion(session, colleague)]
    expert = user(session, Role.expert, elsewhere, "李专家")
    assert found.id in [r.id for r in pc.awaiting_conclusion(session, expert)]
    with pytest.raises(InvalidInput) as empty:
        pc.conclude(session, expert, found.id, "reject", "   ", NOW)
    assert "请填写评议意见" in empty.value.message
    with pytest.raises(Forbidden):
        pc.conclude(session, user(session, Role.platform_admin), found.id, "reject", "不同意。", NOW)
    pc.conclude(session, expert, found.id, "reject", "区域内同类仪器可满足需求。", NOW)
    assert (found.status, found.conclusion, found.conclusion_comment, found.concluded_by, found.concluded_at) == \
        ("concluded", "reject", "区域内同类仪器可满足需求。", "李专家", NOW)
    assert (found.similar, found.reasons, found.draft_opinion) == evidence  # the evidence stays as found
    with pytest.raises(Conflict):
        pc.conclude(session, user(session, Role.expert, None, "王专家"), found.id, "purchase", "同意。", NOW)


# --- the JSON API ------------------------------------------------------------------------------

def _token(app: Flask, username: str, role: Role, owner: str | None) -> dict[str, str]:
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        inst = s.scalar(select(Institution).where(Institution.code == owner)) if owner else None
        s.add(User(username=username, display_name=username, role=role, institution_id=inst.id if inst else None,
                   password_hash=generate_password_hash("password-2026")))
    answer = app.test_client().post("/api/v1/auth/password-login", json={"username": username, "password": "password-2026"})
    assert answer.status_code == 200, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


@pytest.fixture(scope="module")
def api(app: Flask) -> dict[str, dict[str, str]]:
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        institution(s, "API-1", "福州")
        theirs = institution(s, "API-2", "厦门")
        xrd = instrument(s, theirs, "API-2-XRD")
        # the API checks against the real clock: 20 h in each of its last 12 full months
        for month in last_full_months(datetime.now(timezone.utc), "Asia/Shanghai"):
            s.add(InstrumentMonth(instrument_id=xrd.id, month=month, effective_hours=20, quota_hours=1400 / 12,
                                  computed_at=NOW))
    return {"admin": _token(app, "api-admin", Role.institution_admin, "API-1"),
            "other_admin": _token(app, "api-other", Role.institution_admin, "API-2"),
            "staff": _token(app, "api-staff", Role.lab_staff, "API-1"),
            "platform": _token(app, "api-platform", Role.platform_admin, None),
            "enterprise": _token(app, "api-buyer", Role.enterprise, None),
            "anonymous": {}}


BODY = {"name": "X射线衍射仪", "classification": "0103", "model": "D8 Advance", "specs": "Cu靶，测角仪半径250 mm",
        "price_cny": 1350000, "city": "福州", "expected_hours": 800}


def _count(app: Flask) -> int:
    with unit_of_work(app.extensions["platform"].session_factory, write=False) as s:
        return int(s.scalar(select(func.count()).select_from(PurchaseRequest)) or 0)


def test_the_api_checks_records_and_shows_a_request(app: Flask, api: dict[str, dict[str, str]]) -> None:
    client = app.test_client()
    answer = client.post("/api/v1/purchase-checks", json=BODY, headers=api["admin"])
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["draft_opinion"] == "share" and body["institution"]["code"] == "API-1" and body["quotations"] == 0
    (xrd,) = body["similar"]  # 厦门 is in 福建 too
    assert xrd["instrument"]["code"] == "API-2-XRD" and xrd["instrument"]["city"] == "厦门"
    assert (xrd["effective_hours_12m"], xrd["utilisation_12m"], xrd["saturated"]) == (240.0, 0.1714, False)
    assert xrd["open_for_sharing"] is True and isinstance(xrd["similarity"], float)
    assert body["reasons"] and "未附报价单" in body["reasons"][-1] and body["created_at"].endswith(("Z", "+00:00"))
    shown = client.get(f"/api/v1/purchase-checks/{body['id']}", headers=api["admin"]).get_json()
    assert shown == body
    assert client.get(f"/api/v1/purchase-checks/{body['id']}", headers=api["platform"]).status_code == 200
    assert client.get(f"/api/v1/purchase-checks/{body['id']}", headers=api["staff"]).status_code == 200
    hidden = client.get(f"/api/v1/purchase-checks/{body['id']}", headers=api["other_admin"])
    assert hidden.status_code == 404 and hidden.get_json()["error"]["code"] == "purchase_request_not_found"


def test_the_api_refuses_the_wrong_people_in_chinese(app: Flask, api: dict[str, dict[str, str]]) -> None:
    client, before = app.test_client(), _count(app)
    for who, status in (("anonymous", 401), ("enterprise", 403), ("staff", 403)):
        answer = client.post("/api/v1/purchase-checks", json=BODY, headers=api[who])
        assert answer.status_code == status, (who, answer.get_json())
        assert any("\u4e00" <= ch <= "\u9fff" for ch in answer.get_json()["error"]["message"])
    foreign = client.post("/api/v1/purchase-checks", json={**BODY, "institution": "API-2"}, headers=api["admin"])
    assert foreign.status_code == 403 and "只能为本机构" in foreign.get_json()["error"]["message"]
    assert client.get("/api/v1/purchase-checks/1", headers=api["enterprise"]).status_code == 403
    assert client.get("/api/v1/purchase-checks/1").status_code == 401
    assert _count(app) == before


@pytest.mark.parametrize("raw", ['NaN', 'Infinity', 'true', '1e308', '100000000000000000000000000000', '"1350000"',
                                 '-5', '1350000.001'])
def test_bad_prices_are_400_and_write_nothing(app: Flask, api: dict[str, dict[str, str]], raw: str) -> None:
    before = _count(app)
    text = json.dumps({**BODY, "price_cny": 0}).replace('"price_cny": 0', f'"price_cny": {raw}')
    answer = app.test_client().post("/api/v1/purchase-checks", data=text, content_type="application/json",
                                    headers=api["platform"])
    assert answer.status_code == 400, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_body" and "price_cny" in error["details"]["fields"]
    assert _count(app) == before


def test_other_bad_fields_are_400(app: Flask, api: dict[str, dict[str, str]]) -> None:
    client, before = app.test_client(), _count(app)
    for change in ({"classification": "9999"}, {"classification": "01"}, {"expected_hours": math.inf},
                   {"expected_hours": True}, {"name": ""}, {"surprise": 1}, {"price_cny": 0}):
        answer = client.post("/api/v1/purchase-checks", data=json.dumps({**BODY, **change}),
                             content_type="application/json", headers=api["admin"])
        assert answer.status_code == 400, (change, answer.get_json())
    assert _count(app) == before


def test_the_idempotency_key_records_one_check(app: Flask, api: dict[str, dict[str, str]]) -> None:
    client, before = app.test_client(), _count(app)
    headers = {**api["platform"], "Idempotency-Key": "purchase-check-1"}
    first = client.post("/api/v1/purchase-checks", json={**BODY, "institution": "API-1"}, headers=headers)
    again = client.post("/api/v1/purchase-checks", json={**BODY, "institution": "API-1"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json()["id"] == first.get_json()["id"]
    assert _count(app) == before + 1


# --- the demo catalog --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = build_app(tmp_path_factory.mktemp("purchase-demo"))
    imported = cli(application, "catalog", "import", "--approve", str(ROOT / "data" / "demo_catalog.jsonl"))
    assert imported.exit_code == 0, imported.output
    yield application
    stop_app(application)


def _demo_kinds() -> dict[str, dict[str, set[str]]]:
    """Per kind, per city of the demo file: the codes of its XRDs and its SEMs, read from the file itself."""
    kinds: dict[str, dict[str, set[str]]] = {"xrd": {}, "sem": {}}
    for line in (ROOT / "data" / "demo_catalog.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        name, city = row["instrument"]["name"], row["institution"]["city"]
        kind = "xrd" if "X射线衍射" in name or "X射线粉末衍射" in name else "sem" if "扫描电" in name else None
        if kind:
            kinds[kind].setdefault(city, set()).add(row["instrument"]["code"])
    return kinds


@pytest.mark.parametrize("kind, city, province_cities", [
    ("xrd", "重庆", ("重庆",)), ("xrd", "宁波", ("杭州", "宁波", "温州")), ("xrd", "成都", ("成都",)),
    ("sem", "杭州", ("杭州", "宁波", "温州")), ("sem", "上海", ("上海",)), ("sem", "广州", ("深圳", "广州")),
])
def test_the_demo_catalog_finds_the_other_instruments_of_the_kind(demo: Flask, kind: str, city: str,
                                                                  province_cities: tuple[str, ...]) -> None:
    request = {"xrd": XRD, "sem": dict(name="场发射扫描电子显微镜", classification="0101",
                                       specs="分辨率0.8 nm@15 kV，加速电压0.02–30 kV，配能谱仪",
                                       purpose="材料表面形貌观察与微区成分分析")}[kind]
    wanted = set().union(*(_demo_kinds()[kind].get(c, set()) for c in province_cities))
    others = set().union(*_demo_kinds()["sem" if kind == "xrd" else "xrd"].values())
    assert wanted, "the demo catalog has none of this kind in the province"
    with unit_of_work(demo.extensions["platform"].session_factory) as session:
        admin = user(session, Role.platform_admin)
        found = pc.submit_request(session, admin, PurchaseFields(price_fen=150_000_000, city=city, **request), None,
                                  encoder(demo), settings(demo), NOW)
        similar, provinces = set(codes(found)), {s["instrument"]["province"] for s in found.similar}
        session.rollback()
    assert wanted <= similar, (wanted - similar)
    assert not similar & others  # an XRD is no SEM
    assert len(provinces) == 1  # nothing from another province
