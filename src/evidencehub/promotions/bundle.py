"""The evidence bundle of a build, written to the landing zone.

A bundle is one folder, ``<landing zone>/<name>/``::

    manifest.json          project, release, build, runs and totals, sha256 + size of every other file
    results.jsonl          every stored result of the build's runs, one JSON object a line
    triage.json            the triage report of each run (when the triage feature is present)
    report.html            a self-contained evidence report: summary, failures grouped, links
    originals/run-N/…      the result files exactly as ingested (kept by results.originals)
    _COMPLETE              written last, names the manifest's sha256 (see publish.landing_zone)

Reads go through the results and triage services only.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from evidencehub import __version__
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError, NotFoundError
from evidencehub.ops.logging import get_logger
from evidencehub.promotions.evidence_report import EvidenceView, FailureRow, render_evidence_report
from evidencehub.publish.landing_zone import BundleWriter, Completion, FileEntry, LandingZone
from evidencehub.results.originals import find_original
from evidencehub.results.schemas import BuildOut, ResultExport, RunSummary, RunTotals
from evidencehub.results.service import build_with_runs, export_results, result_ids
from evidencehub.results.status import Status

if TYPE_CHECKING:
    from evidencehub.triage.schemas import TriageReport

log = get_logger(__name__)

BUNDLE_FORMAT = "evidencehub-bundle/1"
MANIFEST = "manifest.json"
RESULTS = "results.jsonl"
TRIAGE = "triage.json"
REPORT = "report.html"
_CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FAILED = frozenset({Status.FAILED.value, Status.ERROR.value})
_EXPORT_FIELDS = tuple(ResultExport.__dataclass_fields__)


@dataclass(frozen=True)
class StoredBundle:
    url: str  # fsspec URL of the bundle folder in the landing zone (no credentials in it)
    manifest_sha256: str
    files: int  # every file of the bundle but the completion marker, manifest.json included
    total_bytes: int


def store_evidence_bundle(
    database: Database, settings: Settings, *, build_id: int, name: str
) -> StoredBundle:
    """Build the evidence bundle for a build and write it atomically to <landing zone>/<name>/.

    Idempotent: a completed bundle of that name is returned as is. Runs not triaged yet are
    triaged first (when the triage feature is present). A crashed earlier attempt is removed
    and written again. Raises NotFoundError for a build that does not exist or has no runs,
    InputError for an unusable name or a file past the size limits, RemoteError when the
    landing zone fails, ConfigError when its URL cannot be used.
    """
    zone = LandingZone(settings)
    done = zone.completed(name)
    if done is not None:
        log.info("bundle already in the landing zone", bundle=done.url)
        return StoredBundle(done.url, done.manifest_sha256, done.files, done.total_bytes)
    with database.session() as session:
        build, runs = build_with_runs(session, build_id)
    if not runs:
        raise NotFoundError(
            f"build '{build.name}' of project '{build.project}' has no runs: there is no evidence to bundle",
            details={"build": build_id},
        )
    triage = _triage_reports(database, settings, [run.id for run in runs])
    writer = zone.begin(name)
    try:
        with database.session() as session:
            completion = _write_bundle(session, settings, writer, build, runs, triage)
    except BaseException:
        writer.abort()
        raise
    return StoredBundle(completion.url, completion.manifest_sha256, completion.files, completion.total_bytes)


# --- triage ----------------------------------------------------------------------------------------


def triage_available() -> bool:
    """Whether this installation has the triage feature (its service module)."""
    try:
        return importlib.util.find_spec("evidencehub.triage.service") is not None
    except ModuleNotFoundError:
        return False


def _triage_reports(
    database: Database, settings: Settings, run_ids: Sequence[int]
) -> dict[int, TriageReport] | None:
    """Each run's triage report, triaging runs not triaged yet; None without the triage feature."""
    if not triage_available():
        return None
    from evidencehub.triage.service import triage_report, triage_run

    for run_id in run_ids:
        triage_run(database, settings, run_id)  # a run already triaged is left as it is
    with database.session() as session:
        return {
            run_id: triage_report(
                session, run_id, count_flaky_as_product_bugs=settings.triage.count_flaky_as_product_bugs
            )
            for run_id in run_ids
        }


# --- writing ---------------------------------------------------------------------------------------


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def original_name(index: int, source_path: str) -> str:
    """A file name for the bundle from an ingested path (``dir/a b.xml`` → ``01-a_b.xml``)."""
    base = re.split(r"[/\\!]", source_path)[-1] or "result"
    safe = _UNSAFE.sub("_", base).strip("._") or "result"
    return f"{index:02d}-{safe[:150]}"


def _write_originals(
    settings: Settings, writer: BundleWriter, runs: Sequence[RunSummary]
) -> tuple[dict[tuple[int, str], str], list[dict[str, Any]]]:
    """Copy each run's kept original files; returns bundle paths by (run, sha256) and what was missing."""
    placed: dict[tuple[int, str], str] = {}
    missing: list[dict[str, Any]] = []
    for run in runs:
        for index, source in enumerate(run.sources, start=1):
            kept = find_original(settings, source.sha256)
            if kept is None:
                missing.append({"run": run.id, "path": source.path, "sha256": source.sha256})
                continue
            entry = writer.add_stream(
                f"originals/run-{run.id}/{original_name(index, source.path)}", _file_chunks(kept)
            )
            if entry.sha256 != source.sha256:
                raise InputError(
                    f"the kept original of {source.path} (run {run.id}) no longer matches its sha256: "
                    f"{kept} was changed or damaged; delete it and ingest the file again",
                    details={"file": source.path, "run": run.id, "kept": str(kept)},
                )
            placed[(run.id, source.sha256)] = entry.path
    if missing:
        log.warning(
            "original result files not kept (ingested before keeping began, or ingest.keep_originals off)",
            missing=len(missing),
        )
    return placed, missing


