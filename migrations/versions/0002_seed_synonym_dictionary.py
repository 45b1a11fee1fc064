"""seed the starting synonym dictionary

Every database starts with the shipped lay-word dictionary, so search is good
on a fresh install even if nobody runs `flask search synonyms load`. Terms that
already exist (edited by an admin) are left alone.

Revision ID: 0002
Revises: 0001
"""
import json
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DICTIONARY = Path(__file__).resolve().parents[2] / "data" / "synonyms.jsonl"

synonyms = sa.table(
    "synonyms",
    sa.column("term", sa.String),
    sa.column("expansions", sa.JSON),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _entries() -> list[dict]:
    now = datetime.now(timezone.utc)
    rows: dict[str, dict] = {}
    for line in DICTIONARY.read_text("utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            term = " ".join(data["term"].split()).lower()
            rows.setdefault(term, {"term": term, "expansions": data["expansions"], "updated_at": now})
    return list(rows.values())


def upgrade() -> None:
    conn = op.get_bind()
    existing = {row[0] for row in conn.execute(sa.select(synonyms.c.term))}
    new = [r for r in _entries() if r["term"] not in existing]
    if new:
        op.bulk_insert(synonyms, new)


def downgrade() -> None:
    terms = [r["term"] for r in _entries()]
    op.execute(synonyms.delete().where(synonyms.c.term.in_(terms)))
