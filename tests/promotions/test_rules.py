"""Promotion rules without a queue: job names, publish job ids, targets, and who recovers what."""

from __future__ import annotations

import datetime as dt
import re
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidencehub.config import Settings, load_settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.errors import ConfigError
from evidencehub.promotions.job import recover
from evidencehub.promotions.model import Promotion
from evidencehub.promotions.service import format_job_name, publish_job_id, targets_for
from evidencehub.results.model import Build, TestRun
from tests.support.runs import cases, store_run

PUBLISH_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


def test_the_job_name_template_is_configurable_and_checked() -> None:
    names = {"project": "prism", "release": "2026.11", "build": "1042", "target": "PROD", "promotion_id": 7}
    assert format_job_name(load_settings(), **names) == "evidence-prism-2026.11-1042-p7"  # type: ignore[arg-type]
    custom = load_settings(promotions={"job_name": "{target}/{project}#{promotion_id}"})
    assert format_job_name(custom, **names) == "PROD/prism#7"  # type: ignore[arg-type]
    broken = load_settings(promotions={"job_name": "evidence-{ticket}"})
    with pytest.raises(ConfigError, match=r"may use only \{project\}"):
        format_job_name(broken, **names)  # type: ignore[arg-type]


@given(st.text(min_size=0, max_size=400), st.sampled_from(["octane", "xray"]))
def test_publish_job_ids_are_always_valid_and_keep_the_target(job_name: str, target: str) -> None:
    job_id = publish_job_id(job_name, target)
    assert PUBLISH_JOB_ID.match(job_id), job_id
    assert job_id.endswith(f"-{target}")


def test_targets_per_project_must_be_publishing_targets() -> None:
    settings = load_settings(promotions={"project_targets": {"radar": ["octane", "octane"]}})
    assert targets_for(settings, "prism") == ["octane"]
    assert targets_for(settings, "radar") == ["octane"]
    wrong = load_settings(promotions={"targets": ["octane", "jira"]})
    with pytest.raises(ConfigError, match="jira"):
        targets_for(wrong, "prism")


def _promotion(
    database: Database, state: str, *, runner: str | None, age_seconds: float, release: str
) -> int:
    store_run(database, cases(1))
    with database.session() as session:
        build = session.query(Build).one()
        run = session.query(TestRun).first()
        assert run is not None
        now = utcnow() - dt.timedelta(seconds=age_seconds)
        promotion = Promotion(
            organization_id=1,
            project_id=build.project_id,
            build_id=build.id,
            project="prism",
            release=release,
            build=build.name,
            target="PROD",
            upload_regression=False,
            requester="test",
            state=state,
            job_name=f"job-{release}",
            publications={},
            runner=runner,
            heartbeat_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(promotion)
        session.flush()
        return promotion.id


def _dead_pid() -> int:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_recovery_puts_back_only_promotions_nobody_runs(database: Database, settings: Settings) -> None:
    host = socket.gethostname()
    dead = _promotion(database, "running", runner=f"{host}:{_dead_pid()}:1", age_seconds=1, release="a")
    alive = _promotion(database, "running", runner=f"{host}:1:1", age_seconds=1, release="b")  # pid 1 lives
    far_away = _promotion(database, "cancelling", runner="elsewhere:42:1", age_seconds=3600, release="c")
    fresh_request = _promotion(database, "requested", runner=None, age_seconds=1, release="d")
    old_request = _promotion(database, "requested", runner=None, age_seconds=3600, release="e")
    _promotion(database, "succeeded", runner=None, age_seconds=3600, release="f")
    enqueued: list[int] = []
    assert recover(database, settings, enqueue=enqueued.append) == 3
    assert sorted(enqueued) == sorted([dead, far_away, old_request])
    assert alive not in enqueued and fresh_request not in enqueued
