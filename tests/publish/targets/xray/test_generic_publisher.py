"""The generic publisher with target "xray" and a params dict — what a promotion calls — on both backends."""

from __future__ import annotations

import pytest

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from evidencehub.errors import InputError
from evidencehub.publish import service as publish
from evidencehub.publish.joblog import log_path, read_log
from evidencehub.publish.model import PublishJob
from tests.support.runs import cases, store_run
from tests.support.xray import PAT, only_execution, seed


def test_a_job_created_with_params_gets_its_execution_before_the_first_slice(
    database: Database,
    xray_settings: Settings,
    xray_server: RunningXrayEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EVIDENCEHUB_XRAY__USER")
    monkeypatch.delenv("EVIDENCEHUB_XRAY__PASSWORD")
    monkeypatch.setenv("EVIDENCEHUB_XRAY__TOKEN", PAT)  # a personal access token instead of Basic
    settings = load_settings()
    plan = seed(xray_server, "REL", "Test Plan")
    items = cases(23, failing_every=4)
    run_id = store_run(database, items, project="shop", build="9")
    params = {"project_key": "REL", "test_plan": plan, "environments": ["prod-eu"], "fix_version": "9.0"}
    job = publish.create_job(
        database, target="xray", run_ids=[run_id], params=params,
        slice_size=settings.xray.max_tests_per_import, project="shop", build="9",
    )  # fmt: skip
    final = publish.run_job(database, settings, job.id)
    assert final.state == "succeeded", final.error
    assert (final.slices_total, final.slices_done) == (3, 3)

    execution = only_execution(xray_server)
    assert execution["summary"] == "shop build 9"
    assert (execution["info"]["testPlanKey"], execution["info"]["testEnvironments"]) == (plan, ["prod-eu"])
    statuses = [run["status"] for run in execution["runs"]]
    assert (statuses.count("PASS"), statuses.count("FAIL")) == (17, 6)
    with database.session() as session:
        stored = session.get(PublishJob, job.id)
        assert stored is not None and stored.params["test_execution"] == execution["key"]
    detail = publish.job_detail(database, settings, job.id)
    assert {item.remote_task_id for item in detail.slices} == {execution["key"]}
    events = read_log(log_path(settings.data_dir, "xray", job.id))
    assert [event["status"] for event in events if event["event"] == "status"].count("success") == 3
    assert PAT not in log_path(settings.data_dir, "xray", job.id).read_text()


def test_unknown_params_are_refused_by_the_target(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator
) -> None:
    run_id = store_run(database, cases(2), project="shop")
    job = publish.create_job(
        database,
        target="xray",
        run_ids=[run_id],
        params={"project_key": "REL", "tset_plan": "REL-1"},
        slice_size=10,
    )
    with pytest.raises(InputError, match="tset_plan"):
        publish.run_job(database, xray_settings, job.id)
    assert xray_server.counters().get("requests", 0) == 0


def test_an_execution_stored_meanwhile_by_another_runner_wins(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator
) -> None:
    from evidencehub.publish.service import _prepare

    run_id = store_run(database, cases(2), project="shop")
    job = publish.create_job(
        database, target="xray", run_ids=[run_id], params={"project_key": "REL"}, slice_size=10
    )
    with database.session() as session:  # another runner prepared first and stored its execution
        row = session.get(PublishJob, job.id)
        assert row is not None
        row.params = {**row.params, "test_execution": "REL-77"}
    merged = _prepare(database, xray_settings, job, {"project_key": "REL"})  # this runner read the old params
    assert merged["test_execution"] == "REL-77"
    assert xray_server.counters()["executions"] == 1  # ours was made, but the stored one is used


def test_a_promotion_style_job_with_empty_params_uses_the_configured_project_key(
    database: Database,
    xray_settings: Settings,
    xray_server: RunningXrayEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evidencehub.errors import ConfigError
    from evidencehub.publish.registry import build_target

    run_id = store_run(database, cases(12), project="shop", build="31", environment="prod")
    probe = build_target("xray", xray_settings, {})  # what the promotion does to learn the slice size
    assert probe.slice_size == 10
    probe.close()
    job = publish.create_job(database, target="xray", run_ids=[run_id], params={}, slice_size=10)
    with pytest.raises(ConfigError, match=r"xray\.project_keys\.shop"):
        publish.run_job(database, xray_settings, job.id)

    monkeypatch.setenv("EVIDENCEHUB_XRAY__PROJECT_KEYS", '{"shop": "SHP"}')
    final = publish.run_job(database, load_settings(), job.id)
    assert final.state == "succeeded", final.error
    execution = only_execution(xray_server)
    assert (execution["project"], execution["summary"]) == ("SHP", "shop build 31")
    assert execution["info"]["testEnvironments"] == ["prod"]
    assert len(execution["runs"]) == 12
    with database.session() as session:
        stored = session.get(PublishJob, job.id)
        assert stored is not None
        assert (stored.params["project_key"], stored.params["test_execution"]) == ("SHP", execution["key"])
