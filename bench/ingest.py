"""Ingestion benchmark: a 1,000,000-testcase JUnit file through five readers, side by side.

(a) a bare lxml iterparse that only reads the attributes and failure text — the limit;
(b) junitparser, the library users reach for;
(c) evidencehub's parser alone;
(d) evidencehub ingest into SQLite;
(e) evidencehub ingest into PostgreSQL (when --pg-url or EVIDENCEHUB_TEST_DATABASE_URL is set).

Each phase runs in its own process so its peak RSS is its own. The key figures
are ratios to (a), measured in the same run, because the machines are shared
and noisy. Run: ``python bench/ingest.py [--cases N] [--skip junitparser]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
PHASES = ("bare", "junitparser", "parse", "sqlite", "postgres")
LABELS = {
    "bare": "(a) bare lxml iterparse",
    "junitparser": "(b) junitparser",
    "parse": "(c) evidencehub parse",
    "sqlite": "(d) ingest → SQLite",
    "postgres": "(e) ingest → PostgreSQL",
}
TARGETS = {
    "parse": "≥ 0.8× (a), RSS ≤ 150 MB",
    "sqlite": "≥ 100,000 cases/s, RSS ≤ 150 MB",
    "postgres": "≥ 50,000 cases/s",
}

TRACE = """Traceback (most recent call last):
  File "/builds/prism/tests/api/test_jobs.py", line {line}, in test_case
    response = client.post("/jobs", json=payload)
  File "/builds/prism/.venv/lib/python3.11/site-packages/httpx/_client.py", line 1145, in post
    return self.request("POST", url, json=json)
  File "/builds/prism/tests/support/client.py", line 88, in request
    raise AssertionError(f"unexpected status {{response.status_code}}")
