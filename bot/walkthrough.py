"""`flask bot walkthrough`: the whole online-to-offline loop, from a chat message to a
rated, settled order, through the same HTTP API the mini-program and the lab use."""
from __future__ import annotations

import json
import secrets
from io import BytesIO
from datetime import date, timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from flask.testing import FlaskClient

from bot.dialogue import safe_reply
from core.errors import NotFound
from core.models._types import local_today
from core.services.people.company import credit_code_check_character
from core.services.people.users import create_staff, reset_password

DEMO_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class _Api:
    def __init__(self, client: FlaskClient):
        self.client = client

    def call(self, method: str, path: str, who: dict[str, str] | None = None, **kwargs: Any) -> Any:
        response = self.client.open(path, method=method, headers=who or {}, **kwargs)
        body = response.get_json(silent=True)
        if response.status_code >= 400:
            raise click.ClickException(f"{method} {path} answered {response.status_code}: {json.dumps(body, ensure_ascii=False)}")
        return body

    def sign_in(self, name: str, role: str, institution: str | None = None) -> dict[str, str]:
        body = {"name": name, "role": role, **({"institution": institution} if institution else {})}
        token = self.call("POST", "/api/v1/auth/demo-login", json=body)["token"]
        return {"Authorization": f"Bearer {token}"}


