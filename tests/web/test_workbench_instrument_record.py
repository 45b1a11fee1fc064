"""The instrument page's national record as lab staff meet it: the fields in Chinese, and the photo an
institution's own staff upload (a real JPEG of at most 1 MB) and only they see."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from core.db import unit_of_work
from core.services.people.users import create_staff
from tests.conftest import MINI_CATALOG, cli
from tests.web.conftest import csrf_of, sign_in

HPLC = "T-CQ-FOOD-0001"
PAGE = f"/workbench/instruments/{HPLC}"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def upload(client: FlaskClient, data: bytes, filename: str = "仪器.jpg"):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get(PAGE).get_data(as_text=True))
    return client.post(f"{PAGE}/photo", data={"csrf_token": token, "photo": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", follow_redirects=True)


@pytest.fixture
def recorded(web_app: Flask, tmp_path: Path) -> Flask:
    first = json.loads(MINI_CATALOG.read_text("utf-8").splitlines()[0])
    first["instrument"].update({"classification_code": "0105", "acquisition": "购置", "run_status": "偶有故障",
                                "share_mode": "internal", "value_wan": 42, "in_service_date": "2019-07-15",
                                "disciplines": ["化学"], "customs_supervised": True, "province": "重庆市",
                                "city": "重庆", "county": "渝北区"})
    path = tmp_path / "record.jsonl"
    path.write_text(json.dumps(first, ensure_ascii=False) + "\n", "utf-8")
    assert "0 rejected" in cli(web_app, "catalog", "import", "--approve", str(path)).stdout
    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        create_staff(session, "hz-lab", "password-hz-1", "T-HZ-ATC")
    return web_app


def test_the_record_is_shown_in_chinese(recorded: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("lab_staff").get(PAGE).get_data(as_text=True)
    record = html[html.index('id="record-fields"'):]
    for shown in ("平台编号", "50-TCQFOOD-0105-0001", "0105 分析仪器 / 色谱仪器", "购置", "偶有故障", "内部共享",
                  "42.00 万元（420,000.00 元）", "2019-07-15", "渝北区", "海关监管"):
        assert shown in record, shown
    assert "尚未上传照片" in html


def test_a_jpeg_is_accepted_and_shown_to_the_institution_s_staff(
        recorded: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    staff, photo = client_as("lab_staff"), jpeg()
    page = upload(staff, photo).get_data(as_text=True)
    assert "仪器照片已上传" in page and 'id="instrument-photo"' in page and "尚未上传照片" not in page
    served = staff.get(f"{PAGE}/photo")
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.get_data() == photo
    assert "private" in served.headers["Cache-Control"]
    stored = list((recorded.extensions["platform"].settings.data_dir / "photos").rglob("*.jpg"))
    assert [p.read_bytes() for p in stored] == [photo]
    # the institution admin sees it too, and a new photo replaces the old file
    admin = client_as("institution_admin")
    assert admin.get(f"{PAGE}/photo").get_data() == photo
    newer = jpeg()[:-2] + b"\x00\xff\xd9"
    assert "仪器照片已上传" in upload(admin, newer).get_data(as_text=True)
    assert staff.get(f"{PAGE}/photo").get_data() == newer
    assert [p.read_bytes() for p in (recorded.extensions["platform"].settings.data_dir / "photos").rglob("*.jpg")] == [newer]


def test_a_png_named_jpg_and_a_photo_over_1_mb_are_refused(recorded: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    staff = client_as("lab_staff")
    png = io.BytesIO()
    Image.new("RGB", (8, 6)).save(png, "PNG")
    refused = upload(staff, png.getvalue(), "照片.jpg").get_data(as_text=True)
    assert "仪器照片须为 JPEG 格式" in refused and "尚未上传照片" in refused
    big = jpeg() + b"\x00" * (1024 * 1024)
    assert "仪器照片不能超过 1 MB" in upload(staff, big).get_data(as_text=True)
    assert staff.get(f"{PAGE}/photo").mimetype == "image/svg+xml"  # still the 暂无照片 placeholder: nothing stored
    assert not list((recorded.extensions["platform"].settings.data_dir / "photos").rglob("*.jpg"))


def test_another_institution_s_staff_get_404(recorded: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    assert "仪器照片已上传" in upload(client_as("lab_staff"), jpeg()).get_data(as_text=True)
    other = sign_in(recorded.test_client(), "hz-lab", "password-hz-1")
    assert other.get(f"{PAGE}/photo").status_code == 404
    token = csrf_of(other.get("/workbench/instruments").get_data(as_text=True))
    posted = other.post(f"{PAGE}/photo", data={"csrf_token": token, "photo": (io.BytesIO(jpeg()), "x.jpg")},
                        content_type="multipart/form-data")
    assert posted.status_code == 404
    assert client_as("platform_admin").get(f"{PAGE}/photo").status_code == 403  # the lab's page, not the console's
