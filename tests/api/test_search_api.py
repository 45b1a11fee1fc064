import pytest
from flask import Flask

from core.services.usage.status import STATUS_KEY


def _get(app: Flask, **params: object):  # type: ignore[no-untyped-def]
    return app.test_client().get("/api/v1/search", query_string=params)


def test_search_answers_the_documented_shape(shared_catalog_app: Flask) -> None:
    resp = _get(shared_catalog_app, q="辣椒粉里有没有苏丹红", limit=3)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["query"] == "辣椒粉里有没有苏丹红"
    first = body["items"][0]
    assert first["service"]["code"] in {"T-CQ-S001", "T-HZ-S001"}
    assert {"code", "name", "price_cny", "turnaround_days"} <= set(first["service"])
    assert set(first["instrument"]) == {"code", "name", "status"}
    assert set(first["institution"]) == {"code", "name", "city"}
    assert 0 < first["score"] <= 1 and "苏丹红" in first["why"]
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert "苏丹红" in resp.get_data(as_text=True)  # UTF-8, not \\u escapes


def test_filters_through_the_api(shared_catalog_app: Flask) -> None:
    body = _get(shared_catalog_app, q="苏丹红", city="杭州").get_json()
    assert [i["institution"]["city"] for i in body["items"]] == ["杭州"]
    body = _get(shared_catalog_app, q="苏丹红", max_price="280").get_json()
    assert all(i["service"]["price_cny"] <= 280 for i in body["items"]) and body["items"]


def test_live_status_comes_from_redis(shared_catalog_app: Flask) -> None:
    redis = shared_catalog_app.extensions["platform"].redis
    redis.delete(STATUS_KEY)
    item = _get(shared_catalog_app, q="晶型", limit=1).get_json()["items"][0]
    assert item["instrument"]["status"] == "unknown"
    redis.hset(STATUS_KEY, item["instrument"]["code"], "in_use")
    try:
        item = _get(shared_catalog_app, q="晶型", limit=1).get_json()["items"][0]
        assert item["instrument"]["status"] == "in_use"
    finally:
        redis.delete(STATUS_KEY)


def test_no_confident_match_is_an_empty_list_with_a_message(shared_catalog_app: Flask) -> None:
    body = _get(shared_catalog_app, q="帮我修一下空调").get_json()
    assert body["items"] == [] and "没有与该需求足够匹配" in body["message"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "苏" * 501}, "q"),
        ({"q": "苏丹红", "limit": 0}, "limit"),
        ({"q": "苏丹红", "limit": 51}, "limit"),
        ({"q": "苏丹红", "limit": "ten"}, "limit"),
        ({"q": "苏丹红", "max_price": -1}, "max_price"),
        ({"q": "苏丹红", "max_price": "nan"}, "max_price"),
        ({"q": "苏丹红", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape(shared_catalog_app: Flask, params: dict, field: str) -> None:
    resp = _get(shared_catalog_app, **params)
    assert resp.status_code == 400
    err = resp.get_json()["error"]
    assert err["code"] == "invalid_query" and err["message"]
    assert field in err["details"]["fields"]


def test_unknown_filter_values_are_named(shared_catalog_app: Flask) -> None:
    resp = _get(shared_catalog_app, q="苏丹红", city="火星")
    assert resp.status_code == 400
    err = resp.get_json()["error"]
    assert err["code"] == "unknown_filter_value" and "火星" in err["message"]
    assert "杭州" in err["details"]["known"]["city"]
    assert _get(shared_catalog_app, q="苏丹红", category="不存在的类别").status_code == 400
    assert _get(shared_catalog_app, q="苏丹红", accreditation="ISO17025X").status_code == 400


def test_missing_index_is_a_503_with_a_hint(app: Flask) -> None:
    resp = _get(app, q="苏丹红")
    assert resp.status_code == 503
    err = resp.get_json()["error"]
    assert err["code"] == "search_index_missing" and "flask search reindex" in err["message"]


def test_unknown_route_is_json_not_html(app: Flask) -> None:
    resp = app.test_client().get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_health_reports_each_dependency(shared_catalog_app: Flask, app: Flask) -> None:
    ok = shared_catalog_app.test_client().get("/healthz")
    assert ok.status_code == 200
    assert ok.get_json()["checks"]["database"] == "ok" and ok.get_json()["checks"]["redis"] == "ok"
    degraded = app.test_client().get("/healthz")
    assert degraded.status_code == 503 and "reindex" in degraded.get_json()["checks"]["search_index"]


def test_raw_utf8_in_the_query_string_is_understood(shared_catalog_app: Flask) -> None:
    """What curl sends for  curl 'http://…/api/v1/search?q=辣椒粉里有没有苏丹红': raw bytes."""
    import json
    import socket

    from werkzeug.serving import make_server

    from tests.conftest import serving

    server = make_server("127.0.0.1", 0, shared_catalog_app, threaded=True)
    with serving(server), socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall("GET /api/v1/search?q=辣椒粉里有没有苏丹红&limit=1 HTTP/1.0\r\nHost: x\r\n\r\n".encode("utf-8"))
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert body["query"] == "辣椒粉里有没有苏丹红"
    assert "苏丹红" in body["items"][0]["service"]["name"]


def test_hot_searches_and_my_history(shared_catalog_app: Flask) -> None:
    client = shared_catalog_app.test_client()
    token = client.post("/api/v1/auth/demo-login", json={"name": "李工"}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    def hot_count(query: str) -> int:
        items = client.get("/api/v1/search/hot").get_json()["items"]
        return next((i["count"] for i in items if i["query"] == query), 0)

    before = hot_count("晶型")  # the Redis of a CI run may hold earlier counts
    for q in ("晶型", "晶型", "帮我修一下空调"):
        client.get("/api/v1/search", query_string={"q": q}, headers=auth)
    assert hot_count("晶型") == before + 2
    assert hot_count("帮我修一下空调") == 0  # needs nobody meets do not trend
    history = client.get("/api/v1/me/searches", headers=auth).get_json()["items"]
    assert history == ["帮我修一下空调", "晶型"]
    assert client.get("/api/v1/search", query_string={"q": "晶型"}, headers={"Authorization": "Bearer forged"}).status_code == 401
