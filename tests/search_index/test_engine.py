from flask import Flask

from search_index.engine import SearchEngine, SearchFilters


def _engine(app: Flask) -> SearchEngine:
    return app.extensions["search"]


def _codes(app: Flask, q: str, **filters: object) -> list[str]:
    return [h.doc.code for h in _engine(app).search(q, 5, SearchFilters(**filters)).hits]  # type: ignore[arg-type]


def test_lay_needs_find_the_right_listing_first(shared_catalog_app: Flask) -> None:
    app = shared_catalog_app
    assert set(_codes(app, "辣椒粉里有没有苏丹红")[:2]) == {"T-CQ-S001", "T-HZ-S001"}
    assert _codes(app, "猪肉里有没有瘦肉精")[0] == "T-CQ-S003"
    assert _codes(app, "新装修的房子能住人了吗")[0] == "T-CD-S003"
    assert _codes(app, "药粉是哪种晶型")[0] == "T-HZ-S002"
    assert _codes(app, "tensile test of steel")[0] == "T-CD-S001"
    assert _codes(app, "GB/T 228.1")[0] == "T-CD-S001"


def test_each_hit_says_why(shared_catalog_app: Flask) -> None:
    hit = _engine(shared_catalog_app).search("辣椒粉里有没有苏丹红", 1).hits[0]
    assert "苏丹红" in hit.why
    assert 0 < hit.score <= 1


def test_filters(shared_catalog_app: Flask) -> None:
    app = shared_catalog_app
    assert _codes(app, "苏丹红", city="杭州") == ["T-HZ-S001"]
    assert _codes(app, "苏丹红", max_price=280) == ["T-HZ-S001"]
    assert _codes(app, "苏丹红", accreditation="cnas") == ["T-CQ-S001"]
    assert set(_codes(app, "检测", category="物理性能测试仪器")) <= {"T-CD-S001"}


def test_inactive_services_and_unapproved_institutions_are_never_found(shared_catalog_app: Flask) -> None:
    app = shared_catalog_app
    assert "T-CD-S002" not in _codes(app, "已下架的弯曲试验")
    assert "T-XA-S001" not in _codes(app, "大米中铅镉汞砷的测定")


def test_a_need_nothing_meets_gets_no_confident_hit(shared_catalog_app: Flask) -> None:
    result = _engine(shared_catalog_app).search("帮我修一下空调", 5)
    assert result.hits == []


def test_empty_or_huge_queries_are_refused(shared_catalog_app: Flask) -> None:
    import pytest

    from core.errors import InvalidInput

    for bad in ("", "   ", "苏" * 501):
        with pytest.raises(InvalidInput):
            _engine(shared_catalog_app).search(bad)


def test_ratings_nudge_the_ranking_by_a_small_bounded_share(shared_catalog_app: Flask) -> None:
    base = _engine(shared_catalog_app)
    plain = {h.doc.code: h.score for h in base.search("辣椒粉里有没有苏丹红", 5).hits}
    loved, disliked = sorted(plain)[:2]
    rated = SearchEngine(base.store, encoder_factory=lambda: base.encoder, tuning=base.tuning,
                         synonyms_loader=base._synonyms_loader,
                         ratings_loader=lambda: {loved: (5.0, 40), disliked: (1.0, 10)})
    hits = rated.search("辣椒粉里有没有苏丹红", 5).hits
    scores = {h.doc.code: h.score for h in hits}
    assert abs(scores[loved] - plain[loved] * 1.05) < 1e-3
    assert abs(scores[disliked] - plain[disliked] * 0.95) < 1e-3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
