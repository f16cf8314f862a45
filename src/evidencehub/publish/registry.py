"""Which targets exist and where their plug-ins live (imported only when a job needs them).

A target module provides ``create_target(settings, params) -> PublishTarget``
and may provide ``after_job(database, settings, job) -> list[str]``, run after a
job succeeds (Octane links the backlog item there); it returns messages for
the user. It may also provide ``prepare_job(database, settings, job, params) ->
dict``, run before each run of the job: the entries it returns are merged into
the job's stored parameters before the target is built (Xray creates the job's
Test Execution there, so a resume imports into the same one). And it may
provide ``readiness_check(database, settings) -> ops.health.CheckResult``,
which /health/ready runs while promotions publish to that target. Adding a
target is one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError
from evidencehub.ops.health import Check
from evidencehub.publish.schemas import JobOut
from evidencehub.publish.target import PublishTarget

TARGET_MODULES: dict[str, str] = {
    "octane": "evidencehub.publish.targets.octane.plugin",
    "xray": "evidencehub.publish.targets.xray.plugin",
}

AfterJob = Callable[[Database, Settings, JobOut], list[str]]
PrepareJob = Callable[[Database, Settings, JobOut, dict[str, Any]], dict[str, Any]]


def _module(name: str) -> ModuleType:
    path = TARGET_MODULES.get(name)
    if path is None:
        raise InputError(
            f"unknown publishing target {name!r}; known targets: {', '.join(sorted(TARGET_MODULES))}",
            details={"target": name},
        )
    return importlib.import_module(path)


def build_target(name: str, settings: Settings, params: dict[str, Any]) -> PublishTarget:
    target: PublishTarget = _module(name).create_target(settings, params)
    return target


def after_job_hook(name: str) -> AfterJob | None:
    hook: AfterJob | None = getattr(_module(name), "after_job", None)
    return hook


def prepare_job_hook(name: str) -> PrepareJob | None:
    hook: PrepareJob | None = getattr(_module(name), "prepare_job", None)
    return hook


def promotion_targets(settings: Settings) -> list[str]:
    """Every target a promotion may publish to: the default list and each project's own."""
    promotions = settings.promotions
    names = [*promotions.targets, *(name for names in promotions.project_targets.values() for name in names)]
    return list(dict.fromkeys(names))


def readiness_checks(settings: Settings) -> dict[str, Check]:
    """The readiness checks of the targets promotions publish to (those whose plug-in has one)."""
    checks: dict[str, Check] = {}
    for name in promotion_targets(settings):
        check: Check | None = getattr(_module(name), "readiness_check", None)
        if check is not None:
            checks[name] = check
    return checks
