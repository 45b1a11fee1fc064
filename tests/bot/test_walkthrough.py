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


def test_the_lab_side_of_the_walkthrough_is_done_in_the_workbench(catalog_app: Flask) -> None:
    """--lab-in-browser stops at the paid order and hands a lab account over; that account signs in to the
    workbench, sees the order waiting and takes it on."""
    import re

    from tests.web.conftest import csrf_of, sign_in

    result = cli(catalog_app, "bot", "walkthrough", "辣椒粉里有没有苏丹红", "--lab-in-browser")
    assert result.exit_code == 0, result.output
    found = re.search(r"sign in as (\S+) / (\S+) ", result.stdout)
    number = re.search(r"shows order (\S+) to accept", result.stdout)
    assert found and number and "rated 5 stars" not in result.stdout
    client = sign_in(catalog_app.test_client(), found.group(1), found.group(2))
    today = client.get("/workbench/today").get_data(as_text=True)
    assert 'id="todo-to_accept"' in today
    page = client.get(f"/workbench/orders/{number.group(1)}").get_data(as_text=True)
    assert "已付款" in page
    accepted = client.post(f"/workbench/orders/{number.group(1)}/step/accept", data={"csrf_token": csrf_of(page)},
                           follow_redirects=True).get_data(as_text=True)
    assert "已接单" in accepted
