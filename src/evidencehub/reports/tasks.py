"""Queue tasks of the reports domain: run an execution, and the periodic watchdog."""

from __future__ import annotations

from evidencehub.config import Settings
from evidencehub.db.session import get_database
from evidencehub.reports.service import EXECUTE_TASK, run_execution, sweep
from evidencehub.tasks.registry import task


@task(EXECUTE_TASK)
def execute(settings: Settings, execution_id: int) -> str:
    return run_execution(get_database(settings), settings, execution_id)


@task("reports.watchdog", every_minutes=1, retries=0)
def watchdog(settings: Settings) -> int:
    with get_database(settings).session() as session:
        return sweep(session, settings)
