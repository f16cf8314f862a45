"""A publisher process killed with SIGKILL mid-job, then resumed: no slice lost, none sent twice."""

from __future__ import annotations

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.emulators.octane.runner import RunningEmulator
from tests.support.cli import CliRunner
from tests.support.crash import kill_publisher_mid_job, resume_to_success
from tests.support.octane import assert_exactly
from tests.support.runs import cases, store_run

JOB = "crash-and-resume"


def test_sigkill_mid_job_then_resume_publishes_every_run_exactly_once(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator, cli: CliRunner
) -> None:
    octane_emulator.configure(tasks_per_second=25)
    run_id = store_run(database, cases(200))
    killed = kill_publisher_mid_job(database, octane_settings, JOB, ["octane", "--run", str(run_id)])
    posts_before = octane_emulator.counters()["posts_total"]

    resume_to_success(database, octane_settings, cli, JOB, killed)

    assert octane_emulator.counters()["posts_total"] - posts_before <= len(killed.unfinished)
    assert_exactly(octane_emulator, {case.name for case in cases(200)})