AssertionError: expected 201, got {status} for job {job}"""


def generate(path: Path, cases: int, seed: int = 7) -> None:
    """A pytest-like JUnit file: 5% failures with multi-line traces, system-out on every case."""
    rng = random.Random(seed)
    per_suite = 1000
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n')
        for suite_start in range(0, cases, per_suite):
            count = min(per_suite, cases - suite_start)
            out.write(
                f'<testsuite name="prism.module{suite_start // per_suite}" tests="{count}" '
                f'timestamp="2026-11-01T10:{(suite_start // per_suite) % 60:02d}:00" '
                'hostname="ci-runner-3">\n'
            )
            for number in range(suite_start, suite_start + count):
                classname = f"tests.module{number // 5000}.test_service{number // 100 % 50}.TestService"
                name = f"test_case_{number}[param-{number % 7}]"
                timing = f"{rng.random() * 0.5:.3f}"
                out.write(
                    f'<testcase classname={quoteattr(classname)} name={quoteattr(name)} time="{timing}">'
                )
                if rng.random() < 0.05:
                    job = uuid.UUID(int=rng.getrandbits(128))
                    trace = TRACE.format(
                        line=rng.randint(10, 400), status=rng.choice((500, 502, 409)), job=job
                    )
                    out.write(
                        '<failure message="expected 201, got 500" type="AssertionError">'
                        f"{escape(trace)}</failure>"
                    )
                out.write(
                    f"<system-out>INFO prism.client: POST /jobs took {rng.randint(1, 90)} ms "
                    f"(request {number:08x})</system-out></testcase>\n"
                )
            out.write("</testsuite>\n")
        out.write("</testsuites>\n")


def _bare(path: Path) -> int:
    from lxml import etree

    cases = 0
    for _event, element in etree.iterparse(str(path), events=("end",), tag="testcase"):
        element.get("classname")
        element.get("name")
        element.get("time")
        for child in element:
            if child.tag == "failure":
                child.get("message")
                child.get("type")
                _ = child.text
        cases += 1
        element.clear(keep_tail=False)
        parent = element.getparent()
        while element.getprevious() is not None and parent is not None:
            del parent[0]
    return cases


def _junitparser(path: Path) -> int:
    from junitparser import JUnitXml

    cases = 0
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            _ = (case.classname, case.name, case.time, case.result)
            cases += 1
    return cases


def _parse(path: Path) -> int:
    from evidencehub.results.inputs import expand_inputs
    from evidencehub.results.parsers import parse_source
    from evidencehub.results.parsers.base import ParsedFile, ParseLimits

    (source,) = expand_inputs([str(path)])
    parsed = ParsedFile(source=source.name)
    return sum(1 for _ in parse_source(source, parsed, limits=ParseLimits(), max_bytes=2**40))


def _ingest(path: Path, database_url: str) -> int:
    from evidencehub.config import load_settings
    from evidencehub.db.migrate import upgrade
    from evidencehub.db.session import get_database
    from evidencehub.results.ingest import IngestRequest, ingest

    settings = load_settings(database_url=database_url, data_dir=Path(tempfile.mkdtemp(prefix="eh-bench-")))
    database = get_database(settings)
    upgrade(database)
    outcome = ingest(
        database, settings, IngestRequest(paths=[str(path)], project="bench", build=uuid.uuid4().hex[:12])
    )
    assert outcome.run is not None
    return outcome.run.totals.tests


def run_phase(phase: str, path: Path, database_url: str | None) -> dict[str, float]:
    """Runs in the child process: the measured work, then its own peak RSS."""
    work: dict[str, Callable[[], int]] = {
        "bare": lambda: _bare(path),
        "junitparser": lambda: _junitparser(path),
        "parse": lambda: _parse(path),
        "sqlite": lambda: _ingest(path, database_url or ""),
        "postgres": lambda: _ingest(path, database_url or ""),
    }
    started = time.perf_counter()
    cases = work[phase]()
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"cases": cases, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}


def _postgres_scratch(base_url: str) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"evidencehub_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def _child(phase: str, path: Path, database_url: str | None) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", phase, "--file", str(path)]
    if database_url:
        command += ["--database-url", database_url]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"phase {phase} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--skip", action="append", default=[], choices=PHASES)
    parser.add_argument("--pg-url", default=os.environ.get("EVIDENCEHUB_TEST_DATABASE_URL"))
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_phase(args.child, args.file, args.database_url)))
        return 0

    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"junit-{args.cases}.xml"
    if not path.exists():
        print(f"generating {path.name} …", file=sys.stderr)
        generate(path, args.cases)
    size_mb = path.stat().st_size / 2**20
    print(f"input: {args.cases:,} testcases, {size_mb:.0f} MB; nproc {os.cpu_count()}", file=sys.stderr)

    results: dict[str, dict[str, float]] = {}
    for phase in PHASES:
        if phase in args.skip:
            continue
        database_url: str | None = None
        cleanup: Callable[[], None] | None = None
        if phase == "sqlite":
            database_url = f"sqlite:///{tempfile.mkdtemp(prefix='eh-bench-')}/bench.db"
        if phase == "postgres":
            if not args.pg_url:
                print("skipping (e): no --pg-url / EVIDENCEHUB_TEST_DATABASE_URL", file=sys.stderr)
                continue
            database_url, cleanup = _postgres_scratch(args.pg_url)
        print(f"running {LABELS[phase]} …", file=sys.stderr)
        try:
            results[phase] = _child(phase, path, database_url)
        finally:
            if cleanup is not None:
                cleanup()

    baseline = results.get("bare")
    print(f"\n{args.cases:,} testcases, {size_mb:.0f} MB JUnit file, nproc {os.cpu_count()}\n")
    print("| reader | cases | seconds | cases/s | ratio to (a) | peak RSS MB | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for phase, result in results.items():
        rate = result["cases"] / result["seconds"]
        ratio = f"{rate / (baseline['cases'] / baseline['seconds']):.2f}×" if baseline else "–"
        print(
            f"| {LABELS[phase]} | {int(result['cases']):,} | {result['seconds']:.1f} | {rate:,.0f} "
            f"| {ratio} | "
            f"{result['peak_rss_mb']:.0f} | {TARGETS.get(phase, '')} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
