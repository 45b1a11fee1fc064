import json
from typing import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from core.db import unit_of_work
from core.models import IndexChange, Institution, Instrument, OnboardingStatus, Service
from tests.conftest import MINI_CATALOG, cli


def _count(app: Flask, model: type) -> int:
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        return s.scalar(select(func.count()).select_from(model))


def _line(service_code: str = "X-S1", price: object = 100, **service: object) -> str:
    return json.dumps({
        "institution": {"code": "X", "name": "某检测所", "city": "重庆"},
        "instrument": {"code": "X-1", "name": "气相色谱仪"},
        "services": [{"code": service_code, "name": "某检测", "price_cny": price, **service}],
    }, ensure_ascii=False)


def test_import_creates_everything_and_a_second_import_changes_nothing(app: Flask) -> None:
    first = cli(app, "catalog", "import", "--approve", str(MINI_CATALOG))
    assert first.exit_code == 0, first.output
    assert "services 10 created, 0 updated, 0 unchanged" in first.stdout
    assert "institutions 4/0/0" in first.stdout  # each institution counted once
    assert (_count(app, Institution), _count(app, Instrument), _count(app, Service)) == (4, 8, 10)

    second = cli(app, "catalog", "import", "--approve", str(MINI_CATALOG))
    assert "services 0 created, 0 updated, 10 unchanged" in second.stdout
    assert "0 rejected" in second.stdout
    assert _count(app, Service) == 10


def test_bad_lines_are_reported_by_number_and_nothing_of_them_is_written(app: Flask, write_lines: Callable[..., Path]) -> None:
    path = write_lines(
        _line("OK-1"),
        "{not json",
        _line("BAD-PRICE", price=-5),
        _line("TEXT-PRICE", price="300元"),
        json.dumps({"institution": {"code": "Y"}, "instrument": {"code": "Y-1", "name": "n"}, "services": []}),
        "[1, 2]",
        _line("OK-2"),
    )
    result = cli(app, "catalog", "import", "--approve", str(path))
    assert result.exit_code == 0
    err = result.stderr
    assert "line 2: rejected: not valid JSON" in err
    assert "line 3: rejected: services.0.price_cny" in err
    assert "line 4: rejected: services.0.price_cny: must be a number" in err
    assert "line 5: rejected: institution.name: Field required" in err
    assert "line 6: rejected" in err
    assert "5 rejected" in result.stdout
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        codes = set(s.scalars(select(Service.code)))
        assert codes == {"OK-1", "OK-2"}
        assert s.scalar(select(Institution).where(Institution.code == "Y")) is None


def test_a_file_of_which_every_line_is_rejected_fails(app: Flask, write_lines: Callable[..., Path]) -> None:
    result = cli(app, "catalog", "import", "--approve", str(write_lines("{not json", _line("BAD", price=-1), "[1, 2]")))
    assert result.exit_code == 2  # a script running the import must see that nothing went in
    assert "3 rejected" in result.stdout and _count(app, Service) == 0


def test_strict_mode_writes_nothing_when_a_line_is_bad(app: Flask, write_lines: Callable[..., Path]) -> None:
    path = write_lines(_line("OK-1"), _line("BAD", price=-1))
    result = cli(app, "catalog", "import", "--approve", "--strict", str(path))
    assert result.exit_code == 2
    assert "Strict mode, nothing written" in result.stdout
    assert _count(app, Service) == 0


def test_dry_run_counts_without_writing(app: Flask) -> None:
    result = cli(app, "catalog", "import", "--approve", "--dry-run", str(MINI_CATALOG))
    assert result.exit_code == 0
    assert "Dry run, nothing written: 8 lines: services 10 created" in result.stdout
    assert _count(app, Service) == 0


def test_a_changed_price_is_an_update_and_queues_an_index_refresh(app: Flask, write_lines: Callable[..., Path]) -> None:
    cli(app, "catalog", "import", "--approve", str(write_lines(_line("S1", price=100))))
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        s.execute(IndexChange.__table__.delete())
    result = cli(app, "catalog", "import", "--approve", str(write_lines(_line("S1", price=120.5))))
    assert "services 0 created, 1 updated, 0 unchanged" in result.stdout
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        assert float(s.scalar(select(Service.price_cny))) == 120.5
        assert list(s.scalars(select(IndexChange.service_code))) == ["S1"]


def test_reimport_keeps_an_admin_decision_the_file_does_not_mention(app: Flask, write_lines: Callable[..., Path]) -> None:
    cli(app, "catalog", "import", "--approve", str(write_lines(_line("S1"))))
    assert cli(app, "catalog", "institution-status", "X", "suspended").exit_code == 0
    assert cli(app, "catalog", "deactivate", "S1").exit_code == 0
    cli(app, "catalog", "import", "--approve", str(write_lines(_line("S1"))))
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        assert s.scalar(select(Institution.status)) == OnboardingStatus.suspended
        assert s.scalar(select(Service.active)) is False


def test_export_round_trips_through_import(app: Flask, tmp_path: Path) -> None:
    cli(app, "catalog", "import", "--approve", str(MINI_CATALOG))
    out = tmp_path / "export.jsonl"
    assert cli(app, "catalog", "export", "-o", str(out)).exit_code == 0
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == 8
    first = json.loads(lines[0])
    assert set(first) == {"institution", "instrument", "services"}

    result = cli(app, "catalog", "import", "--approve", str(out))
    assert "services 0 created, 0 updated, 10 unchanged" in result.stdout
    assert "instruments 0/0/8" in result.stdout


def test_missing_file_and_non_utf8_file_are_clear_errors(app: Flask, tmp_path: Path) -> None:
    missing = cli(app, "catalog", "import", "--approve", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(_line().encode("gbk"))
    result = cli(app, "catalog", "import", "--approve", str(gbk))
    assert result.exit_code == 1
    assert "is not UTF-8 text" in result.stderr
    assert _count(app, Service) == 0
