"""The index sync job, run by a real RQ worker in burst mode on real Redis."""
from flask import Flask
from rq import Queue
from rq.registry import FailedJobRegistry

from core.db import unit_of_work
from core.queue import DEFAULT_QUEUE, enqueue_index_sync
from core.services.people.authz import command_line_actor
from core.services.catalog.admin import set_service_active
from tests.conftest import cli


def test_a_worker_applies_a_change_committed_by_another_process(catalog_app: Flask) -> None:
    platform = catalog_app.extensions["platform"]
    engine = catalog_app.extensions["search"]
    conn = platform.redis
    Queue(DEFAULT_QUEUE, connection=conn).empty()
    before = engine.index().manifest.version

    # what an API handler will do: change, commit, then enqueue
    with unit_of_work(platform.session_factory) as session:
        set_service_active(session, command_line_actor(), "T-HZ-S002", False)
    enqueue_index_sync(conn)

    result = cli(catalog_app, "worker", "--burst", "--simple")
    assert result.exit_code == 0, result.output
    assert len(FailedJobRegistry(DEFAULT_QUEUE, connection=conn)) == 0
    assert engine.index().manifest.version != before
    assert "T-HZ-S002" not in [h.doc.code for h in engine.search("药粉是哪种晶型", 5).hits]