def demo_credit_code() -> str:
    """A fresh, valid unified social credit code (a Chongqing company): each run verifies its own
    demo company, so running the walkthrough again on the same database still works."""
    first17 = "91500000" + "".join(secrets.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return first17 + credit_code_check_character(first17)


def _hand_over_to_the_browser(institution: dict[str, Any], number: str) -> None:
    """The lab's side by a person: a staff account of the order's institution (its password fresh each run)."""
    settings = current_app.extensions["platform"].settings
    username, password = lab_account_for(institution["code"])
    _step(4, "The lab's side, in the browser")
    click.echo(f"Open http://{settings.host}:{settings.port}/login and sign in as {username} / {password} "
               f"({institution['name']}).")
    click.echo(f"今日待办 shows order {number} to accept: accept it, mark the samples received and the testing "
               "started, then drop a PDF report on the order page.")


def lab_account_for(institution_code: str) -> tuple[str, str]:
    """A password staff account of the institution for the demo, created or given a new password."""
    username, password = f"lab-{institution_code.lower()}", "demo-" + secrets.token_urlsafe(9)
    with current_app.extensions["platform"].transaction() as session:
        try:
            reset_password(session, username, password)
        except NotFound:
            create_staff(session, username, password, institution_code, display_name=f"{institution_code} 实验室人员")
    return username, password


def _step(n: int, text: str) -> None:
    click.secho(f"\n{n}. {text}", bold=True)


@click.command("walkthrough")
@with_appcontext
@click.argument("need", default="辣椒粉里有没有苏丹红")
@click.option("--samples", default=2, show_default=True)
@click.option("--lab-in-browser", is_flag=True,
              help="Stop once the order is paid and print a lab account: accept it and upload the report in the workbench.")
def walkthrough(need: str, samples: int, lab_in_browser: bool) -> None:
    """Chat → order with a voucher → pay → lab accepts and reports → confirm → rate → ledger (demo mode)."""
    api = _Api(current_app.test_client())
    _step(1, f"The user asks the bot: {need}")
    reply = safe_reply(current_app.extensions["dialogue"], "walkthrough", need, "demo")
    click.echo(reply.text)
    if not reply.items:
        raise click.ClickException("The bot recommended nothing for that need; try another one.")
    pick = reply.items[0]
    service = api.call("GET", f"/api/v1/services/{pick.code}")

    _step(2, "The user signs in from the mini-program, has the company verified (business licence reviewed by a "
             "platform admin) and applies for innovation vouchers")
    user = api.sign_in("演示企业用户", "enterprise")
    code = demo_credit_code()
    api.call("PUT", "/api/v1/me/company", user, json={"company_name": "重庆演示食品有限公司", "credit_code": code,
                                                     "contact_name": "张经理", "contact_phone": "13800000000"})
    submitted = api.call("POST", "/api/v1/me/company/verification", user, content_type="multipart/form-data", data={
        "company_name": "重庆演示食品有限公司", "credit_code": code, "legal_rep_name": "张经理", "is_legal_rep": "true",
        "licence": (BytesIO(DEMO_PDF), "营业执照.pdf")})
    admin = api.sign_in("平台管理员", "platform_admin")
    company = api.call("POST", f"/api/v1/admin/companies/{submitted['company']['id']}/decision", admin,
                       json={"approve": True})
    click.echo(f"Company {company['name']} ({company['credit_code']}) is {company['status']}; its licence was reviewed.")
    voucher = api.call("POST", "/api/v1/vouchers", user, json={"requested_cny": 5000, "purpose": "产品质量检测"})
    lab = api.sign_in("实验室值班员", "lab_staff", service["institution"]["code"])
    voucher = api.call("POST", f"/api/v1/admin/vouchers/{voucher['id']}/decision", admin, json={"approve": True})
    click.echo(f"Voucher {voucher['id']} approved: {voucher['approved_cny']:.2f} CNY until {voucher['valid_until']}")

    _step(3, f"The user orders “{service['name']}” at {service['institution']['name']} and pays")
    order = api.call("POST", "/api/v1/orders", user, json={
        "service_code": pick.code, "samples": samples, "sample_description": f"{need}：样品 {samples} 份",
        "mode": "mail", "delivery_date": (date.today() + timedelta(days=2)).isoformat(), "voucher_id": voucher["id"]})
    number = order["number"]
    click.echo(f"Order {number}: {order['total_cny']:.2f} CNY = voucher {order['voucher_cny']:.2f} + cash {order['cash_cny']:.2f}")
    payment = api.call("POST", f"/api/v1/orders/{number}/payment", user)["payment"]
    api.call("POST", payment["pay_url"], user)
    click.echo(f"Paid into escrow ({payment['provider']} provider).")
    if lab_in_browser:
        _hand_over_to_the_browser(service["institution"], number)
        return

    _step(4, "The lab is notified, accepts, receives the samples, tests and uploads the report")
    click.echo("Lab inbox: " + api.call("GET", "/api/v1/me/notifications", lab)["items"][0]["body"])
    for step in ("accept", "samples-received", "start-testing"):
        api.call("POST", f"/api/v1/lab/orders/{number}/{step}", lab, json={})
    report = api.call("POST", f"/api/v1/lab/orders/{number}/report", lab,
                      data={"file": (BytesIO(DEMO_PDF), "report.pdf")}, content_type="multipart/form-data")
    click.echo(f"Report uploaded: {report['filename']}, sha256 {report['sha256'][:16]}…")

    _step(5, "The user downloads the report, confirms and rates; escrow is released")
    link = api.call("GET", f"/api/v1/orders/{number}/report", user)["download_url"]
    pdf = api.client.get(link)
    click.echo(f"Downloaded {len(pdf.data)} bytes of PDF through an expiring link.")
    settled = api.call("POST", f"/api/v1/orders/{number}/confirm", user)
    api.call("POST", f"/api/v1/orders/{number}/rating", user, json={"stars": 5, "comment": "出报告很快"})
    click.echo(f"Order {number} is {settled['status']}; rated 5 stars.")

    _step(6, "The ledger")
    ledger = api.call("GET", "/api/v1/admin/ledger", admin)
    for account, amount in ledger["balances"].items():
        click.echo(f"  {account:<20} {amount:>12,.2f}")
    click.echo("The books balance." if ledger["balanced"] else f"PROBLEMS: {ledger['problems']}")
    today = local_today(current_app.extensions["platform"].settings.orders.timezone).isoformat()
    statement = api.call("GET", f"/api/v1/vouchers/statement?from={today}&to={today}", admin)
    for line in statement["lines"]:
        click.echo(f"  the voucher fund owes {line['institution_name']} {line['voucher_cny']:.2f} CNY ({line['orders']} orders)")
