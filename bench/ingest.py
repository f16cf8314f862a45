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
from typing import Any
from xml.sax.saxutils import escape, quoteattr

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
PHASES = ("bare", "junitparser", "parse", "sqlite", "sqlite-writes", "postgres")
LABELS = {
    "bare": "(a) bare lxml iterparse",
    "junitparser": "(b) junitparser",
    "parse": "(c) evidencehub parse",
    "sqlite": "(d) ingest → SQLite",
    "sqlite-writes": "(d′) SQLite's share of (d): only the bulk writes",
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


# Each phase prepares untimed (imports, schema migration) and returns the work to time.
Work = Callable[[], int]


def _bare(path: Path) -> Work:
    from lxml import etree

    def work() -> int:
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

    return work


def _junitparser(path: Path) -> Work:
    from junitparser import JUnitXml

    def work() -> int:
        cases = 0
        for suite in JUnitXml.fromfile(str(path)):
            for case in suite:
                _ = (case.classname, case.name, case.time, case.result)
                cases += 1
        return cases

    return work


def _parse(path: Path) -> Work:
    from evidencehub.results.inputs import expand_inputs
    from evidencehub.results.parsers import parse_source
    from evidencehub.results.parsers.base import ParsedFile, ParseLimits

    def work() -> int:
        (source,) = expand_inputs([str(path)])
        parsed = ParsedFile(source=source.name)
        return sum(1 for _ in parse_source(source, parsed, limits=ParseLimits(), max_bytes=2**40))

    return work


class _ServerCpu:
    """CPU seconds the PostgreSQL backend serving the ingest used (read from /proc: same machine only)."""

    pid: int | None = None
    at_start: float | None = None

    @staticmethod
    def read(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    @classmethod
    def watch(cls, session: Any) -> None:
        from sqlalchemy import text

        cls.pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        cls.at_start = cls.read(cls.pid)

    @classmethod
    def used(cls) -> float | None:
        if cls.pid is None or cls.at_start is None:
            return None
        now = cls.read(cls.pid)
        return None if now is None else now - cls.at_start


def _ingest(path: Path, database_url: str) -> Work:
    import evidencehub.results.ingest as ingest_module
    from evidencehub.config import load_settings
    from evidencehub.db.migrate import upgrade
    from evidencehub.db.session import get_database
    from evidencehub.results.ingest import IngestRequest, ingest

    if database_url.startswith("postgresql"):
        make_writer = ingest_module.bulk_writer

        def watched_writer(session: Any) -> Any:
            _ServerCpu.watch(session)
            return make_writer(session)

        ingest_module.bulk_writer = watched_writer  # type: ignore[assignment]

    settings = load_settings(database_url=database_url, data_dir=Path(tempfile.mkdtemp(prefix="eh-bench-")))
    database = get_database(settings)
    upgrade(database)

    def work() -> int:
        request = IngestRequest(paths=[str(path)], project="bench", build=uuid.uuid4().hex[:12])
        outcome = ingest(database, settings, request)
        assert outcome.run is not None
        return outcome.run.totals.tests

    return work


class _TimedSyncWriter:
    """Stands in for the ingest writer thread: writes synchronously and times only the database calls."""

    seconds = 0.0

    def __init__(self, writer: Any, *, depth: int = 2) -> None:
        self._writer = writer

    def submit(self, tests: Any, results: Any) -> None:
        started = time.perf_counter()
        self._writer.write_tests(tests)
        self._writer.write_results(results)
        _TimedSyncWriter.seconds += time.perf_counter() - started

    def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


def run_phase(phase: str, path: Path, database_url: str | None) -> dict[str, float]:
    """Runs in the child process: the measured work, then its own peak RSS."""
    if phase == "sqlite-writes":
        # The same ingest, counting only the time its bulk writes took: the database's own limit.
        import evidencehub.results.ingest as ingest_module

        ingest_module.BackgroundWriter = _TimedSyncWriter  # type: ignore[attr-defined,assignment]
    prepare: dict[str, Callable[[], Work]] = {
        "bare": lambda: _bare(path),
        "junitparser": lambda: _junitparser(path),
        "parse": lambda: _parse(path),
        "sqlite": lambda: _ingest(path, database_url or ""),
        "sqlite-writes": lambda: _ingest(path, database_url or ""),
        "postgres": lambda: _ingest(path, database_url or ""),
    }
    work = prepare[phase]()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    cases = work()
    seconds = _TimedSyncWriter.seconds if phase == "sqlite-writes" else time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = {"cases": cases, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": after.ru_maxrss / 1024}
    server_cpu = _ServerCpu.used()
    if server_cpu is not None:
        result["server_cpu_seconds"] = server_cpu
    return result


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
        if phase in ("sqlite", "sqlite-writes"):
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
    # CPU seconds move less than wall seconds on a loaded machine; both are shown.
    # The PostgreSQL server's share (its backend's CPU) is shown beside the client's own CPU.
    columns = ["reader", "cases", "seconds", "cases/s", "ratio to (a)", "CPU s", "CPU ratio to (a)"]
    print("| " + " | ".join([*columns, "DB server CPU s", "peak RSS MB", "target"]) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for phase, result in results.items():
        rate = result["cases"] / result["seconds"]
        ratio = cpu_ratio = "–"
        server_cpu = f"{result['server_cpu_seconds']:.1f}" if "server_cpu_seconds" in result else "–"
        if baseline:
            ratio = f"{rate / (baseline['cases'] / baseline['seconds']):.2f}×"
            cpu_rate = result["cases"] / result["cpu_seconds"]
            cpu_ratio = f"{cpu_rate / (baseline['cases'] / baseline['cpu_seconds']):.2f}×"
        print(
            f"| {LABELS[phase]} | {int(result['cases']):,} | {result['seconds']:.1f} | {rate:,.0f} | {ratio} "
            f"| {result['cpu_seconds']:.1f} | {cpu_ratio} | {server_cpu} | {result['peak_rss_mb']:.0f} "
            f"| {TARGETS.get(phase, '')} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
