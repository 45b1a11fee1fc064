"""The demo's end-to-end story: chat, order with a voucher, lab, report, rating, ledger."""
from flask import Flask

from tests.conftest import cli


def test_walkthrough_goes_from_a_chat_message_to_a_settled_rated_order(catalog_app: Flask) -> None:
    result = cli(catalog_app, "bot", "walkthrough", "辣椒粉里有没有苏丹红")
    assert result.exit_code == 0, result.output
    assert "苏丹红" in result.stdout and "is settled; rated 5 stars" in result.stdout
    assert "The books balance." in result.stdout and "the voucher fund owes" in result.stdout
    ledger = cli(catalog_app, "orders", "ledger")
    assert ledger.exit_code == 0 and "voucher_fund" in ledger.stdout and "The ledger balances" in ledger.stdout
    rated = catalog_app.test_client().get("/api/v1/services/T-CQ-S001").get_json()["rating"]
    assert rated["count"] + catalog_app.test_client().get("/api/v1/services/T-HZ-S001").get_json()["rating"]["count"] == 1
