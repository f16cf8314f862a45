"""The per-job JSON log: ``<data_dir>/<target>_task_logs/<job_id>.json``.

Format: JSON Lines — one JSON object per line, appended and flushed as each
event happens, so a crash loses nothing already written and a reader can
follow the file while the job runs (``tail -f``). Every object has ``at``
(ISO-8601 UTC), ``job`` and ``event`` (``job``, ``status``, ``retry`` or
``warning``); slice events add ``slice``, and where relevant ``status``,
``task_id``, ``attempt``, ``tests``, ``sha256`` and ``detail``.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from evidencehub.db.base import utcnow

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def log_path(data_dir: Path, target: str, job_id: str) -> Path:
    return data_dir / f"{_UNSAFE.sub('_', target)}_task_logs" / f"{_UNSAFE.sub('_', job_id)}.json"


class JobLog:
    def __init__(self, path: Path, job_id: str) -> None:
        self.path = path
        self.job_id = job_id
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        record = {"at": utcnow().isoformat(), "job": self.job_id, "event": event}
        record.update({key: value for key, value in fields.items() if value is not None})
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every event of a job log (a torn last line from a crash is skipped)."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events
