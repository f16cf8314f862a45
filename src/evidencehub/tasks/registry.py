"""Task declarations, collected without the queue importing any domain.

A domain writes, in its ``tasks.py``::

    from evidencehub.tasks.registry import task

    @task("reports.execute")
    def execute(settings: Settings, execution_id: int) -> None: ...

and adds that module to :data:`TASK_MODULES` (the one list of task modules).
The queue binds every declared task to its huey instance when it is built;
the function receives the settings of the process that runs it first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Add one line here when a domain gains a tasks module.
TASK_MODULES = ("evidencehub.reports.tasks", "evidencehub.promotions.tasks")

TaskFunction = Callable[..., Any]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    function: TaskFunction
    retries: int | None  # None: the queue's default (settings.queue.retries)
    periodic_minutes: int | None  # run every N minutes on the worker's scheduler


_TASKS: dict[str, TaskSpec] = {}


def task(
    name: str, *, retries: int | None = None, every_minutes: int | None = None
) -> Callable[[TaskFunction], TaskFunction]:
    """Declare a task function ``fn(settings, *args, **kwargs)`` under a stable name."""

    def declare(function: TaskFunction) -> TaskFunction:
        existing = _TASKS.get(name)
        if existing is not None and existing.function is not function:
            raise ValueError(f"task name '{name}' is declared twice")
        _TASKS[name] = TaskSpec(name, function, retries, every_minutes)
        return function

    return declare


def declared_tasks() -> dict[str, TaskSpec]:
    """Every declared task, after importing the task modules."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    return dict(_TASKS)
