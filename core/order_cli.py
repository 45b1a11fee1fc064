"""`flask orders …`: the ledger check and the catch-up sweep, for operators."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from core.queue import SWEEP_JOB, enqueue
from core.services.orders.ledger import balances, ledger_problems

orders_cli = AppGroup("orders", help="Orders, escrow and the ledger.")


@orders_cli.command("ledger")
def ledger() -> None:
    """Print every account's balance and check that the books balance (exit 1 if not)."""
    with current_app.extensions["platform"].session_factory() as session:
        totals, problems = balances(session), ledger_problems(session)
    for account, cents in sorted(totals.items()):
        click.echo(f"{account:<24} {cents / 100:>14,.2f}")
    if problems:
        for problem in problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"The ledger balances: {len(totals)} accounts, total {sum(totals.values()) / 100:.2f}.")


@orders_cli.command("sweep")
def sweep() -> None:
    """Ask a worker to catch up on due expiries, confirmations, group-buy deadlines and notifications."""
    job_id = enqueue(current_app.extensions["platform"].redis, SWEEP_JOB)
    click.echo(f"Sweep enqueued (job {job_id}); a running `flask worker` will do it.")
