"""A Xray publisher process killed with SIGKILL mid-job, then resumed: no test lost, none duplicated."""

from __future__ import annotations

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from evidencehub.publish.model import PublishJob
from tests.support.cli import CliRunner
from tests.support.crash import kill_publisher_mid_job, resume_to_success
from tests.support.runs import cases, store_run
from tests.support.xray import only_execution

JOB = "xray-crash-and-resume"


def test_sigkill_mid_job_then_resume_lands_every_test_once(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator, cli: CliRunner
) -> None:
    xray_server.set_faults(latency_ms=40)  # slow enough imports that the kill lands mid-job
    items = cases(200)
    run_id = store_run(database, items, project="shop")
    killed = kill_publisher_mid_job(
        database, xray_settings, JOB, ["xray", "--run", str(run_id), "--project-key", "SHOP"]
    )
    imports_before = xray_server.counters()["imports"]

    xray_server.set_faults()
    after = resume_to_success(database, xray_settings, cli, JOB, killed)

    by_slice = {item.slice_no: item for item in after.slices}
    # Only unfinished slices were imported again (a retried import counts as one of their attempts).
    assert xray_server.counters()["imports"] - imports_before <= sum(
        by_slice[item.slice_no].attempts for item in killed.unfinished
    )
    execution = only_execution(xray_server)  # the resume imported into the same Test Execution
    assert sorted(run["definition"] for run in execution["runs"]) == sorted(
        f"{case.classname}.{case.name}" for case in items
    )
    counters = xray_server.counters()
    assert (counters["tests"], counters["tests_created"]) == (200, 200)
    with database.session() as session:
        job = session.get(PublishJob, JOB)
        assert job is not None
        assert job.params["test_execution"] == execution["key"]
