"""The national instrument record in the catalog import and export: the new keys go in (slugs or Chinese
labels), old files import as before, every bad value is a Chinese reason with nothing written, an export
imports back to the same record, and the platform code follows its rule, stays put and never repeats."""
from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.db import take_write_lock, unit_of_work
from core.models import Institution, Instrument
from core.services.catalog.importer import import_catalog
from tests.conftest import MINI_CATALOG, cli

RECORD = {
    "classification_code": "010501", "acquisition": "购置", "country": "美国", "value_wan": 42,
    "in_service_date": "2019-07-15", "disciplines": ["化学", "食品科学技术"], "run_status": "正常",
    "share_mode": "external", "fee_standard": "300 元/样，机时 200 元/小时", "customs_supervised": True,
    "province": "重庆市", "city": "重庆", "county": "沙坪坝区", "contact_name": "周老师",
    "contact_phone": "023-65102837",
}


def line(instrument: str = "X-1", institution: str = "X", place: str = "重庆", **fields: Any) -> str:
    """A line of one instrument with one service; `place` is the institution's city."""
    return json.dumps({
        "institution": {"code": institution, "name": "某检测所", "city": place},
        "instrument": {"code": instrument, "name": "高效液相色谱仪", **fields},
        "services": [{"code": f"{instrument}-S1", "name": "某检测", "price_cny": 100}],
    }, ensure_ascii=False)


def stored(app: Flask, code: str = "X-1") -> dict[str, Any]:
    with unit_of_work(app.extensions["platform"].session_factory, write=False) as s:
        ins = s.scalar(select(Instrument).where(Instrument.code == code))
        assert ins is not None, f"instrument {code} was not stored"
        return {c.name: getattr(ins, c.name) for c in Instrument.__table__.columns}


def imported(app: Flask, write_lines: Callable[..., Path], *lines: str) -> Any:
    result = cli(app, "catalog", "import", "--approve", str(write_lines(*lines)))
    assert result.exit_code in (0, 2), result.output
    return result


def test_the_record_keys_go_in_as_slugs_whether_written_as_slug_or_chinese_label(
        app: Flask, write_lines: Callable[..., Path]) -> None:
    result = imported(app, write_lines, line(**RECORD))
    assert "0 rejected" in result.stdout
    record = stored(app)
    assert record["classification_code"] == "010501"
    assert (record["acquisition"], record["run_status"], record["share_mode"]) == ("purchase", "normal", "external")
    assert record["value_cny"] == Decimal("420000.00")  # 42 万元
    assert record["in_service_date"].isoformat() == "2019-07-15"
    assert record["disciplines"] == ["化学", "食品科学技术"]
    assert record["customs_supervised"] is True and record["open_for_sharing"] is True
    assert (record["province"], record["city"], record["county"]) == ("重庆市", "重庆", "沙坪坝区")
    assert (record["contact_name"], record["contact_phone"]) == ("周老师", "023-65102837")
    # 重庆 is 50 in GB/T 2260, the institution X, the 中类 0105, the first of its kind
    assert record["platform_code"] == "50-X-0105-0001"


def test_an_old_file_imports_as_before_and_leaves_a_record_alone(app: Flask, write_lines: Callable[..., Path]) -> None:
    result = cli(app, "catalog", "import", "--approve", str(MINI_CATALOG))
    assert "services 10 created" in result.stdout and "0 rejected" in result.stdout
    first = json.loads(MINI_CATALOG.read_text("utf-8").splitlines()[0])["instrument"]
    record = stored(app, first["code"])
    assert (record["name"], record["model"], record["value_cny"]) == (first["name"], first["model"], Decimal(first["value_cny"]))
    assert record["platform_code"] is None and record["classification_code"] is None
    assert record["share_mode"] is None and record["disciplines"] == [] and record["customs_supervised"] is False
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).stdout.count("0 rejected") == 1

    # a record filled in since: an old-format line (none of its keys) does not wipe it
    imported(app, write_lines, line(**RECORD))
    again = imported(app, write_lines, line(value_cny=420000))
    assert "instruments 0/0/1" in again.stdout
    assert stored(app)["run_status"] == "normal" and stored(app)["platform_code"] == "50-X-0105-0001"


BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"classification_code": "0199"}, "instrument.classification_code: 仪器分类编码 '0199' 不在分类表中"),
    ({"classification_code": 105}, "instrument.classification_code: 仪器分类编码须写成文字"),
    ({"acquisition": "买的"}, "instrument.acquisition: 仪器来源须为以下之一：购置（purchase）"),
    ({"run_status": "broken"}, "instrument.run_status: 运行状态须为以下之一：正常（normal）"),
    ({"share_mode": "公开"}, "instrument.share_mode: 共享模式须为以下之一：内部共享（internal）"),
    ({"value_wan": True}, "instrument.value_wan: 原值（万元）须为数字"),
    ({"value_wan": "42万"}, "instrument.value_wan: 原值（万元）须为数字"),
    ({"value_wan": 42.125}, "instrument.value_wan: 原值（万元）最多保留两位小数"),
    ({"value_wan": -1}, "instrument.value_wan: 原值（万元）不能为负数"),
    ({"value_wan": 42.5, "value_cny": 420000}, "instrument: 原值不一致"),
    ({"in_service_date": "2019/07/15"}, "instrument.in_service_date: 启用日期须为日期，写作 YYYY-MM-DD"),
    ({"in_service_date": "2019-02-30"}, "instrument.in_service_date: 启用日期 2019-02-30 不是存在的日期"),
    ({"disciplines": ["化学", "物理学", "生物学", "材料科学", "地球科学"]}, "instrument.disciplines: 主要学科领域最多 4 项"),
    ({"disciplines": ["学" * 51]}, "instrument.disciplines: 主要学科领域每项最多 50 个字"),
    ({"customs_supervised": 1}, "instrument.customs_supervised: 海关监管须为 true 或 false"),
    ({"customs_supervised": "是"}, "instrument.customs_supervised: 海关监管须为 true 或 false"),
    ({"fee_standard": "元" * 501}, "instrument.fee_standard: 参考收费标准最多 500 个字"),
    ({"specs": "指" * 501}, "instrument.specs: 主要技术指标最多 500 个字"),
    ({"functions": "能" * 301}, "instrument.functions: 主要功能最多 300 个字"),
    ({"contact_phone": "周老师的手机"}, "instrument.contact_phone: 联系电话只能由数字"),
    ({"province": 50}, "instrument.province: 所在省份须为文字"),
    ({"share_mode": "none", "open_for_sharing": True}, "instrument: 共享模式为“不共享”时 open_for_sharing 应为 false"),
    ({"platform_code": "CQ-0105-1"}, "instrument.platform_code: 平台编号须为 PP-机构-分类-顺序号 的形式"),
]


def test_each_bad_value_is_a_chinese_reason_naming_line_and_field_and_nothing_of_it_is_written(
        app: Flask, write_lines: Callable[..., Path]) -> None:
    lines = [line(f"BAD-{i}", institution=f"BAD-INST-{i}", **fields) for i, (fields, _) in enumerate(BAD_VALUES)]
    # NaN and Infinity are JSON's extensions Python reads: not amounts either
    lines.append(line("BAD-NAN", institution="BAD-INST-NAN").replace('"name": "高效液相色谱仪"',
                                                                     '"name": "高效液相色谱仪", "value_wan": NaN'))
    lines.append(line("BAD-INF", institution="BAD-INST-INF").replace('"name": "高效液相色谱仪"',
                                                                     '"name": "高效液相色谱仪", "value_wan": Infinity'))
    result = cli(app, "catalog", "import", "--approve", str(write_lines(*lines)))
    assert result.exit_code == 2  # every line refused
    for number, (_, reason) in enumerate(BAD_VALUES, start=1):
        assert f"line {number}: rejected: {reason}" in result.stderr
    assert f"line {len(BAD_VALUES) + 1}: rejected: instrument.value_wan: 原值（万元）须为有限的数字" in result.stderr
    assert f"line {len(BAD_VALUES) + 2}: rejected: instrument.value_wan: 原值（万元）须为有限的数字" in result.stderr
    assert f"{len(lines)} rejected" in result.stdout
    with unit_of_work(app.extensions["platform"].session_factory, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Instrument)) == 0
        assert s.scalar(select(func.count()).select_from(Institution)) == 0


