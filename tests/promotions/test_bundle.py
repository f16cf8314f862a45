"""The evidence bundle: content, atomicity and idempotency in a file:// landing zone."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError
from evidencehub.promotions import bundle as bundle_module
from evidencehub.promotions.bundle import store_evidence_bundle
from evidencehub.publish.landing_zone import COMPLETE_MARKER, STAGING_DIR, BundleWriter, LandingZone
from evidencehub.results.model import Result, TestRun
from tests.promotions.support import HOSTILE_MESSAGE, SampleBuild, ingest_sample_build

NAME = "evidence-prism-2026.11-1042-p1"
# For tests where the database does not matter (it is covered on both backends by the others).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stored_counts(database: Database, build_id: int) -> dict[str, int]:
    with database.session() as session:
        rows = session.execute(
            select(Result.status, func.count())
            .join(TestRun, TestRun.id == Result.run_id)
            .where(TestRun.build_id == build_id)
            .group_by(Result.status)
        ).all()
    return dict(rows)  # type: ignore[arg-type]


@pytest.fixture
def sample(database: Database, settings: Settings, tmp_path: Path) -> SampleBuild:
    return ingest_sample_build(database, settings, tmp_path / "results")


def test_bundle_holds_manifest_originals_results_triage_and_report(
    database: Database, settings: Settings, sample: SampleBuild
) -> None:
    stored = store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)

    zone = LandingZone(settings)
    root = (settings.data_dir / "landing-zone").resolve()
    assert stored.url == f"{root.as_uri()}/{NAME}"
    marker = json.loads(zone.read_bytes(NAME, COMPLETE_MARKER))
    manifest_bytes = zone.read_bytes(NAME, "manifest.json")
    assert marker["manifest_sha256"] == stored.manifest_sha256 == _sha(manifest_bytes)
    manifest = json.loads(manifest_bytes)

    # Every file is listed with a sha256 and size that match what reads back, and nothing else is there.
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(zone.list_files(NAME)) == {*listed, "manifest.json", COMPLETE_MARKER}
    for path, entry in listed.items():
        data = zone.read_bytes(NAME, path)
        assert (_sha(data), len(data)) == (entry["sha256"], entry["size_bytes"]), path
    assert stored.files == len(listed) + 1 == marker["files"]
    assert stored.total_bytes == sum(entry["size_bytes"] for entry in listed.values()) + len(manifest_bytes)

    # Project, release, build, runs and totals agree with the database.
    counts = _stored_counts(database, sample.build_id)
    assert manifest["project"] == "prism" and manifest["release"] == "2026.11"
    assert manifest["build"]["name"] == "1042" and manifest["build"]["commit"] == "4f2a9c1"
    assert manifest["generator"]["name"] == "evidencehub" and manifest["created_at"]
    totals = manifest["totals"]
    assert totals["runs"] == len(manifest["runs"]) == 2
    assert totals["tests"] == sum(counts.values()) == sample.results
    assert (totals["passed"], totals["failures"], totals["errors"], totals["skipped"]) == (
        counts.get("passed", 0),
        counts.get("failed", 0),
        counts.get("error", 0),
        counts.get("skipped", 0),
    )
    assert sum(run["totals"]["tests"] for run in manifest["runs"]) == totals["tests"]

    # The original files, byte for byte (a .gz stays compressed), linked from their run's source list.
    sources = [source for run in manifest["runs"] for source in run["sources"]]
    assert len(sources) == 3 and manifest["missing_originals"] == []
    for source in sources:
        original = sample.files[Path(source["path"]).name]
        assert zone.read_bytes(NAME, source["bundle_path"]) == original
        assert source["sha256"] == _sha(original)

    # One JSON line per stored result.
    lines = zone.read_bytes(NAME, "results.jsonl").decode().splitlines()
    assert len(lines) == manifest["results"]["lines"] == sample.results
    records = [json.loads(line) for line in lines]
    assert len({record["id"] for record in records}) == sample.results
    assert {record["status"] for record in records} == {"passed", "failed", "error", "skipped"}
    assert any(record["message"] == HOSTILE_MESSAGE for record in records)

    # Triage of every failure.
    triage = json.loads(zone.read_bytes(NAME, "triage.json"))
    assert sum(len(report["failures"]) for report in triage) == sample.failures
    assert manifest["triage"]["failures"] == sample.failures


def test_report_groups_failures_and_is_self_contained(
    database: Database, settings: Settings, sample: SampleBuild
) -> None:
    store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    html = LandingZone(settings).read_bytes(NAME, "report.html").decode()
    manifest = json.loads(LandingZone(settings).read_bytes(NAME, "manifest.json"))

    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)
    assert "<script" not in html and "<img" not in html and "<link" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the hostile message, escaped
    assert "ci.example" in html  # the CI address is shown as text, not linked

    # Grouped: one section per triage category, one group per cluster, every failure in one group.
    sections = re.findall(r'<h2 id="section-\d+" class="section"><span class="cat (\w+)">', html)
    by_category = {key: count for key, count in manifest["triage"]["by_category"].items() if count}
    assert sorted(sections) == sorted(by_category)
    assert "system_issue" in sections  # "connection refused" is recognised as the environment
    assert len(re.findall(r'<h3 id="group-\d+" class="group">', html)) == manifest["triage"]["clusters"]
    assert html.count('<tr class="failure">') == sample.failures
    for test in ("test_cancel", "test_list", "test_bad", "test_render", "test_db"):
        assert test in html

    # Links stay inside the bundle: every relative href names a file of it (or an anchor of the page).
    files = {entry["path"] for entry in manifest["files"]} | {"manifest.json"}
    anchors = set(re.findall(r'id="([^"]+)"', html))
    for target in re.findall(r'href="([^"]+)"', html):
        if target.startswith("#"):
            assert target[1:] in anchors, target
        else:
            assert target in files, target


@sqlite_only
def test_without_triage_failures_are_grouped_by_status_and_type(
    database: Database, settings: Settings, sample: SampleBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "triage_available", lambda: False)
    store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    zone = LandingZone(settings)
    manifest = json.loads(zone.read_bytes(NAME, "manifest.json"))
    html = zone.read_bytes(NAME, "report.html").decode()

    assert manifest["triage"] is None and "triage.json" not in zone.list_files(NAME)
    sections = re.findall(r'<h2 id="section-\d+" class="section"><span class="cat (\w+)">', html)
    assert sorted(sections) == ["error", "failed"]
    assert html.count('<tr class="failure">') == sample.failures
    assert "psycopg.OperationalError" in html


@sqlite_only
def test_a_completed_bundle_is_returned_as_is(
    database: Database, settings: Settings, sample: SampleBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)

    def refuse(*_args: object, **_kwargs: object) -> BundleWriter:
        raise AssertionError("a completed bundle must not be written again")

    monkeypatch.setattr(LandingZone, "begin", refuse)
    assert store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME) == first


def _staging(settings: Settings) -> list[Path]:
    folder = settings.data_dir / "landing-zone" / STAGING_DIR
    return sorted(folder.iterdir()) if folder.exists() else []


@sqlite_only
def test_a_crash_while_writing_leaves_no_marker_and_the_retry_completes(
    database: Database, settings: Settings, sample: SampleBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = BundleWriter.add_stream
    written: list[str] = []

    def crash_after_two(self: BundleWriter, path: str, chunks: object) -> object:
        if len(written) == 2:
            raise KeyboardInterrupt("killed")  # stands for the process dying mid-bundle
        written.append(path)
        return real_add(self, path, chunks)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(BundleWriter, "add_stream", crash_after_two)
        patch.setattr(BundleWriter, "abort", lambda self: None)  # a killed process cleans nothing
        with pytest.raises(KeyboardInterrupt):
            store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)

    zone = LandingZone(settings)
    assert zone.completed(NAME) is None
    assert zone.list_files(NAME) == []  # nothing under the final name yet
    assert len(_staging(settings)) == 1  # the half-written attempt

    stored = store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    assert zone.completed(NAME) is not None
    assert _staging(settings) == []  # the crashed attempt was cleaned up
    assert stored.files == len(zone.list_files(NAME)) - 1


@sqlite_only
def test_a_crash_before_the_marker_is_replaced_on_retry(
    database: Database, settings: Settings, sample: SampleBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(LandingZone, "_mark_complete", lambda *_args: (_ for _ in ()).throw(SystemExit(9)))
        with pytest.raises(SystemExit):
            store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    zone = LandingZone(settings)
    assert "manifest.json" in zone.list_files(NAME)  # every file moved into place…
    assert zone.completed(NAME) is None  # …but without the marker it does not count

    stored = store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    assert zone.completed(NAME) is not None
    assert _sha(zone.read_bytes(NAME, "manifest.json")) == stored.manifest_sha256


@sqlite_only
def test_a_failure_removes_what_was_staged(
    database: Database, settings: Settings, sample: SampleBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "render_evidence_report", lambda view: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    assert _staging(settings) == []
    assert LandingZone(settings).list_files(NAME) == []


@sqlite_only
def test_missing_originals_are_named_in_the_manifest(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    settings.ingest.keep_originals = False
    sample = ingest_sample_build(database, settings, tmp_path / "results")
    stored = store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    zone = LandingZone(settings)
    manifest = json.loads(zone.read_bytes(NAME, "manifest.json"))
    assert len(manifest["missing_originals"]) == 3
    assert not any(path.startswith("originals/") for path in zone.list_files(NAME))
    assert stored.files == len(manifest["files"]) + 1
    assert "original not kept" in zone.read_bytes(NAME, "report.html").decode()


@sqlite_only
@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", "", "x" * 201, "a..b"])
def test_bundle_names_that_are_not_folder_names_are_refused(
    database: Database, settings: Settings, name: str
) -> None:
    with pytest.raises(InputError, match="bundle name"):
        store_evidence_bundle(database, settings, build_id=1, name=name)


def test_a_build_without_runs_has_no_bundle(database: Database, settings: Settings) -> None:
    from evidencehub.errors import NotFoundError
    from evidencehub.orgs.service import ensure_organization
    from evidencehub.results.model import Build, Project

    with database.session() as session:
        organization = ensure_organization(session, "default")
        project = Project(organization_id=organization.id, key="empty", name="empty")
        session.add(project)
        session.flush()
        build = Build(project_id=project.id, name="7")
        session.add(build)
        session.flush()
        build_id = build.id
    with pytest.raises(NotFoundError, match="build '7' of project 'empty' has no runs"):
        store_evidence_bundle(database, settings, build_id=build_id, name=NAME)
    with pytest.raises(NotFoundError, match="build 999999 does not exist"):
        store_evidence_bundle(database, settings, build_id=999_999, name=NAME)
    assert LandingZone(settings).list_files(NAME) == []


@sqlite_only
def test_a_damaged_original_stops_the_bundle_naming_the_file(
    database: Database, settings: Settings, sample: SampleBuild
) -> None:
    from evidencehub.results.originals import find_original

    kept = find_original(settings, _sha(sample.files["ui results.xml"]))
    assert kept is not None
    kept.write_bytes(b"<testsuites/>")
    with pytest.raises(InputError, match=r"kept original of .*ui results\.xml \(run \d+\) no longer matches"):
        store_evidence_bundle(database, settings, build_id=sample.build_id, name=NAME)
    assert LandingZone(settings).completed(NAME) is None
    assert _staging(settings) == []
