"""The evaluation's pages as each person meets them: the platform admin opens a round and assigns experts
(never to their own institution), an expert scores only what is assigned (an unassigned institution is
a 404, their own a 403) and signs, the institution admin files the self-report (a non-PDF refused), the
result is published with its chart and files, and every new route refuses the wrong role."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.models import EvaluationRound, EvaluationScore, EvaluationSelfReport, Institution, Role
from tests.manage.evaluation_world import World
from tests.web.conftest import ACCOUNTS, csrf_of, post_form, sign_in

PDF = b"%PDF-1.4\n" + b"1" * 500 + b"\n%%EOF\n"
EXPERT_PASSWORD = "expert-password-1"


@pytest.fixture
def desk(web_app: Flask) -> dict[str, Any]:
    """The demo accounts at 重庆某食品检验研究院 (T-CQ-FOOD), two outside experts and one of T-CQ-FOOD."""
    world = World(web_app)
    with world.session() as session:
        ids = dict(session.execute(select(Institution.code, Institution.id)).all())
    return {"world": world, "ids": ids,
            "expert": world.user(Role.expert, "李专家", username="expert1", password=EXPERT_PASSWORD),
            "expert2": world.user(Role.expert, "赵专家", username="expert2", password=EXPERT_PASSWORD),
            "insider": world.user(Role.expert, "食品院专家", ids["T-CQ-FOOD"], username="insider",
                                  password=EXPERT_PASSWORD)}


def client(app: Flask, who: str) -> FlaskClient:
    c = app.test_client()
    if who in ACCOUNTS:
        return sign_in(c, *ACCOUNTS[who])
    if who in ("expert1", "expert2", "insider"):
        return sign_in(c, who, EXPERT_PASSWORD)
    return c


def open_round(app: Flask, desk: dict[str, Any], budget: str = "200000") -> int:
    admin = client(app, "platform_admin")
    today = desk["world"].today()
    response = post_form(admin, "/console/evaluation", {
        "year": str(today.year - 1), "budget": budget, "self_report_due": (today + timedelta(days=5)).isoformat(),
        "scoring_due": (today + timedelta(days=9)).isoformat(), "appeal_days": "10",
        "institutions": [str(desk["ids"]["T-CQ-FOOD"]), str(desk["ids"]["T-HZ-ATC"])]})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def assign(app: Flask, round_id: int, experts: list[int], institutions: list[int]):  # type: ignore[no-untyped-def]
    return post_form(client(app, "platform_admin"), f"/console/evaluation/{round_id}/assign",
                     {"experts": [str(e) for e in experts], "institutions": [str(i) for i in institutions]},
                     page=f"/console/evaluation/{round_id}", follow_redirects=True)


def scores_form(values: dict[str, tuple[str, str]]) -> dict[str, Any]:
    form: dict[str, Any] = {"indicator": list(values)}
    for key, (points, comment) in values.items():
        form[f"points-{key}"], form[f"comment-{key}"] = points, comment
    return form


GOOD_SCORES = {"management": ("8", "制度健全，执行到位"), "team": ("5", "队伍稳定"), "use_outcomes": ("4.5", "成效一般"),
               "self_reliance": ("7", "有自研设备")}


def test_the_round_from_opening_to_publication_through_the_pages(web_app: Flask, desk: dict[str, Any]) -> None:
    round_id = open_round(web_app, desk)
    food, hz = desk["ids"]["T-CQ-FOOD"], desk["ids"]["T-HZ-ATC"]
    page = assign(web_app, round_id, [desk["expert"], desk["insider"]], [food, hz]).get_data(as_text=True)
    assert "以下专家须回避本单位，未分配：食品院专家 → 重庆某食品检验研究院" in page
    # the institution admin's self-report: a non-PDF is refused and nothing is kept
    labadmin = client(web_app, "institution_admin")
    figures = {"effective_hours": "1200", "external_hours": "300", "instruments_open": "2", "external_income": "5000",
               "summary": "本年度开放共享情况"}
    refused = post_form(labadmin, f"/workbench/evaluation/{round_id}/self-report",
                        {**figures, "files": (io.BytesIO(b"GIF89a not a pdf"), "扫描件.pdf")},
                        content_type="multipart/form-data", page=f"/workbench/evaluation/{round_id}")
    assert refused.status_code == 400 and "附件“扫描件.pdf”不是 PDF 文件" in refused.get_data(as_text=True)
    with desk["world"].session() as session:
        assert session.scalar(select(func.count(EvaluationSelfReport.id))) == 0
    done = post_form(labadmin, f"/workbench/evaluation/{round_id}/self-report",
                     {**figures, "files": (io.BytesIO(PDF), "自评报告.pdf")}, content_type="multipart/form-data",
                     page=f"/workbench/evaluation/{round_id}", follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "自评报告已提交" in html and "自评报告.pdf" in html and "平台无数据" in html  # no machine-hours measured
    # the expert: bad scores refused in Chinese and nothing kept, then scores, then the signature
    expert = client(web_app, "expert1")
    task = f"/expert/evaluation/{round_id}/{food}"
    for bad, message in (("NaN", "不能是 NaN"), ("true", "不是数字"), ("10.5", "不能超过 10")):
        response = post_form(expert, task + "/scores", scores_form({**GOOD_SCORES, "management": (bad, "x")}), page=task)
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    with desk["world"].session() as session:
        assert session.scalar(select(func.count(EvaluationScore.id))) == 0
    saved = post_form(expert, task + "/scores", scores_form(GOOD_SCORES), page=task, follow_redirects=True)
    assert "评分已保存" in saved.get_data(as_text=True)
    unconfirmed = post_form(expert, task + "/sign", {}, page=task)
    assert unconfirmed.status_code == 400 and "请勾选" in unconfirmed.get_data(as_text=True)
    signed = post_form(expert, task + "/sign", {"confirm": "yes"}, page=task, follow_redirects=True)
    assert "已签名确认" in signed.get_data(as_text=True)
    locked = post_form(expert, task + "/scores", scores_form(GOOD_SCORES), page=task)
    assert locked.status_code == 409 and "评分已锁定" in locked.get_data(as_text=True)
    for who in (expert, client(web_app, "insider")):  # 杭州's two experts
        post_form(who, f"/expert/evaluation/{round_id}/{hz}/scores", scores_form(GOOD_SCORES),
                  page=f"/expert/evaluation/{round_id}/{hz}")
        post_form(who, f"/expert/evaluation/{round_id}/{hz}/sign", {"confirm": "yes"},
                  page=f"/expert/evaluation/{round_id}/{hz}")
    # the admin previews, then publishes; the chart, the table and the files follow
    admin = client(web_app, "platform_admin")
    preview = admin.get(f"/console/evaluation/{round_id}/institutions/{food}").get_data(as_text=True)
    assert "预览（未发布）" in preview and "李专家：8 分 — 制度健全，执行到位" in preview and "gap-flag" in preview
    assert "发布结果" in admin.get(f"/console/evaluation/{round_id}/results").get_data(as_text=True)
    published = post_form(admin, f"/console/evaluation/{round_id}/publish", {},
                          page=f"/console/evaluation/{round_id}/results", follow_redirects=True)
    html = published.get_data(as_text=True)
    assert "结果已发布，已通知 2 个参评机构" in html and "全部机构评为较差，本轮不发放补助经费。" in html
    option = json.loads(re.search(r'<script type="application/json" id="results-option">(.*?)</script>', html, re.S).group(1))
    assert [s["name"] for s in option["series"]] == ["组织管理", "运行使用", "共享服务"]
    xlsx = admin.get(f"/console/evaluation/{round_id}/results.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    strings = zipfile.ZipFile(io.BytesIO(xlsx.data)).read("xl/sharedStrings.xml").decode()
    assert "重庆某食品检验研究院" in strings and "较差" in strings and "须整改一年" in strings
    pdf = admin.get(f"/console/evaluation/{round_id}/institutions/{food}/sheet.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # the institution sees its result, its anonymous sheet and can download it
    mine = labadmin.get(f"/workbench/evaluation/{round_id}").get_data(as_text=True)
    # both its instruments are open (8 of 8 points) + the one expert's 8 + 5 + 4.5 + 7
    assert "32.50" in mine and "专家 1" in mine and "李专家" not in mine and "须整改一年" in mine
    sheet = labadmin.get(f"/workbench/evaluation/{round_id}/sheet.xlsx")
    assert sheet.status_code == 200 and "李专家" not in zipfile.ZipFile(io.BytesIO(sheet.data)).read(
        "xl/sharedStrings.xml").decode()
    attachment = labadmin.get(f"/workbench/evaluation/{round_id}/attachments/1")
    assert attachment.status_code == 200 and attachment.data == PDF
    appealed = post_form(labadmin, f"/workbench/evaluation/{round_id}/appeal", {"reason": "专家未看到我院的共享管理办法附件。"},
                         page=f"/workbench/evaluation/{round_id}", follow_redirects=True)
    assert "申诉已提交" in appealed.get_data(as_text=True)
    appeals_page = admin.get(f"/console/evaluation/{round_id}/appeals").get_data(as_text=True)
    assert "专家未看到我院的共享管理办法附件。" in appeals_page and "受理：重新开放给专家复核" in appeals_page


def test_an_expert_sees_only_assigned_institutions_and_never_their_own(web_app: Flask, desk: dict[str, Any]) -> None:
    round_id = open_round(web_app, desk)
    food, hz = desk["ids"]["T-CQ-FOOD"], desk["ids"]["T-HZ-ATC"]
    assign(web_app, round_id, [desk["expert"]], [hz])
    expert = client(web_app, "expert1")
    listing = expert.get("/expert/evaluation").get_data(as_text=True)
    assert "杭州某大学分析测试中心" in listing and "重庆某食品检验研究院" not in listing
    unassigned = expert.get(f"/expert/evaluation/{round_id}/{food}")
    assert unassigned.status_code == 404 and "没有分配给您的这项评审" in unassigned.get_data(as_text=True)
    assert expert.get(f"/expert/evaluation/{round_id}/{food}/attachments/1").status_code == 404
    refused = post_form(expert, f"/expert/evaluation/{round_id}/{food}/scores", scores_form(GOOD_SCORES),
                        page="/expert/evaluation")
    assert refused.status_code == 404
    insider = client(web_app, "insider")
    own = insider.get(f"/expert/evaluation/{round_id}/{food}")
    assert own.status_code == 403 and "须回避，不能评审本单位" in own.get_data(as_text=True)
    single = assign(web_app, round_id, [desk["insider"]], [food]).get_data(as_text=True)
    assert "专家食品院专家属于重庆某食品检验研究院，须回避，不能评审本单位。" in single
    home = expert.get("/expert/home").get_data(as_text=True)
    assert "年度评价：待评分的机构" in home and re.search(r"待评分的机构 <span[^>]*>1</span>", home)


def test_a_bad_round_is_refused_on_the_page_and_nothing_is_opened(web_app: Flask, desk: dict[str, Any]) -> None:
    admin = client(web_app, "platform_admin")
    response = post_form(admin, "/console/evaluation", {"year": "2025", "budget": "NaN", "self_report_due": "2026-01-01",
                                                        "scoring_due": "2026-02-01", "appeal_days": "10",
                                                        "institutions": [str(desk["ids"]["T-CQ-FOOD"])]})
    assert response.status_code == 400 and "补助经费预算（元）须为有限的数字" in response.get_data(as_text=True)
    with desk["world"].session() as session:
        assert session.scalar(select(func.count(EvaluationRound.id))) == 0


def _routes(app: Flask, prefix: str) -> tuple[list[str], list[str]]:
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(prefix) and "evaluation" in r.rule]
    return sorted({r.rule for r in rules if "GET" in r.methods}), sorted({r.rule for r in rules if "POST" in r.methods})


def test_every_new_route_refuses_the_wrong_role(web_app: Flask, desk: dict[str, Any]) -> None:
    from tests.manage.evaluation_world import published_rounds

    ids = published_rounds(web_app, "T-CQ-FOOD", "T-CD-MAT")["A"]

    def fill(rule: str) -> str:
        for name, value in ids.items():
            rule = rule.replace(f"<int:{name}>", str(value))
        return rule
    clients = {who: client(web_app, who) for who in ("anonymous", "lab_staff", "institution_admin", "platform_admin",
                                                     "expert1")}
    tokens = {who: csrf_of(c.get("/login").get_data(as_text=True)) for who, c in clients.items()}
    allowed = {"/console": {"platform_admin"}, "/workbench": {"lab_staff", "institution_admin"}, "/expert": {"expert1"}}
    admin_only_posts = {"/workbench/evaluation/<int:round_id>/self-report", "/workbench/evaluation/<int:round_id>/appeal"}
    checked = 0
    for prefix, who_may in allowed.items():
        gets, posts = _routes(web_app, prefix)
        assert gets, prefix
        for rule in gets + posts:
            method = "get" if rule in gets else "post"
            for who, c in clients.items():
                response = getattr(c, method)(fill(rule), data={"csrf_token": tokens[who]} if method == "post" else None)
                if who == "anonymous":
                    assert response.status_code == 302 and "/login" in response.headers["Location"], (rule, who)
                elif who not in who_may or (method == "post" and rule in admin_only_posts and who == "lab_staff"):
                    assert response.status_code == 403, (rule, who, response.status_code)
                checked += 1
    assert checked >= 5 * 25