def test_share_mode_and_open_for_sharing_follow_each_other(app: Flask, write_lines: Callable[..., Path]) -> None:
    imported(app, write_lines, line("A-1", share_mode="不共享"), line("A-2", open_for_sharing=False),
             line("A-3", share_mode="internal"), line("A-4"))
    assert stored(app, "A-1")["open_for_sharing"] is False  # 不共享: its listings leave the public catalog
    assert stored(app, "A-2")["share_mode"] == "none"
    assert stored(app, "A-3")["open_for_sharing"] is True
    assert stored(app, "A-4")["share_mode"] is None and stored(app, "A-4")["open_for_sharing"] is True
    # opening an instrument recorded as 不共享 makes it 外部共享
    imported(app, write_lines, line("A-1", open_for_sharing=True))
    assert (stored(app, "A-1")["share_mode"], stored(app, "A-1")["open_for_sharing"]) == ("external", True)
    assert app.test_client().get("/api/v1/instruments/A-2").status_code == 404
    assert app.test_client().get("/api/v1/instruments/A-1").status_code == 200


def test_export_then_import_gives_the_same_record_here_and_in_a_fresh_database(
        app: Flask, app_factory: Callable[..., Flask], tmp_path: Path, write_lines: Callable[..., Path]) -> None:
    imported(app, write_lines, line(**RECORD), line("X-2", **{**RECORD, "value_wan": 38.5, "share_mode": "none",
                                                              "customs_supervised": False, "disciplines": []}))
    out = tmp_path / "export.jsonl"
    assert cli(app, "catalog", "export", "-o", str(out)).exit_code == 0
    exported = [json.loads(l)["instrument"] for l in out.read_text("utf-8").splitlines()]
    assert exported[0] | {"platform_code": "50-X-0105-0001", "value_wan": 42, "run_status": "normal",
                          "acquisition": "purchase", "share_mode": "external", "customs_supervised": True} == exported[0]
    assert exported[1]["share_mode"] == "none" and exported[1]["open_for_sharing"] is False
    assert "customs_supervised" not in exported[1] and exported[1]["value_wan"] == 38.5

    assert "instruments 0/0/2" in cli(app, "catalog", "import", "--approve", str(out)).stdout  # the same database: nothing changes
    fresh = app_factory(tmp_path / "fresh")
    assert "0 rejected" in cli(fresh, "catalog", "import", "--approve", str(out)).stdout
    for code in ("X-1", "X-2"):
        before, after = stored(app, code), stored(fresh, code)
        for volatile in ("id", "institution_id", "created_at", "updated_at", "calendar_feed_secret"):
            before.pop(volatile), after.pop(volatile)
        assert after == before


@pytest.mark.parametrize("institution, place, fields, expected", [
    ("CQ-ATC", "重庆", {"classification_code": "0102"}, "50-CQATC-0102-0001"),
    ("HZ-FDA", "杭州", {"classification_code": "0105"}, "33-HZFDA-0105-0001"),  # the institution's city
    ("X", "重庆", {"classification_code": "0105", "province": "浙江省"}, "33-X-0105-0001"),  # the province first
    ("X", "某镇", {"classification_code": "0101", "city": "成都市"}, "51-X-0101-0001"),  # then the instrument's city
    ("X", "某镇", {"classification_code": "0300"}, "00-X-0300-0001"),  # nowhere known
    ("t-cq.food/2", "重庆", {"classification_code": "010299"}, "50-TCQFOOD2-0102-0001"),  # ASCII letters and digits
])
def test_the_platform_code_follows_its_rule(app: Flask, write_lines: Callable[..., Path], institution: str, place: str,
                                            fields: dict[str, Any], expected: str) -> None:
    imported(app, write_lines, line("I-1", institution=institution, place=place, **fields))
    assert stored(app, "I-1")["platform_code"] == expected


def test_an_institution_code_without_ascii_or_too_long_uses_its_number(app: Flask, write_lines: Callable[..., Path]) -> None:
    imported(app, write_lines, line("I-1", institution="重庆检测院", classification_code="0105"),
             line("I-2", institution="A-VERY-LONG-INSTITUTION-CODE", classification_code="0105"))
    with unit_of_work(app.extensions["platform"].session_factory, write=False) as s:
        ids = dict(s.execute(select(Institution.code, Institution.id)).all())
    assert stored(app, "I-1")["platform_code"] == f"50-N{ids['重庆检测院']:06d}-0105-0001"
    assert stored(app, "I-2")["platform_code"] == f"50-N{ids['A-VERY-LONG-INSTITUTION-CODE']:06d}-0105-0001"


