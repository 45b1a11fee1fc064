"""`flask orders …`: the ledger check, the job outbox and the catch-up sweep, for operators."""
from __future__ import annotations

import click
from flask import current_app

from core.queue import SWEEP_JOB, defer
from core.services.orders.ledger import balances, ledger_problems
from core.services.orders.outbox_report import outbox_summary, redrive as redrive_due_jobs
from core.cli_group import PlatformGroup

orders_cli = PlatformGroup("orders", help="Orders, escrow and the ledger.")


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
    """Ask a worker to catch up on due expiries, confirmations and group-buy deadlines."""
    with current_app.extensions["platform"].transaction() as session:
        job = defer(session, SWEEP_JOB)
    click.echo(f"Sweep queued (job {job.id}); a running `flask worker` will do it.")


@orders_cli.command("jobs")
@click.option("--redrive", is_flag=True, help="Hand every unfinished job out again now (they are idempotent).")
def jobs(redrive: bool) -> None:
    """What the job outbox holds: unfinished jobs by name and state, their last errors, and refunds not yet confirmed."""
    platform = current_app.extensions["platform"]
    if redrive:
        with platform.transaction() as session:
            click.echo(f"{redrive_due_jobs(session)} unfinished job(s) will be handed out by the next relay pass.")
    with platform.transaction(write=False) as session:
        summary = outbox_summary(session)
    for line in summary.lines():
        click.echo(line)
