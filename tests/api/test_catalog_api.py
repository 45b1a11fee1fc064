import inspect
import re

from flask import Flask
from openapi_spec_validator import validate


def test_service_detail(shared_catalog_app: Flask) -> None:
    body = shared_catalog_app.test_client().get("/api/v1/services/T-CQ-S001").get_json()
    assert body["name"] == "食品中苏丹红I-IV号的测定" and body["price_cny"] == 300
    assert body["standards"] == ["GB/T 19681-2005"] and body["institution"]["city"] == "重庆"
    assert body["instrument"]["status"] == "unknown"


def test_hidden_listings_are_not_found(shared_catalog_app: Flask) -> None:
    client = shared_catalog_app.test_client()
    for path in ("/api/v1/services/T-CD-S002", "/api/v1/services/T-XA-S001", "/api/v1/services/NOPE",
                 "/api/v1/instruments/T-XA-PEND-0001", "/api/v1/institutions/T-XA-PEND"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.get_json()["error"]["code"].endswith("_not_found")


def test_instrument_and_institution_pages(shared_catalog_app: Flask) -> None:
    client = shared_catalog_app.test_client()
    ins = client.get("/api/v1/instruments/T-CD-MAT-0001").get_json()
    # the inactive bending test on the same machine is not listed
    assert [s["code"] for s in ins["services"]] == ["T-CD-S001"] and ins["institution"]["code"] == "T-CD-MAT"
    first = client.get("/api/v1/institutions/T-HZ-ATC?per_page=2").get_json()
    second = client.get("/api/v1/institutions/T-HZ-ATC?per_page=2&page=2").get_json()
    assert first["total"] == 3 and len(first["instruments"]) == 2 and len(second["instruments"]) == 1
    assert client.get("/api/v1/institutions/T-HZ-ATC?per_page=500").status_code == 400
    assert client.get("/api/v1/institutions/T-HZ-ATC?page=0").get_json()["error"]["code"] == "invalid_query"


def test_categories(shared_catalog_app: Flask) -> None:
    items = shared_catalog_app.test_client().get("/api/v1/categories").get_json()["items"]
    counts = {i["name"]: i["services"] for i in items}
    assert counts["分析仪器/色谱仪器"] == 4 and "分析仪器/质谱仪器" in counts


def test_openapi_document_is_valid_and_lists_every_route(shared_catalog_app: Flask) -> None:
    doc = shared_catalog_app.test_client().get("/api/v1/openapi.json").get_json()
    validate(doc)
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in shared_catalog_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is not in the OpenAPI document"
    search = doc["paths"]["/api/v1/search"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"q", "limit", "city", "max_price", "category", "accreditation"}


def test_the_document_names_the_status_and_id_types_each_handler_answers_with(shared_catalog_app: Flask) -> None:
    """A handler that answers 201 is documented 201 (a client generated from the document must not
    treat it as an error), and every `<int:…>` id is an integer within the id columns' range."""
    doc = shared_catalog_app.test_client().get("/api/v1/openapi.json").get_json()
    for rule in shared_catalog_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        source = inspect.getsource(shared_catalog_app.view_functions[rule.endpoint])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"][path][method.lower()]
            if re.search(r"\),\s*201\b", source):
                assert "201" in operation["responses"], f"{method} {path} answers 201, documented as 200"
            for name in re.findall(r"<int:([^>]+)>", rule.rule):
                schema = next(p["schema"] for p in operation["parameters"] if p["name"] == name)
                assert schema["type"] == "integer" and schema["maximum"] == 2**31 - 1, (path, name)
