"""数据报送 on a hand-made platform: the instrument record in Chinese with its platform code, and the orders
settled in a period of local days as 服务记录 (amount to the cent, times with their offset in JSON and as
Shanghai wall clock in CSV, the rating in words), from the command line and the admin's endpoint."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.models import (
    DeliveryMode, Instrument, Order, OrderEvent, OrderStatus, Payment, Rating, Refund, Role, Service, User,
)
from tests.conftest import MINI_CATALOG, build_app, cli, stop_app
from tests.orders.conftest import Market, build_market

TZ = ZoneInfo("Asia/Shanghai")
HPLC = "T-CQ-FOOD-0001"
URL = "/api/v1/admin/exports/national"


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=TZ).astimezone(timezone.utc)


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Market]:
    app = build_app(tmp_path, RATE_LIMIT_LOGIN_PER_IP="0")
    m = build_market(app)
    # the HPLC gets its national record (the rest of its line as the mini catalog has it)
    first = json.loads(MINI_CATALOG.read_text("utf-8").splitlines()[0])
    first["instrument"].update({
        "classification_code": "0105", "acquisition": "purchase", "country": "美国", "value_wan": 42,
        "in_service_date": "2019-07-15", "disciplines": ["化学", "食品科学技术"], "run_status": "remote",
        "share_mode": "external", "fee_standard": "300 元/样", "customs_supervised": True, "province": "重庆市",
        "city": "重庆", "county": "渝北区", "contact_name": "王老师", "contact_phone": "023-60000000"})
    second = json.loads(MINI_CATALOG.read_text("utf-8").splitlines()[1])
    second["instrument"].update({"classification_code": "0102", "in_service_date": "2025-06-01"})  # after March
    record = tmp_path / "record.jsonl"
    record.write_text(json.dumps(first, ensure_ascii=False) + "\n" + json.dumps(second, ensure_ascii=False) + "\n", "utf-8")
    assert "0 rejected" in cli(app, "catalog", "import", "--approve", str(record)).stdout
    _settled_orders(app)
    yield m
    stop_app(app)


def _settled(session: Any, number: str, customer: User, service: Service, instrument: Instrument, *, mode: DeliveryMode,
             total_cents: int, settled_at: datetime, samples: int = 1, slot: tuple[datetime, datetime] | None = None,
             testing_at: datetime | None = None, stars: int | None = None) -> Order:
    order = Order(number=number, user_id=customer.id, service_id=service.id, instrument_id=instrument.id,
                  institution_id=instrument.institution_id, samples=samples, sample_description="辣椒粉",
                  company_name="某食品有限公司", contact_name="张三", contact_phone="13800000000", mode=mode,
                  slot_start=slot[0] if slot else None, slot_end=slot[1] if slot else None,
                  unit_price_cents=total_cents, total_cents=total_cents, status=OrderStatus.settled)
    session.add(order)
    session.flush()
    if testing_at:
        session.add(OrderEvent(order_id=order.id, actor_role="lab_staff", from_status="samples_received",
                               to_status="testing", at=testing_at))
    session.add(OrderEvent(order_id=order.id, actor_role="system", from_status="confirmed", to_status="settled",
                           at=settled_at))
    if stars:
        session.add(Rating(order_id=order.id, service_id=service.id, user_id=customer.id, stars=stars))
    return order


def _settled_orders(app: Any) -> None:
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        customer = s.scalar(select(User).where(User.role == Role.enterprise))
        hplc = s.scalar(select(Instrument).where(Instrument.code == HPLC))
        service = s.scalar(select(Service).where(Service.code == "T-CQ-S001"))
        # a slot at the lab, 1.5 h, settled in the last minutes of 31 March, Shanghai time, rated 4
        _settled(s, "NE-VISIT", customer, service, hplc, mode=DeliveryMode.visit, total_cents=123456,
                 slot=(local(3, 3, 9, 30), local(3, 3, 11)), settled_at=local(3, 31, 23, 50), stars=4)
        # samples sent in, settled five minutes into 1 March (still 28 February in UTC), not rated;
        # a dispute gave 100.01 back
        mailed = _settled(s, "NE-MAIL", customer, service, hplc, mode=DeliveryMode.mail, total_cents=60000, samples=3,
                          testing_at=local(2, 27, 10), settled_at=local(3, 1, 0, 5))
        payment = Payment(order_id=mailed.id, provider="sandbox", out_trade_no="NE-MAIL-1", amount_cents=60000,
                          status="paid", refunded_cents=10001)
        s.add(payment)
        s.flush()
        s.add(Refund(order_id=mailed.id, payment_id=payment.id, out_refund_no="NE-MAIL-R1", amount_cents=10001,
                     reason="部分退款", status="succeeded"))
        # settled ten minutes into 1 April Shanghai time: 31 March in UTC, but not March here
        _settled(s, "NE-APRIL", customer, service, hplc, mode=DeliveryMode.mail, total_cents=20000,
                 settled_at=local(4, 1, 0, 10), stars=1)
        # the end of February Shanghai time: outside a period that starts on 1 March
        _settled(s, "NE-FEB", customer, service, hplc, mode=DeliveryMode.mail, total_cents=20000,
                 settled_at=local(2, 28, 23, 55))


def _march(market: Market, what: str, fmt: str = "json", who: dict[str, str] | None = None) -> Any:
    return market.client.get(f"{URL}?from=2025-03-01&to=2025-03-31&what={what}&format={fmt}",
                             headers=market.admin if who is None else who)


def test_orders_settled_in_the_local_period_are_service_records_with_amount_time_and_rating(market: Market) -> None:
    answer = _march(market, "services")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["period"] == {"from": "2025-03-01", "to": "2025-03-31"} and body["count"] == 2
    items = {i["order_number"]: i for i in body["items"]}
    assert set(items) == {"NE-MAIL", "NE-VISIT"}  # not NE-FEB (28 Feb local) nor NE-APRIL (1 Apr local)
    visit, mail = items["NE-VISIT"], items["NE-MAIL"]
    assert visit["amount_cny"] == 1234.56 and mail["amount_cny"] == 499.99  # less the 100.01 refunded
    assert (visit["way"], visit["quantity"], visit["quantity_unit"]) == ("占用", 1.5, "小时")
    assert (mail["way"], mail["quantity"], mail["quantity_unit"]) == ("委托", 3, "样")
    assert visit["service_time"] == "2025-03-03T09:30:00+08:00"  # the slot's start
    assert mail["service_time"] == "2025-02-27T10:00:00+08:00"  # testing started
    assert visit["settled_at"] == "2025-03-31T23:50:00+08:00" and mail["settled_at"] == "2025-03-01T00:05:00+08:00"
    assert visit["rating"] == "满意" and mail["rating"] == ""
    assert visit["service"] == "食品中苏丹红I-IV号的测定" and visit["institution"] == "重庆某食品检验研究院"
    assert visit["platform_code"] == "50-TCQFOOD-0105-0001"
    april = market.client.get(f"{URL}?from=2025-04-01&to=2025-04-01&what=services", headers=market.admin).get_json()
    assert [(i["order_number"], i["rating"]) for i in april["items"]] == [("NE-APRIL", "极差")]


def test_the_csv_opens_in_excel_with_chinese_headers_and_local_times(market: Market) -> None:
    answer = _march(market, "services", "csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "national-services-2025-03-01-2025-03-31.csv" in answer.headers["Content-Disposition"]
    raw = answer.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0])[:3] == ["订单号", "仪器平台编号", "仪器名称"]
    visit = next(r for r in rows if r["订单号"] == "NE-VISIT")
    assert visit["金额（元）"] == "1234.56" and visit["服务方式"] == "占用" and visit["服务量"] == "1.50"
    assert visit["服务时间"] == "2025-03-03 09:30" and visit["结算时间"] == "2025-03-31 23:50"
    assert visit["用户评价"] == "满意" and visit["服务内容"] == "食品中苏丹红I-IV号的测定"


def test_instruments_are_the_national_record_in_chinese(market: Market) -> None:
    body = _march(market, "instruments").get_json()
    labels = {c["key"]: c["label"] for c in body["columns"]}
    assert labels["run_status"] == "运行状态" and labels["platform_code"] == "平台编号"
    items = {i["code"]: i for i in body["items"]}
    assert "T-CQ-FOOD-0002" not in items  # in service only from June 2025
    hplc = items[HPLC]
    assert hplc["platform_code"] == "50-TCQFOOD-0105-0001" and hplc["institution"] == "重庆某食品检验研究院"
    assert (hplc["classification"], hplc["acquisition"], hplc["run_status"], hplc["share_mode"]) == (
        "分析仪器 / 色谱仪器", "购置", "远程服务中", "外部共享")
    assert (hplc["customs_supervised"], hplc["value_wan"], hplc["in_service_date"]) == ("是", 42.0, "2019-07-15")
    assert hplc["disciplines"] == ["化学", "食品科学技术"]
    rows = list(csv.reader(io.StringIO(_march(market, "instruments", "csv").get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["平台编号", "仪器编号", "仪器名称"]
    row = dict(zip(rows[0], next(r for r in rows if r[1] == HPLC)))
    assert row["运行状态"] == "远程服务中" and row["主要学科领域"] == "化学；食品科学技术" and row["原值（万元）"] == "42.00"


def test_only_platform_admins_may_export_and_bad_periods_are_refused_in_chinese(market: Market) -> None:
    anonymous = market.client.get(f"{URL}?from=2025-03-01&to=2025-03-31&what=services")
    assert anonymous.status_code == 401 and anonymous.get_json()["error"]["code"] == "unauthorized"
    staff = _march(market, "services", who=market.food_lab)
    assert staff.status_code == 403 and "平台管理员" in staff.get_json()["error"]["message"]
    bad_day = market.client.get(f"{URL}?from=2025-02-30&to=2025-03-31&what=services", headers=market.admin)
    assert bad_day.status_code == 400 and "日期" in bad_day.get_json()["error"]["message"]
    backwards = market.client.get(f"{URL}?from=2025-03-31&to=2025-03-01&what=services", headers=market.admin)
    assert backwards.status_code == 400
    assert backwards.get_json()["error"] == {"code": "invalid_period", "message": "结束日期（to）不能早于开始日期（from）。",
                                             "details": {}}
    unknown = market.client.get(f"{URL}?from=2025-03-01&to=2025-03-31&what=orders", headers=market.admin)
    assert unknown.status_code == 400 and "what" in unknown.get_json()["error"]["message"]


def test_the_command_line_writes_the_same_export(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "services.csv"
    result = cli(market.app, "data", "national-export", "--from", "2025-03-01", "--to", "2025-03-31",
                 "--what", "services", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "已导出 2 条服务记录" in result.stderr
    assert out.read_bytes() == _march(market, "services", "csv").get_data()
    printed = cli(market.app, "data", "national-export", "--from", "2025-03-01", "--to", "2025-03-31",
                  "--what", "instruments")
    assert printed.exit_code == 0 and json.loads(printed.stdout)["items"][0]["institution"]
    backwards = cli(market.app, "data", "national-export", "--from", "2025-03-31", "--to", "2025-03-01",
                    "--what", "services")
    assert backwards.exit_code == 1 and "结束日期不能早于开始日期" in backwards.stderr
    bad = cli(market.app, "data", "national-export", "--from", "2025/03/01", "--to", "2025-03-31", "--what", "services")
    assert bad.exit_code == 2 and "不是日期" in bad.stderr