def _json_default(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _ResultLines:
    """Streams the build's results as JSON Lines, counting lines and keeping the first failures."""

    def __init__(self, session: Session, run_ids: Sequence[int], *, batch: int, keep_failures: int) -> None:
        self._session = session
        self._run_ids = list(run_ids)
        self._batch = batch
        self._keep = keep_failures
        self.lines = 0
        self.failures: list[ResultExport] = []
        self.failure_count = 0

    def chunks(self) -> Iterator[bytes]:
        ids = result_ids(self._session, self._run_ids)
        for start in range(0, len(ids), self._batch):
            window = ids[start : start + self._batch]
            rows = export_results(self._session, self._run_ids, first_id=window[0], last_id=window[-1])
            lines = []
            for row in rows:
                record = {name: getattr(row, name) for name in _EXPORT_FIELDS}
                lines.append(json.dumps(record, default=_json_default, ensure_ascii=False))
                if row.status in _FAILED:
                    self.failure_count += 1
                    if len(self.failures) < self._keep:
                        self.failures.append(row)
            self.lines += len(lines)
            if lines:
                yield ("\n".join(lines) + "\n").encode()


def _totals(runs: Sequence[RunSummary]) -> RunTotals:
    total = RunTotals()
    for run in runs:
        for name in ("tests", "passed", "failures", "errors", "skipped", "flaky"):
            setattr(total, name, getattr(total, name) + getattr(run.totals, name))
        total.duration_ms += run.totals.duration_ms
    return total


def _build_json(build: BuildOut) -> dict[str, Any]:
    return build.model_dump(mode="json", exclude={"project", "project_id"})


def _runs_json(runs: Sequence[RunSummary], placed: dict[tuple[int, str], str]) -> list[dict[str, Any]]:
    documents = []
    for run in runs:
        document = run.model_dump(mode="json", exclude={"project", "build", "release", "sources"})
        document["sources"] = [
            {**source.model_dump(mode="json"), "bundle_path": placed.get((run.id, source.sha256))}
            for source in run.sources
        ]
        documents.append(document)
    return documents


def _failure_rows(
    lines: _ResultLines, triage: dict[int, TriageReport] | None, limit: int
) -> tuple[list[FailureRow], int]:
    """The failures the report lists (at most ``limit``) and how many there are in all.

    Triaged failures come in the triage report's order across all runs: category (what needs
    attention first), then cluster, then run.
    """
    if triage is None:
        return [FailureRow.from_export(row) for row in lines.failures[:limit]], lines.failure_count
    from evidencehub.triage.categories import CATEGORY_ORDER

    everything = [
        (run_id, failure, {cluster.id: cluster for cluster in report.clusters})
        for run_id, report in triage.items()
        for failure in report.failures
    ]
    everything.sort(key=lambda item: (CATEGORY_ORDER.index(item[1].category), item[1].cluster, item[0]))
    rows = [
        FailureRow.from_triage(run_id, failure, clusters.get(failure.cluster))
        for run_id, failure, clusters in everything[:limit]
    ]
    return rows, len(everything)


def _write_bundle(
    session: Session,
    settings: Settings,
    writer: BundleWriter,
    build: BuildOut,
    runs: Sequence[RunSummary],
    triage: dict[int, TriageReport] | None,
) -> Completion:
    created_at = dt.datetime.now(dt.UTC)
    placed, missing = _write_originals(settings, writer, runs)
    lines = _ResultLines(
        session,
        [run.id for run in runs],
        batch=settings.bundle.export_batch_size,
        keep_failures=settings.bundle.report_max_failures,
    )
    writer.add_stream(RESULTS, lines.chunks())
    triage_json: dict[str, Any] | None = None
    if triage is not None:
        documents = [report.model_dump(mode="json") for report in triage.values()]
        writer.add_bytes(TRIAGE, (json.dumps(documents, indent=1, ensure_ascii=False) + "\n").encode())
        triage_json = {
            "path": TRIAGE,
            "failures": sum(report.summary.failures for report in triage.values()),
            "by_category": _sum_counts(report.summary.by_category for report in triage.values()),
            "clusters": len({cluster.id for report in triage.values() for cluster in report.clusters}),
        }
    totals = _totals(runs)
    failures, failure_total = _failure_rows(lines, triage, settings.bundle.report_max_failures)
    view = EvidenceView(
        name=writer.name,
        build=build,
        runs=list(runs),
        totals=totals,
        failures=failures,
        failure_total=failure_total,
        triaged=triage is not None,
        originals=placed,
        missing_originals=len(missing),
        files=list(writer.entries),
        generated_at=created_at,
        generator=f"evidencehub {__version__}",
    )
    writer.add_bytes(REPORT, render_evidence_report(view).encode())
    manifest = {
        "format": BUNDLE_FORMAT,
        "name": writer.name,
        "generator": {"name": "evidencehub", "version": __version__},
        "created_at": created_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "project": build.project,
        "release": build.release,
        "build": _build_json(build),
        "runs": _runs_json(runs, placed),
        "totals": {"runs": len(runs), **totals.model_dump(mode="json")},
        "results": {"path": RESULTS, "lines": lines.lines},
        "triage": triage_json,
        "report": REPORT,
        "missing_originals": missing,
        "files": [_file_json(entry) for entry in writer.entries],
    }
    writer.add_bytes(MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    return writer.commit(MANIFEST)


def _file_json(entry: FileEntry) -> dict[str, Any]:
    return {"path": entry.path, "sha256": entry.sha256, "size_bytes": entry.size_bytes}


def _sum_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for item in counts:
        for key, value in item.items():
            total[key] = total.get(key, 0) + value
    return total
