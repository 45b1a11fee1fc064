"""Command-line groups of the domain: db, users, catalog."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click
from flask import current_app
from flask.cli import with_appcontext

from core.db import take_write_lock, unit_of_work
from core.errors import AppError, InvalidInput
from core.models import OnboardingStatus, Role
from core.platform import Platform
from core.redis_conn import stop_embedded
from core.services.people.authz import command_line_actor
from core.services.catalog.admin import PAYEE_TYPES, set_institution_payee, set_institution_status, set_service_active
from core.services.catalog.exporter import export_catalog
from core.services.catalog.importer import import_catalog
from core.services.people.demo_accounts import ensure_demo_accounts
from core.services.people.users import create_admin, create_expert, create_staff, reset_password, set_active, sign_out_everywhere
from core.cli_group import PlatformGroup

db_cli = PlatformGroup("db", help="Database schema (Alembic migrations).")
users_cli = PlatformGroup("users", help="User accounts.")
catalog_cli = PlatformGroup("catalog", help="Institutions, instruments and service listings.")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def platform() -> Platform:
    return current_app.extensions["platform"]


def after_catalog_change() -> None:
    """Run the hook app.py installs (the search index sync) once a change is committed."""
    hook: Callable[[], None] | None = current_app.extensions.get("after_catalog_change")
    if hook:
        hook()


def fail(exc: AppError) -> None:
    click.echo(f"Error: {exc.message}", err=True)
    sys.exit(1)


def alembic_config():  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", platform().settings.database_url.replace("%", "%%"))
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    settings = platform().settings
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(), revision)
    click.echo(f"Database at revision {revision}.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db_cli.command("current")
def db_current() -> None:
    from alembic import command

    command.current(alembic_config(), verbose=False)


@users_cli.command("create-admin")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default=None, help="Display name (default: the username).")
def users_create_admin(username: str, password: str, display_name: str | None) -> None:
    """Create a platform administrator."""
    try:
        with unit_of_work(platform().session_factory) as session:
            user = create_admin(session, username, password, display_name)
    except AppError as exc:
        fail(exc)
    click.echo(f"Created platform admin {user.username!r} (id {user.id}).")


@users_cli.command("create-staff")
@click.argument("username")
@click.option("--institution", required=True, help="The institution's code.")
@click.option("--role", type=click.Choice(["lab_staff", "institution_admin"]), default="lab_staff", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default=None, help="Display name (default: the username).")
def users_create_staff(username: str, institution: str, role: str, password: str, display_name: str | None) -> None:
    """Create a lab staff member (signs in at /api/v1/auth/password-login)."""
    try:
        with unit_of_work(platform().session_factory) as session:
            user = create_staff(session, username, password, institution, Role(role), display_name)
    except AppError as exc:
        fail(exc)
    click.echo(f"Created {role} {user.username!r} of {institution} (id {user.id}).")


@users_cli.command("create-expert")
@click.argument("username")
@click.option("--institution", default=None, help="The institution the expert works at (never scored by them).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default=None, help="Display name (default: the username).")
def users_create_expert(username: str, institution: str | None, password: str, display_name: str | None) -> None:
    """Create an evaluation expert (signs in at /login and lands on the experts' desk)."""
    try:
        with unit_of_work(platform().session_factory) as session:
            user = create_expert(session, username, password, institution, display_name)
    except AppError as exc:
        fail(exc)
    click.echo(f"Created expert {user.username!r}{f' of {institution}' if institution else ''} (id {user.id}).")


@users_cli.command("demo-accounts")
@click.option("--institution", default=None, help="The lab accounts' institution (default: the first in the catalog).")
def users_demo_accounts(institution: str | None) -> None:
    """Demo mode only: a lab staff member, an institution admin and a platform admin to try the back office."""
    if not platform().settings.demo_mode:
        fail(InvalidInput("演示账号只在演示模式（DEMO_MODE=1）下创建；生产环境请用 create-staff / create-admin。",
                          code="demo_only"))
    try:
        with unit_of_work(platform().session_factory) as session:
            place, accounts = ensure_demo_accounts(session, institution)
            place_name = place.name
    except AppError as exc:
        fail(exc)
    for account in accounts:
        where = "" if account.role.value in ("platform_admin", "expert") else f"（{place_name}）"
        click.echo(f"  {account.label}{where}：用户名 {account.username}  密码 {account.password}")


def _account_change(change: Callable[..., object], username: str, *args: object) -> None:
    try:
        with unit_of_work(platform().session_factory) as session:
            change(session, username, *args)
    except AppError as exc:
        fail(exc)


@users_cli.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account: it can no longer sign in and its tokens stop working at once."""
    _account_change(set_active, username, False)
    click.echo(f"已停用账号 {username!r}，它的所有登录凭证已立即失效。")


@users_cli.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Re-enable a disabled account (its old tokens stay revoked)."""
    _account_change(set_active, username, True)
    click.echo(f"已启用账号 {username!r}（停用前的登录凭证仍然无效，须重新登录）。")


@users_cli.command("reset-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_reset_password(username: str, password: str) -> None:
    """Set a new password; the account is signed out everywhere."""
    _account_change(reset_password, username, password)
    click.echo(f"已重置账号 {username!r} 的密码，它的所有登录凭证已立即失效。")


@users_cli.command("sign-out")
@click.argument("username")
def users_sign_out(username: str) -> None:
    """Revoke every token of an account (a lost phone, a leaked token)."""
    _account_change(sign_out_everywhere, username)
    click.echo(f"账号 {username!r} 已在所有设备上退出登录。")


@catalog_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Write nothing if any line is bad.")
@click.option("--dry-run", is_flag=True, help="Validate and count, then roll back.")
@click.option("--approve", is_flag=True,
              help="A trusted bulk load: new objects go live at once. Without it they wait for review (入网审核).")
def catalog_import(file: Path, strict: bool, dry_run: bool, approve: bool) -> None:
    """Upsert a JSON Lines catalog by code (the format: docs/import-format.md)."""
    size = file.stat().st_size
    session = platform().session_factory()
    try:
        take_write_lock(session)  # as every writer: queue for SQLite's lock up front, never fail half-way
        with file.open(encoding="utf-8-sig", errors="strict") as fh, click.progressbar(
            length=size, label="Importing", file=sys.stderr, show_percent=True, show_eta=True
        ) as bar:
            try:
                report = import_catalog(session, fh, strict=strict, progress=bar.update, approve=approve)
            except UnicodeDecodeError as exc:
                session.rollback()
                click.echo(f"Error: {file} is not UTF-8 text ({exc.reason} at byte {exc.start}). Nothing was imported.", err=True)
                sys.exit(1)
        for bad in report.rejected:
            click.echo(f"line {bad.line_no}: rejected: {bad.reason}", err=True)
        if dry_run or (strict and report.rejected):
            session.rollback()
        else:
            session.commit()
    finally:
        session.close()
    prefix = "Dry run, nothing written" if dry_run else (
        "Strict mode, nothing written" if strict and report.rejected else "Imported"
    )
    click.echo(f"{prefix}: {report.summary()}")
    if not dry_run and not (strict and report.rejected) and report.changed_services:
        after_catalog_change()
    if report.rejected and (strict or len(report.rejected) >= report.lines):
        # strict mode, or a file of which nothing could be used: the caller's script must see it failed
        sys.exit(2)


@catalog_cli.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Default: stdout.")
def catalog_export(output: Path | None) -> None:
    """Write the catalog in the import format."""
    with unit_of_work(platform().session_factory) as session:
        out = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            count = 0
            for line in export_catalog(session):
                out.write(line + "\n")
                count += 1
        finally:
            if output:
                out.close()
    click.echo(f"Exported {count} instruments.", err=True)


def _toggle_service(code: str, active: bool) -> None:
    try:
        with unit_of_work(platform().session_factory) as session:
            set_service_active(session, command_line_actor(), code, active)
    except AppError as exc:
        fail(exc)
    click.echo(f"Service {code} is now {'active' if active else 'inactive'}.")
    after_catalog_change()


@catalog_cli.command("deactivate")
@click.argument("service_code")
def catalog_deactivate(service_code: str) -> None:
    """Take a service listing out of search."""
    _toggle_service(service_code, False)


@catalog_cli.command("activate")
@click.argument("service_code")
def catalog_activate(service_code: str) -> None:
    """Put a service listing back into search."""
    _toggle_service(service_code, True)


@catalog_cli.command("institution-status")
@click.argument("institution_code")
@click.argument("status", type=click.Choice([s.value for s in OnboardingStatus]))
def catalog_institution_status(institution_code: str, status: str) -> None:
    """Approve or suspend an institution (only approved ones are searchable)."""
    try:
        with unit_of_work(platform().session_factory) as session:
            set_institution_status(session, command_line_actor(), institution_code, OnboardingStatus(status))
    except AppError as exc:
        fail(exc)
    click.echo(f"Institution {institution_code} is now {status}.")
    after_catalog_change()


@catalog_cli.command("institution-payee")
@click.argument("institution_code")
@click.argument("payee_type", type=click.Choice(PAYEE_TYPES))
@click.argument("account")
@click.argument("name", default="")
def catalog_institution_payee(institution_code: str, payee_type: str, account: str, name: str) -> None:
    """Set where WeChat Pay profit sharing sends a lab's part (its merchant id and registered name)."""
    try:
        with unit_of_work(platform().session_factory) as session:
            set_institution_payee(session, command_line_actor(), institution_code, payee_type, account, name)
    except AppError as exc:
        fail(exc)
    click.echo(f"Institution {institution_code}: profit sharing goes to {payee_type} {account}.")


@click.command("stop-embedded")
@with_appcontext
def stop_embedded_command() -> None:
    """Stop the embedded Redis server of DATA_DIR (when REDIS_URL is unset); `make demo` runs it on exit."""
    settings = platform().settings
    if stop_embedded(settings):
        click.echo(f"Embedded Redis of {settings.data_dir} stopped.")
    else:
        click.echo("No embedded Redis to stop (REDIS_URL is set, or none was started here).")
