"""Ingestion triages the new run; generated Prism samples come out with a sensible category mix."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.pipeline import ingest_and_triage
from evidencehub.results.ingest import IngestRequest
from evidencehub.triage.service import decide_cluster, triage_report
from tests.support.cli import CliRunner
from tests.support.junit import junit_xml
from tests.support.samples import sample_generator


def _results(tmp_path: Path) -> Path:
    path = tmp_path / "results.xml"
    path.write_text(junit_xml([("a.B", "t1", "passed"), ("a.B", "t2", "failed"), ("a.B", "t3", "error")]))
    return path


def test_ingest_triages_the_new_run(cli: CliRunner, settings: Settings, tmp_path: Path) -> None:
    path = _results(tmp_path)
    result = cli("ingest", path, "--project", "prism", "--build", "7", "--json")
    assert result.exit_code == 0, result.stderr
    triage = result.json()["triage"]
    assert triage["failures"] == 2 and sum(triage["by_category"].values()) == 2
    people = cli("ingest", _results(tmp_path / ".."), "--project", "prism", "--build", "8")
    assert "triage: 2 failures" in people.stdout
    again = cli("ingest", path, "--project", "prism", "--build", "7", "--json")
    assert again.json()["triage"] is None  # nothing new was stored


def test_auto_triage_can_be_turned_off(
    cli: CliRunner, settings: Settings, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EVIDENCEHUB_TRIAGE__AUTO_ON_INGEST", "false")
    result = cli("ingest", _results(tmp_path), "--project", "prism", "--build", "7", "--json")
    assert result.json()["triage"] is None
    # The report triages the run on demand.
    report = cli("triage", result.json()["run"], "--format", "json").json()
    assert report["summary"]["failures"] == 2


def test_a_broken_rule_file_stores_nothing(
    cli: CliRunner, settings: Settings, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [{name: x, category: nonsense, when: {message: a}}]", encoding="utf-8")
    monkeypatch.setenv("EVIDENCEHUB_TRIAGE__RULES_FILES", f'["{rules}"]')
    result = cli("ingest", _results(tmp_path), "--project", "prism", "--build", "7")
    assert result.exit_code == 3 and "rule 1 ('x'), field 'category'" in result.stderr
    assert cli("runs", "list", "--json").json() == []


@pytest.mark.slow
def test_generated_prism_builds_get_a_sensible_category_mix(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    generator = sample_generator()
    intended: Counter[str] = Counter()
    runs = []
    for build in (1, 2):
        out = tmp_path / f"build-{build}"
        stats = generator.generate(out, build_number=build, scale=0.3)
        if build == 1:
            for counts in stats.values():
                intended.update({key[4:]: value for key, value in counts.items() if key.startswith("cat:")})
        outcome = ingest_and_triage(
            database,
            settings,
            IngestRequest(
                paths=[str(out)], project="prism", build=str(build), release="2026.11", environment="qa"
            ),
        )
        assert outcome.triage is not None and outcome.ingest.run is not None
        runs.append(outcome.ingest.run.id)

    with database.session() as session:
        first = triage_report(session, runs[0])
    found = first.summary.by_category
    assert found["product_bug"] == 0  # nobody has decided anything yet: never guessed
    # Environment failures are recognised, test-code failures too, the rest waits for a person.
    assert abs(found["system_issue"] - intended["system_issue"]) <= 0.15 * intended["system_issue"] + 2
    assert abs(found["automation_bug"] - intended["automation_bug"]) <= 0.25 * intended["automation_bug"] + 2
    assert found["to_investigate"] >= intended["product_bug"] + intended["to_investigate"] - 3
    assert first.summary.clusters < first.summary.failures / 2  # volatile tokens do not split errors

    # A person confirms the "jobs left behind after cancel" cluster; the next build follows.
    cancel = next(cluster for cluster in first.clusters if "after cancel" in cluster.message)
    decide_cluster(database, cluster_key=cancel.id, category="product_bug", issue="#26", actor="qa")
    with database.session() as session:
        second = triage_report(session, runs[1])
    # Build 2 was triaged before the decision: its failures of the cluster are covered now too.
    carried = [failure for failure in second.failures if failure.cluster == cancel.id]
    assert carried and all(
        failure.category == "product_bug" and failure.issue == "#26" for failure in carried
    )
