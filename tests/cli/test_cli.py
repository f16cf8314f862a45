from __future__ import annotations

from pathlib import Path

from evidencehub.config import Settings
from tests.support.cli import CliRunner
from tests.support.junit import junit_xml


def _results(tmp_path: Path) -> Path:
    path = tmp_path / "results.xml"
    path.write_text(
        junit_xml(
            [
                ("a.B", "t1", "passed"),
                ("a.B", "t2", "failed"),
                ("a.B", "t3", "error"),
                ("a.B", "t4", "skipped"),
            ]
        )
    )
    return path


def test_init_is_idempotent(cli: CliRunner, settings: Settings) -> None:
    first = cli("init", "--json")
    second = cli("init", "--json")
    assert first.exit_code == second.exit_code == 0
    assert second.json()["migrated"] == []
    assert settings.data_dir.is_dir()


def test_ingest_json_gives_run_id_and_totals(cli: CliRunner, settings: Settings, tmp_path: Path) -> None:
    result = cli("ingest", _results(tmp_path), "--project", "prism", "--build", "7", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data["run"], int)
    assert {key: data[key] for key in ("tests", "passed", "failures", "errors", "skipped")} == {
        "tests": 4,
        "passed": 1,
        "failures": 1,
        "errors": 1,
        "skipped": 1,
    }
    assert data["duration_ms"] == 1000.0
    assert data["created"] is True


def test_ingest_twice_says_no_op(cli: CliRunner, settings: Settings, tmp_path: Path) -> None:
    path = _results(tmp_path)
    cli("ingest", path, "--project", "prism", "--build", "7")
    again = cli("ingest", path, "--project", "prism", "--build", "7")
    assert again.exit_code == 0
    assert "already ingested" in again.stdout


def test_runs_list_and_show(cli: CliRunner, settings: Settings, tmp_path: Path) -> None:
    run_id = cli("ingest", _results(tmp_path), "--project", "prism", "--build", "7", "--json").json()["run"]
    listed = cli("runs", "list", "--json").json()
    assert [item["run"] for item in listed] == [run_id]
    shown = cli("runs", "show", str(run_id), "--json").json()
    assert shown["failures"] == 1
    assert shown["sources"][0]["format"] == "junit"
    human = cli("runs", "show", str(run_id))
    assert f"run {run_id}" in human.stdout
    assert "results.xml" in human.stdout


def test_runs_list_empty_state(cli: CliRunner, settings: Settings) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 0
    assert "no runs yet" in result.stdout


def test_show_unknown_run_exits_4(cli: CliRunner, settings: Settings) -> None:
    result = cli("runs", "show", "999")
    assert result.exit_code == 4
    assert "run 999 does not exist" in result.stderr


def test_bad_file_exits_2_and_names_it(cli: CliRunner, settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "broken.xml"
    bad.write_text("<testsuite><testcase name='x'>")
    result = cli("ingest", bad, "--project", "prism", "--build", "7")
    assert result.exit_code == 2
    assert "broken.xml" in result.stderr
    assert "Traceback" not in result.stderr
    assert cli("runs", "list", "--json").json() == []


def test_unknown_environment_exits_3(cli: CliRunner, settings: Settings) -> None:
    result = cli("--env", "nowhere", "runs", "list")
    assert result.exit_code == 3
    assert "known environments: local" in result.stderr


def test_unknown_format_exits_2(cli: CliRunner, settings: Settings, tmp_path: Path) -> None:
    result = cli("ingest", _results(tmp_path), "--project", "p", "--build", "1", "--format", "csv")
    assert result.exit_code == 2
    assert "--format 'csv' is not known" in result.stderr


def test_config_show_masks_secrets(cli: CliRunner, monkeypatch: object, tmp_path: Path) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("EVIDENCEHUB_DATABASE_URL", "postgresql+psycopg://u:hunter2@db/x")
    result = cli("config", "show", "--json")
    assert result.exit_code == 0
    assert "hunter2" not in result.stdout
    assert result.json()["database_url"] == "postgresql+psycopg://u:**********@db/x"
