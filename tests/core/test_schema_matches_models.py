"""The migrations build exactly the schema the models describe: a column or constraint added to
a model without its migration (or the reverse) fails here, on SQLite and on PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from core.db import Base


def _meaningful(diff: object) -> bool:
    # SQLite cannot report CHECK constraints or server defaults reliably; those are not drift
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]  # type: ignore[index]
    return kind not in ("modify_default",)


def test_migrations_match_the_models(app: Flask) -> None:
    engine = app.extensions["platform"].engine
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert [d for d in diffs if _meaningful(d)] == []
