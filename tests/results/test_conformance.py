"""Conformance: every file of the shared corpus parses to the counts its upstream project expects.

The corpus (``../shared/corpus``, or ``$EVIDENCEHUB_SHARED_DIR/corpus``) holds real result files and
``expected.jsonl``, the counts each upstream project's own tests check (see its MANIFEST.md). For each
record the file is parsed, repeated reports of one test (same module, class and name) are folded with
``merge_repeated`` exactly as ingest folds them across a run, and the counts are compared:

* ``null`` means the source does not say: not checked;
* ``errors: null`` means the source folds errors into failures (dorny, mikepenz), so its ``failures`` is
  compared with our failures + errors;
* EnricoMi's records carry two expectations: one per testcase (the headline counts) and one per unique
  (class, name) test (``stats``). Our identity rule is the second kind, so matching either is a match;
* ``expect_error`` records must fail with a ResultFileError (an InputError) that names the file.

Records we deliberately do not match are listed with the reason, and what we produce instead, in
``conformance_allowlist.yaml``; an entry that starts matching, or produces something else, fails.

Corpus files without expectations are parsed too: they must parse, and where their suites declare
consistent totals, our (unmerged) counts must equal them.

Without the corpus the tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from evidencehub.errors import InputError
from evidencehub.results.inputs import expand_inputs
from evidencehub.results.merge import merge_repeated
from evidencehub.results.parsers import parse_source
from evidencehub.results.parsers.base import ParsedCase, ParsedFile, ParseLimits, ResultFileError
from evidencehub.results.status import Status
from tests.support.shared import require_shared, shared_dir

COUNTS = ("tests", "failures", "errors", "skipped")
ALLOWLIST_FILE = Path(__file__).with_name("conformance_allowlist.yaml")
_SHARED = shared_dir()
CORPUS = _SHARED / "corpus" if _SHARED is not None else None

# Result files the corpus has no expected counts for (see MANIFEST.md, "Files that have no expected counts").
UNEXPECTED_GLOBS = (
    "go-junit-report/testdata/*-report.xml",
    "gotestsum/internal/junitxml/testdata/*.golden",
    "junitparser/tests/data/*.xml",
    "action-junit-report/test_results/**/*.xml",
    "test-reporter/__tests__/fixtures/**/*.xml",
    "test-reporter/__tests__/fixtures/**/*.trx",
    "test-reporter/__tests__/fixtures/**/*.json",
    "xunit-plugin/src/test/resources/org/jenkinsci/plugins/xunit/types/junit/*/input.xml",
)
# Files whose declared totals do not describe their testcases; each reason says why.
INCONSISTENT_DECLARATIONS = {
    "gotestsum/internal/junitxml/testdata/junitxml-report.golden": (
        "the badmain package declares tests=0 but holds a failing TestMain testcase (MANIFEST)"
    ),
    "gotestsum/internal/junitxml/testdata/junitxml-report-skip-empty.golden": "the same badmain package",
    "gotestsum/internal/junitxml/testdata/junitxml-report-hide-skipped-tests.golden": (
        "the same badmain package"
    ),
    "junitparser/tests/data/no_fails.xml": 'declares failures="1" without any failure (MANIFEST)',
    "action-junit-report/test_results/nested/multi-level.xml": "declares 57 tests for 3 testcases (MANIFEST)",
    "action-junit-report/test_results/multiple/test_10.xml": (
        "a container-structure-test report: the root declares tests=8 for 3 testcases"
    ),
    "action-junit-report/test_results/multiple/test_11.xml": "the same container-structure-test shape",
    "action-junit-report/test_results/multiple/test_12.xml": "the same container-structure-test shape",
    "action-junit-report/test_results/python/report_flaky.xml": (
        "report.xml with a fourth testcase appended; the suite still declares tests=3"
    ),
    "xunit-plugin/src/test/resources/org/jenkinsci/plugins/xunit/types/junit/testcase1/input.xml": (
        "declares tests=12 for 2 testcases"
    ),
    "xunit-plugin/src/test/resources/org/jenkinsci/plugins/xunit/types/junit/testcase6/input.xml": (
        "Surefire counts every rerun of its 3 testcases (tests=11, failures=9)"
    ),
}


@dataclass(frozen=True)
class Outcome:
    """What parsing one file gave: counts, or the reason of the ResultFileError."""

    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    error: str | None = None

    @classmethod
    def of(cls, cases: list[ParsedCase]) -> Outcome:
        statuses = collections.Counter(case.status for case in cases)
        return cls(len(cases), statuses[Status.FAILED], statuses[Status.ERROR], statuses[Status.SKIPPED])


def _parse(path: Path) -> tuple[list[ParsedCase], ParsedFile]:
    source = expand_inputs([str(path)])[0]
    parsed = ParsedFile(source=source.name)
    return list(parse_source(source, parsed, limits=ParseLimits(), max_bytes=64 * 1024 * 1024)), parsed


def _merged(cases: list[ParsedCase]) -> list[ParsedCase]:
    tests: dict[tuple[str | None, str | None, str], ParsedCase] = {}
    for case in cases:
        identity = (case.module, case.classname, case.name)
        tests[identity] = merge_repeated(tests[identity], case) if identity in tests else case
    return list(tests.values())


def _outcome(path: Path) -> Outcome:
    """The merged counts of one file, or the reason it was refused (checked to be a proper InputError)."""
    error: ResultFileError | None = None
    try:
        return Outcome.of(_merged(_parse(path)[0]))
    except ResultFileError as caught:
        error = caught
    assert isinstance(error, InputError)
    assert str(error).startswith(str(path))  # the message names the file …
    assert error.reason  # … and says what is wrong
    return Outcome(error=error.reason)


def _expectations(record: dict[str, Any]) -> list[dict[str, int | None]]:
    expectations = [{name: record[name] for name in COUNTS}]
    stats = record.get("stats")
    if stats:
        unique = {
            "tests": "tests",
            "failures": "tests_fail",
            "errors": "tests_error",
            "skipped": "tests_skip",
        }
        expectations.append({name: stats[key] for name, key in unique.items()})
    return expectations


def _matches(expected: dict[str, int | None], outcome: Outcome) -> bool:
    if outcome.error is not None:
        return False
    got = {name: getattr(outcome, name) for name in COUNTS}
    if expected["errors"] is None:
        got["failures"] += got["errors"]  # the source folds errors into failures
    return all(expected[name] is None or expected[name] == got[name] for name in COUNTS)


def _load_records() -> list[dict[str, Any]]:
    if CORPUS is None or not (CORPUS / "expected.jsonl").is_file():
        return []
    lines = (CORPUS / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _load_allowlist() -> dict[str, dict[str, Any]]:
    entries = yaml.safe_load(ALLOWLIST_FILE.read_text(encoding="utf-8")) or []
    return {entry["file"]: entry for entry in entries}


def _unexpected_files(records: list[dict[str, Any]]) -> list[str]:
    if CORPUS is None:
        return []
    known = {record["file"] for record in records}
    found = {
        path.relative_to(CORPUS).as_posix()
        for pattern in UNEXPECTED_GLOBS
        for path in CORPUS.glob(pattern)
        if path.is_file()
    }
    return sorted(found - known)


RECORDS = _load_records()
ALLOWLIST = _load_allowlist()
MISSING = pytest.param(None, id="corpus-missing")


def _corpus() -> Path:
    path = require_shared("corpus", "expected.jsonl").parent  # skips (fails in CI) without the corpus
    assert CORPUS is not None and path == CORPUS
    return path


@pytest.mark.parametrize("record", [pytest.param(r, id=r["file"]) for r in RECORDS] or [MISSING])
def test_corpus_file_parses_to_its_expected_counts(record: dict[str, Any] | None) -> None:
    corpus = _corpus()
    assert record is not None
    path = corpus / record["file"]
    outcome = _outcome(path)

    if record.get("expect_error"):
        assert outcome.error is not None, f"expected a parse error ({record.get('error')!r}), got {outcome}"
        return
    matched = any(_matches(expected, outcome) for expected in _expectations(record))
    entry = ALLOWLIST.get(record["file"])
    if entry is None:
        assert matched, f"got {outcome}, expected one of {_expectations(record)}"
        return
    assert not matched, (
        "stale allow-list entry: the file now matches; remove it from conformance_allowlist.yaml"
    )
    produced = entry["produces"]
    if "error" in produced:
        assert outcome.error is not None and produced["error"] in outcome.error, outcome
    else:
        assert outcome == Outcome(**produced)


def test_allowlist_entries_name_corpus_records_and_give_reasons() -> None:
    _corpus()
    files = {record["file"] for record in RECORDS}
    for name, entry in ALLOWLIST.items():
        assert name in files, f"{name}: not a record of expected.jsonl"
        assert len(entry.get("reason", "").split()) >= 10, f"{name}: the reason must explain the difference"
        assert set(entry["produces"]) in ({"error"}, set(COUNTS)), (
            f"{name}: produces needs counts or an error"
        )
    assert len(ALLOWLIST) <= len(RECORDS) // 10  # an allow-list is for exceptions


UNEXPECTED = _unexpected_files(RECORDS)


@pytest.mark.parametrize("relative", [pytest.param(f, id=f) for f in UNEXPECTED] or [MISSING])
def test_corpus_file_without_expectations_parses_and_agrees_with_its_declared_totals(
    relative: str | None,
) -> None:
    corpus = _corpus()
    assert relative is not None
    path = corpus / relative
    if path.name == "pom.xml":
        # Maven project files sit beside the Surefire reports: not results, and refused clearly.
        with pytest.raises(ResultFileError, match="root element <project> is not a known test-result format"):
            _parse(path)
        return
    cases, parsed = _parse(path)
    assert parsed.format is not None
    declared = parsed.declared
    if declared is None:
        return
    counted = Outcome.of(cases)  # declared totals count testcase elements, so nothing is merged here
    as_declared = Outcome(declared.tests, declared.failures, declared.errors, declared.skipped)
    if relative in INCONSISTENT_DECLARATIONS:
        assert counted != as_declared, f"{relative} now agrees with its declaration: drop it from the list"
    else:
        assert counted == as_declared


def test_the_list_of_inconsistent_declarations_names_corpus_files() -> None:
    _corpus()
    assert set(INCONSISTENT_DECLARATIONS) <= set(UNEXPECTED)