def test_the_code_is_given_once_when_a_classification_arrives_and_never_changes(
        app: Flask, write_lines: Callable[..., Path]) -> None:
    imported(app, write_lines, line())
    assert stored(app)["platform_code"] is None  # no classification, no code
    first = imported(app, write_lines, line(classification_code="0105"))
    assert "instruments 0/1/0" in first.stdout
    assert stored(app)["platform_code"] == "50-X-0105-0001"
    # reclassified and moved: the code a report already carries stays the instrument's
    imported(app, write_lines, line(classification_code="0102", province="四川省"))
    assert stored(app)["classification_code"] == "0102" and stored(app)["platform_code"] == "50-X-0105-0001"
    refused = imported(app, write_lines, line(platform_code="50-X-0105-0009"))
    assert "line 1: rejected: instrument.platform_code: 平台编号一经分配不能更改" in refused.stderr
    assert stored(app)["platform_code"] == "50-X-0105-0001"


def test_instruments_of_one_institution_and_class_get_the_next_numbers(app: Flask, write_lines: Callable[..., Path]) -> None:
    imported(app, write_lines, *(line(f"X-{n}", classification_code="0105") for n in (1, 2)),
             line("X-3", classification_code="0102"))
    codes = [stored(app, f"X-{n}")["platform_code"] for n in (1, 2, 3)]
    assert codes == ["50-X-0105-0001", "50-X-0105-0002", "50-X-0102-0001"]
    taken = imported(app, write_lines, line("X-4", platform_code="50-X-0105-0002"))
    assert "instrument.platform_code: 平台编号 50-X-0105-0002 已属于仪器 X-2" in taken.stderr


def test_two_imports_at_once_do_not_give_one_code_twice(app: Flask, write_lines: Callable[..., Path]) -> None:
    """The first import holds its transaction open while the second one runs; the second must neither
    fail nor reuse the first one's number (PostgreSQL: the unique constraint refuses it and it asks again)."""
    imported(app, write_lines, line("X-1", classification_code="0105"))
    factory = app.extensions["platform"].session_factory
    first_written, release = threading.Event(), threading.Event()
    reports: dict[str, Any] = {}

    def run(name: str, code: str, hold: bool) -> None:
        session = factory()
        try:
            take_write_lock(session)
            reports[name] = import_catalog(session, [line(code, classification_code="0105")])
            if hold:
                first_written.set()
                release.wait(10)
            session.commit()
        finally:
            session.close()

    first = threading.Thread(target=run, args=("first", "X-2", True))
    first.start()
    assert first_written.wait(10)
    second = threading.Thread(target=run, args=("second", "X-3", False))
    second.start()
    time.sleep(0.5)  # the second is now waiting: for the write lock (SQLite) or on the unique index (PostgreSQL)
    release.set()
    first.join(10), second.join(10)
    assert reports["first"].rejected == [] and reports["second"].rejected == []
    codes = {stored(app, c)["platform_code"] for c in ("X-1", "X-2", "X-3")}
    assert codes == {"50-X-0105-0001", "50-X-0105-0002", "50-X-0105-0003"}


DOC = Path(__file__).resolve().parents[2] / "docs" / "import-format.md"


def test_the_format_page_lists_every_code_and_label_and_its_example_imports(
        app: Flask, write_lines: Callable[..., Path]) -> None:
    from core.services.catalog import classification, record_fields

    doc = DOC.read_text("utf-8")
    for code, name in classification.MIDDLE.items():
        assert f"| `{code}` | {classification.MAJOR[code[:2]]} | {name} |" in doc, code
    for field, labels in record_fields.ENUMERATIONS.items():
        for slug, label in labels.items():
            assert f"| `{slug}` | {label} |" in doc, (field, slug)
    example = doc.split("## Example", 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    assert "0 rejected" in imported(app, write_lines, example).stdout
    assert stored(app, "CQ-ATC-0760")["platform_code"] == "50-CQATC-0105-0001"  # the rule's own example
