"""Who runs a job (a publish job, a promotion): a runner's name, and whether it is still alive.

A runner is named ``host:pid:thread``. On the same host a recorded runner is
alive while its process is; in this very process, while it is another thread
with a fresh heartbeat; on another host, while its heartbeat is fresh.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading

from evidencehub.db.base import utcnow


def runner_name() -> str:
    """This thread of this process on this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def runner_alive(runner: str | None, heartbeat_at: dt.datetime | None, stale: dt.timedelta) -> bool:
    """Whether the recorded runner still runs (by pid on this host, by heartbeat elsewhere)."""
    if not runner:
        return False
    host, _, rest = runner.partition(":")
    pid_text, _, thread_text = rest.partition(":")
    fresh = heartbeat_at is not None and utcnow() - heartbeat_at < stale
    if host != socket.gethostname() or not pid_text.isdigit():
        return fresh
    pid = int(pid_text)
    if pid != os.getpid():
        return _pid_alive(pid)
    return thread_text != str(threading.get_ident()) and fresh
