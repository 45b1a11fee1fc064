"""The command groups of `flask …`: an expected failure ends in one Chinese line and exit 1, never a traceback."""
from __future__ import annotations

from typing import IO, Any

import click
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError

from core.db import BUSY_MESSAGE, is_busy
from core.errors import AppError


class CommandFailed(click.ClickException):
    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"错误：{self.message}", err=True, file=file)


class PlatformGroup(AppGroup):
    """AppGroup whose commands' domain errors and a busy database are said, not dumped: an admin running
    `catalog import` beside the demo server sees why it stopped (and that nothing was written)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AppError as exc:
            raise CommandFailed(exc.message) from None
        except OperationalError as exc:
            if is_busy(exc):
                raise CommandFailed(BUSY_MESSAGE) from None
            raise
