"""Recording what happens to a job's slices: a row change, an event row and a JSON log line for each.

Worker threads and the dispatcher report through one tracker; a lock keeps the
writes of one job serial (short transactions, no SQLite writer contention).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy import select, update

from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.net.retry import RetryNotice
from evidencehub.publish.joblog import JobLog
from evidencehub.publish.model import PublishJob, UploadTask, UploadTaskEvent
from evidencehub.publish.schemas import FINISHED, TaskStatus


class JobTracker:
    def __init__(self, database: Database, job_id: str, log: JobLog) -> None:
        self.database = database
        self.job_id = job_id
        self.log = log
        self._lock = threading.Lock()
        with database.session() as session:
            rows = session.execute(
                select(UploadTask.slice_no, UploadTask.id).where(UploadTask.job_id == job_id)
            ).all()
        self._task_ids: dict[int, int] = dict(rows)

    def status(
        self,
        slice_no: int,
        status: TaskStatus,
        *,
        remote_task_id: str | None = None,
        error: str | None = None,
        detail: str | None = None,
        new_attempt: bool = False,
        generation: int | None = None,
        payload_sha256: str | None = None,
        payload_bytes: int | None = None,
    ) -> None:
        """Move a slice to ``status`` (the event is written even when the status is unchanged)."""
        now = utcnow()
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if remote_task_id is not None:
            values["remote_task_id"] = remote_task_id
        if error is not None:
            values["last_error"] = error
        if generation is not None:
            values["generation"] = generation
        if payload_sha256 is not None:
            values["payload_sha256"] = payload_sha256
            values["payload_bytes"] = payload_bytes
        if status is TaskStatus.SENDING:
            values["sent_at"] = now
        if status in FINISHED:
            values["finished_at"] = now
        task_id = self._task_ids[slice_no]
        with self._lock, self.database.session() as session:
            if new_attempt:
                values["attempts"] = UploadTask.attempts + 1
            session.execute(update(UploadTask).where(UploadTask.id == task_id).values(**values))
            attempt = session.scalar(select(UploadTask.attempts).where(UploadTask.id == task_id))
            session.add(
                UploadTaskEvent(
                    job_id=self.job_id,
                    task_id=task_id,
                    slice_no=slice_no,
                    at=now,
                    kind="status",
                    status=status.value,
                    attempt=attempt,
                    detail=error or detail,
                )
            )
        self.log.write(
            "status",
            slice=slice_no,
            status=status.value,
            task_id=remote_task_id,
            attempt=attempt,
            sha256=payload_sha256,
            detail=error or detail,
        )

    def retry(self, slice_no: int, notice: RetryNotice) -> None:
        """A failed try that will be retried after ``notice.wait_seconds``."""
        task_id = self._task_ids[slice_no]
        detail = f"{notice.reason}: {notice.error} — retrying in {notice.wait_seconds:.1f}s"
        with self._lock, self.database.session() as session:
            session.execute(
                update(UploadTask)
                .where(UploadTask.id == task_id)
                .values(attempts=UploadTask.attempts + 1, last_error=notice.error, updated_at=utcnow())
            )
            session.add(
                UploadTaskEvent(
                    job_id=self.job_id,
                    task_id=task_id,
                    slice_no=slice_no,
                    kind="retry",
                    attempt=notice.attempt,
                    detail=detail,
                )
            )
        self.log.write("retry", slice=slice_no, attempt=notice.attempt, reason=notice.reason, detail=detail)

    def warning(self, slice_no: int | None, message: str) -> None:
        with self._lock, self.database.session() as session:
            session.add(
                UploadTaskEvent(
                    job_id=self.job_id,
                    task_id=self._task_ids.get(slice_no) if slice_no is not None else None,
                    slice_no=slice_no,
                    kind="warning",
                    detail=message,
                )
            )
            session.execute(
                update(PublishJob)
                .where(PublishJob.id == self.job_id)
                .values(warnings=PublishJob.warnings + 1)
            )
        self.log.write("warning", slice=slice_no, detail=message)

    def job(self, event: str, **fields: Any) -> None:
        """A job-level change (state, counters, heartbeat); ``event`` names it in the log."""
        values = {key: value for key, value in fields.items() if key != "detail"}
        values["updated_at"] = utcnow()
        with self._lock, self.database.session() as session:
            session.execute(update(PublishJob).where(PublishJob.id == self.job_id).values(**values))
            if event != "heartbeat":
                session.add(
                    UploadTaskEvent(
                        job_id=self.job_id,
                        kind="job",
                        status=fields.get("state"),
                        detail=fields.get("detail"),
                    )
                )
        if event != "heartbeat":
            self.log.write("job", change=event, **{key: _plain(value) for key, value in fields.items()})


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value
