"""The purchase-check pages: an institution admin files a request with three quotations and reads the result
(the similar instruments with their 利用率, the draft opinion and its reasons); the console lists every
request; an expert of another institution concludes with a comment, one of the requesting institution
cannot. Every new route refuses the wrong visitor."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from core.db import unit_of_work
from core.models import Institution, Instrument, InstrumentMonth, PurchaseRequest, Role, User
from core.services.data.purchase_similar import last_full_months
from tests.conftest import build_app, stop_app
from tests.web.conftest import ACCOUNTS, build_web_app, csrf_of, sign_in

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
FORM = {"name": "高效液相色谱仪", "classification": "0105", "model": "1290 Infinity II", "price": "600,000",
        "expected_hours": "800", "city": "重庆", "specs": "四元泵，二极管阵列检测器，自动进样器",
        "purpose": "食品中添加剂与非法添加物的检测"}
# besides the demo accounts (tests/web/conftest.py): people of the other institution, an enterprise user, experts
PEOPLE = {"buyer": (Role.enterprise, None), "hzadmin": (Role.institution_admin, "T-HZ-ATC"),
          "expert-hz": (Role.expert, "T-HZ-ATC"), "expert-cq": (Role.expert, "T-CQ-FOOD")}
PASSWORD = "purchase-pages-2026"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_web_app(build_app(tmp_path_factory.mktemp("purchases"), RATE_LIMIT_LOGIN_PER_IP="100000"))
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        ids = dict(session.execute(select(Institution.code, Institution.id)).all())
        for username, (role, owner) in PEOPLE.items():
            session.add(User(username=username, display_name=f"{username}老师", role=role,
                             institution_id=ids.get(owner or ""), password_hash=generate_password_hash(PASSWORD)))
        hplc = session.scalar(select(Instrument).where(Instrument.code == "T-CQ-FOOD-0001"))
        hplc.classification_code = "0105"
        # 10 h in each of the last 12 full months of a 1,400 h year: 120 / 1,400 = 9 %
        for month in last_full_months(datetime.now(timezone.utc), "Asia/Shanghai"):
            session.add(InstrumentMonth(instrument_id=hplc.id, month=month, effective_hours=10, quota_hours=1400 / 12,
                                        computed_at=datetime.now(timezone.utc)))
    yield app
    stop_app(app)


def client(app: Flask, who: str) -> FlaskClient:
    c = app.test_client()
    if who in ACCOUNTS:
        return sign_in(c, *ACCOUNTS[who])
    return sign_in(c, who, PASSWORD) if who in PEOPLE else c


def count(app: Flask) -> int:
    with unit_of_work(app.extensions["platform"].session_factory, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(PurchaseRequest)) or 0)


def file_request(c: FlaskClient, files: list[tuple[bytes, str]] | None = None, **changes: str) -> Any:
    token = csrf_of(c.get("/workbench/purchases/new").get_data(as_text=True))
    uploads = files if files is not None else [(PDF, f"报价单{n}.pdf") for n in (1, 2, 3)]
    data: dict[str, Any] = {**FORM, **changes, "csrf_token": token}
    for n, (content, name) in enumerate(uploads, 1):
        data[f"quotation{n}"] = (io.BytesIO(content), name)
    return c.post("/workbench/purchases", data=data, content_type="multipart/form-data")


@pytest.fixture(scope="module")
def filed(site: Flask) -> int:
    """A request of T-CQ-FOOD filed through the workbench; its id."""
    answer = file_request(client(site, "institution_admin"))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    return int(re.search(r"id=(\d+)", answer.headers["Location"]).group(1))  # type: ignore[union-attr]


def test_an_institution_admin_files_a_request_and_reads_the_result(site: Flask, filed: int) -> None:
    admin = client(site, "institution_admin")
    page = admin.get(f"/workbench/purchases?id={filed}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'id="opinion">建议共享使用<', html)
    row = re.search(r'<tr data-code="T-CQ-FOOD-0001">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "本单位" in row and "120 小时" in row and "9%" in row and "有余量" in row and "¥300.00/样" in row
    assert "本单位已有同类仪器且未饱和" in html and "¥600,000.00" in html
    assert html.count("报价单 ") >= 3
    listing = admin.get("/workbench/purchases").get_data(as_text=True)
    assert f'id="purchase-{filed}"' in listing and "建议共享使用" in listing and "待专家评议" in listing
    stored = site.extensions["platform"].settings.data_dir / "purchase_quotations" / str(filed)
    assert len(list(stored.iterdir())) == 3
    # the console sees it, its quotations included; the nav leads there
    console = client(site, "platform_admin")
    listed = console.get("/console/purchases").get_data(as_text=True)
    assert f'id="purchase-{filed}"' in listed and 'href="/console/purchases"' in listed
    assert "新购查重" in listed
    assert console.get(f"/console/purchases?id={filed}").status_code == 200
    download = console.get(f"/console/purchases?id={filed}&quotation=2")
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    assert console.get(f"/console/purchases?id={filed}&quotation=4").status_code == 404


def test_lab_staff_read_their_institutions_requests_but_do_not_file(site: Flask, filed: int) -> None:
    staff = client(site, "lab_staff")
    assert staff.get(f"/workbench/purchases?id={filed}").status_code == 200
    form = staff.get("/workbench/purchases/new").get_data(as_text=True)
    assert 'id="admin-only"' in form and 'id="purchase-form"' not in form
    token = csrf_of(form)
    before = count(site)
    assert staff.post("/workbench/purchases", data={**FORM, "csrf_token": token}).status_code == 403
    assert count(site) == before


def test_the_form_takes_three_pdfs_only_and_keeps_what_was_typed(site: Flask) -> None:
    admin, before = client(site, "institution_admin"), count(site)
    not_pdf = file_request(admin, [(PDF, "1.pdf"), (PDF, "2.pdf"), (b"\x89PNG\r\n\x1a\n...", "报价3.pdf")])
    html = not_pdf.get_data(as_text=True)
    assert not_pdf.status_code == 400 and "第 3 份报价单不是 PDF 文件" in html and 'value="1290 Infinity II"' in html
    two = file_request(admin, [(PDF, "1.pdf"), (PDF, "2.pdf")])
    assert two.status_code == 400 and "须上传 3 份报价单" in two.get_data(as_text=True)
    price = file_request(admin, price="一百万")
    assert price.status_code == 400 and "拟购价格须为数字" in price.get_data(as_text=True)
    assert count(site) == before


def test_roles_on_every_purchase_route(site: Flask, filed: int) -> None:
    pages = ["/workbench/purchases", "/workbench/purchases/new", f"/workbench/purchases?id={filed}",
             "/console/purchases", f"/console/purchases?id={filed}", "/expert/purchases", f"/expert/purchases/{filed}",
             f"/expert/purchases/{filed}/quotations/1"]
    allowed = {"lab_staff": {"/workbench/purchases", "/workbench/purchases/new", f"/workbench/purchases?id={filed}"},
               "institution_admin": {"/workbench/purchases", "/workbench/purchases/new", f"/workbench/purchases?id={filed}"},
               "platform_admin": {"/console/purchases", f"/console/purchases?id={filed}"},
               "expert-hz": {"/expert/purchases", f"/expert/purchases/{filed}", f"/expert/purchases/{filed}/quotations/1"}}
    anonymous = client(site, "anonymous")
    for page in pages:
        answer = anonymous.get(page)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], page
    for who in ("buyer", "lab_staff", "institution_admin", "platform_admin", "expert-hz"):
        c = client(site, who)
        for page in pages:
            status = c.get(page).status_code
            assert status == (200 if page in allowed.get(who, set()) else 403), (who, page, status)
    # another institution's admin: the workbench is theirs, this request is not (the same 404 as none)
    other = client(site, "hzadmin")
    assert other.get("/workbench/purchases").status_code == 200
    assert f"purchase-{filed}" not in other.get("/workbench/purchases").get_data(as_text=True)
    assert other.get(f"/workbench/purchases?id={filed}").status_code == 404
    assert other.get(f"/workbench/purchases?id={filed}&quotation=1").status_code == 404
    assert other.get("/console/purchases").status_code == 403
    # a request that does not exist is a Chinese page, not JSON, on every desk
    for who, page in (("expert-hz", "/expert/purchases/99999"), ("expert-hz", f"/expert/purchases/{filed}/quotations/7"),
                      ("platform_admin", "/console/purchases?id=99999"), ("platform_admin", "/console/purchases?id=x")):
        missing = client(site, who).get(page)
        assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True), (who, page)
    # forms: the workbench filing and the expert's conclusion refuse everyone else, CSRF token or not
    before = count(site)
    for who in ("buyer", "platform_admin", "expert-hz"):
        c = client(site, who)
        token = csrf_of(c.get("/login").get_data(as_text=True))
        assert c.post("/workbench/purchases", data={**FORM, "csrf_token": token}).status_code == 403, who
    for who in ("buyer", "lab_staff", "institution_admin", "platform_admin"):
        c = client(site, who)
        token = csrf_of(c.get("/login").get_data(as_text=True))
        answer = c.post(f"/expert/purchases/{filed}/conclude",
                        data={"conclusion": "purchase", "comment": "同意。", "csrf_token": token})
        assert answer.status_code == 403, who
    assert count(site) == before


def test_an_expert_concludes_and_one_of_the_requesting_institution_cannot(site: Flask, filed: int) -> None:
    colleague = client(site, "expert-cq")
    assert f"purchase-{filed}" not in colleague.get("/expert/purchases").get_data(as_text=True)
    page = colleague.get(f"/expert/purchases/{filed}").get_data(as_text=True)
    assert 'id="conflict"' in page and 'id="submit-conclusion"' not in page
    refused = colleague.post(f"/expert/purchases/{filed}/conclude",
                             data={"conclusion": "purchase", "comment": "同意购置。", "csrf_token": csrf_of(page)})
    assert refused.status_code == 403 and "须回避" in refused.get_data(as_text=True)

    expert = client(site, "expert-hz")
    home = expert.get("/expert/home").get_data(as_text=True)
    assert "待评议的新购查重申请" in home and 'href="/expert/purchases"' in home
    assert re.search(r"待评议的新购查重申请 <span class=\"badge text-bg-warning\">\d+</span>", home)
    assert f"purchase-{filed}" in expert.get("/expert/purchases").get_data(as_text=True)
    page = expert.get(f"/expert/purchases/{filed}").get_data(as_text=True)
    assert 'id="submit-conclusion"' in page and "报价单 1" in page
    empty = expert.post(f"/expert/purchases/{filed}/conclude",
                        data={"conclusion": "share", "comment": " ", "csrf_token": csrf_of(page)})
    assert empty.status_code == 400 and "请填写评议意见" in empty.get_data(as_text=True)
    done = expert.post(f"/expert/purchases/{filed}/conclude",
                       data={"conclusion": "share", "comment": "本单位现有液相色谱仪利用率仅 9%，应先调剂使用。",
                             "csrf_token": csrf_of(page)})
    assert done.status_code == 302
    shown = expert.get(done.headers["Location"]).get_data(as_text=True)
    assert "不予购置，共享使用已有仪器" in shown and "利用率仅 9%" in shown and 'id="submit-conclusion"' not in shown
    assert f"purchase-{filed}" not in expert.get("/expert/purchases").get_data(as_text=True)
    mine = client(site, "institution_admin").get(f"/workbench/purchases?id={filed}").get_data(as_text=True)
    assert 'id="conclusion"' in mine and "expert-hz老师" in mine
