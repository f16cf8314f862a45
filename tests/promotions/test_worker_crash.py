"""A worker killed with SIGKILL mid-job; the next worker to start finishes it: no run lost, none twice.

Runs on the embedded stack (SQLite, huey on SQLite) and the scaled one
(PostgreSQL, huey on Redis) — the real `evidencehub worker` in subprocesses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.emulators.octane.runner import RunningEmulator
from tests.support.cli import CliRunner
from tests.support.octane import assert_exactly
from tests.support.promotions import detail, wait_for, wait_for_state
from tests.support.runs import cases, store_run

STORIES = 300


@contextmanager
def worker_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("evidencehub")), "worker", "--workers", "1"],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=60)


@pytest.mark.slow
def test_a_killed_worker_s_job_is_finished_by_the_next_worker(
    queue: str,
    backend: str,
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if queue == "embedded" and backend == "postgresql":
        pytest.skip("the embedded queue runs with SQLite, Redis with PostgreSQL")
    monkeypatch.setenv("EVIDENCEHUB_OCTANE__QUEUE_LIMIT", "3")
    octane_emulator.configure(tasks_per_second=15)
    store_run(database, cases(STORIES))
    requested = cli(
        "promote", "request", "--project", "prism", "--release", "2026.11", "--build", "1042", "--json"
    )
    assert requested.exit_code == 0, requested.stderr
    promotion_id = int(requested.json()["id"])
    with worker_process() as first:

        def some_slices_done() -> bool:
            assert first.poll() is None, "the first worker ended on its own"
            jobs = detail(database, octane_settings, promotion_id).jobs
            return bool(jobs) and sum(item.status == "success" for item in jobs[0].slices) >= 3

        wait_for(some_slices_done, timeout=90, what="three slices published")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    before = detail(database, octane_settings, promotion_id)
    assert before.promotion.state == "running"  # the killed worker never got to say otherwise
    finished_before = {item.slice_no for item in before.jobs[0].slices if item.status == "success"}
    assert len(finished_before) < len(before.jobs[0].slices), "the kill came too late to test anything"

    with worker_process():
        done = wait_for_state(database, octane_settings, promotion_id, "succeeded", "failed", timeout=120)
    assert done.promotion.state == "succeeded", done.promotion.error
    assert done.promotion.attempts == 2
    slices = done.jobs[0].slices
    assert all(item.status == "success" for item in slices)
    assert all(item.attempts == 1 for item in slices if item.slice_no in finished_before)  # not sent again
    assert_exactly(octane_emulator, {case.name for case in cases(STORIES)})  # 0 lost, 0 duplicated
    assert any("resumed (attempt 2)" in (event.detail or "") for event in done.history)
