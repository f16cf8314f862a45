"""The users' resilience case: with Redis unreachable a promotion request fails fast and leaves nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from evidencehub.auth.model import SecurityEvent
from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.promotions.model import Promotion
from evidencehub.publish.model import PublishJob
from evidencehub.tasks.queue import forget_queues, queue_depth
from tests.support.cli import CliRunner
from tests.support.promotions import closed_port, flush_queue, use_redis_queue
from tests.support.runs import cases, store_run

REQUEST = ("promote", "request", "--project", "prism", "--release", "2026.11", "--build", "1042")


def _count(database: Database, model: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.redis
def test_requests_fail_fast_while_redis_is_down_and_succeed_once_it_is_back(
    database: Database, settings: Settings, cli: CliRunner, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_run(database, cases(3))
    use_redis_queue(monkeypatch, f"redis://127.0.0.1:{closed_port()}/0")
    monkeypatch.setenv("EVIDENCEHUB_QUEUE__SOCKET_TIMEOUT_SECONDS", "0.5")

    down = cli(*REQUEST)
    assert down.exit_code == 7, down.stderr
    assert "task queue unavailable" in down.stderr
    assert "Traceback" not in down.stderr + down.stdout
    assert _count(database, Promotion) == 0
    assert _count(database, PublishJob) == 0
    assert _count(database, SecurityEvent) == 0
    assert not (settings.data_dir / "landing-zone").exists()
    assert cli("promote", "list", "--json").json() == []

    forget_queues()
    use_redis_queue(monkeypatch, redis_url)  # Redis is back
    try:
        up = cli(*REQUEST, "--json")
        assert up.exit_code == 0, up.stderr
        assert up.json()["state"] == "requested"
        assert _count(database, Promotion) == 1
        assert queue_depth(load_settings()) == 1  # the job waits on the queue for a worker
    finally:
        flush_queue()
