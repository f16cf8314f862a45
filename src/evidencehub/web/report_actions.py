"""Starting a report execution for a web caller: what the API and the page's "Run now" both do.

Both count the request in ``evidencehub_report_executions_total`` — queued, or
unavailable when the task queue cannot take it — so the metric tells how many
executions people asked for, wherever they clicked.
"""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool

from evidencehub.auth.service import Principal
from evidencehub.errors import UnavailableError
from evidencehub.ops.metrics import REPORT_EXECUTIONS
from evidencehub.reports import service as reports
from evidencehub.reports.schemas import ReportExecutionOut
from evidencehub.web.deps import AppServices


async def start_report_execution(
    app: AppServices, principal: Principal, report_id: int
) -> ReportExecutionOut:
    """Queue an execution of the organization's report (UnavailableError when the queue is down)."""
    try:
        execution = await run_in_threadpool(
            reports.start_execution,
            app.database,
            app.settings,
            principal.organization_id,
            report_id,
            actor_user_id=principal.user_id,
        )
    except UnavailableError:
        REPORT_EXECUTIONS.labels(status="unavailable").inc()
        raise
    REPORT_EXECUTIONS.labels(status="queued").inc()
    return execution
