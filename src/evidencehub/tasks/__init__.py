"""The task queue: one huey instance per process, built from settings.

Embedded default: huey on SQLite at ``<data_dir>/queue.db`` with consumer
threads inside ``evidencehub serve``. At scale: huey on Redis
(``EVIDENCEHUB_QUEUE_URL=redis://…``) with ``evidencehub worker`` processes.
Domains declare their tasks with :func:`evidencehub.tasks.registry.task` and
list their module in ``registry.TASK_MODULES``; callers use :func:`enqueue`.
"""

from evidencehub.tasks.queue import enqueue, get_queue, queue_depth
from evidencehub.tasks.registry import task

__all__ = ["enqueue", "get_queue", "queue_depth", "task"]
