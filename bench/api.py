"""API load benchmark: 1,000,000 stored results, the API served by `evidencehub serve`, 1/10/50 clients.

For each backend (SQLite, and PostgreSQL when --pg-url or EVIDENCEHUB_TEST_DATABASE_URL
is set) the script seeds the results through the ingest service, starts the real
server in its own process, and measures with concurrent HTTP clients:

* ``GET /health`` — the baseline: the same HTTP stack with no database work;
* ``GET /api/v1/runs/{id}`` — the run summary;
* ``GET /api/v1/runs/{id}/results?status=failed&limit=100`` — the filtered listing;
* ``POST /api/v1/runs`` — a 10 MB JUnit upload (raw body), each to a new build.

Latencies are p50/p95/p99 in ms; the key figures are ratios to the baseline
measured in the same run (the machine is shared and noisy), and the upload
rate is compared with the ingest service run directly on the same file.
Targets: run summary p95 ≤ 100 ms at 10 clients on SQLite; upload ≥ 30 MB/s; 0 errors.

Run: ``python bench/api.py [--results 1000000] [--backends sqlite,postgresql]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import httpx

from ingest import _postgres_scratch as postgres_scratch  # bench/ingest.py: a scratch database, dropped after

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
CASES_PER_RUN = 50_000
CLIENTS = (1, 10, 50)
JWT_SECRET = "bench-" + "x" * 40  # a throwaway secret for a throwaway server


def junit_file(
    path: Path, cases: int | None, *, seed: int, message_bytes: int = 0, min_bytes: int = 0
) -> int:
    """A JUnit file (90% passed, 7% failed, 3% skipped) of ``cases`` tests, or of at least ``min_bytes``.

    Returns its size in bytes.
    """
    rng = random.Random(seed)
    padding = "x" * message_bytes
    written = 0
    index = 0
    with path.open("w", encoding="utf-8") as out:
        written += out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="bench">\n')
        while (cases is not None and index < cases) or (cases is None and written < min_bytes):
            roll = rng.random()
            classname = quoteattr(f"com.acme.module{index % 97}.Suite{index % 1009}")
            head = f'<testcase classname={classname} name="test_{index}" time="{rng.random():.3f}"'
            if roll < 0.90:
                written += out.write(head + "/>\n")
            elif roll < 0.97:
                written += out.write(
                    head + '><failure message="expected 200 but was 500" type="AssertionError">'
                    f"Traceback line 1\n  at Suite.test_{index}\n{padding}</failure></testcase>\n"
                )
            else:
                written += out.write(head + '><skipped message="flaky upstream"/></testcase>\n')
            index += 1
        out.write("</testsuite></testsuites>\n")
    return path.stat().st_size


def upload_file(path: Path, megabytes: float) -> int:
    """A JUnit file of about ``megabytes`` MB (failures carry longer messages, as real ones do)."""
    return junit_file(path, None, seed=7, message_bytes=600, min_bytes=int(megabytes * 2**20))


@dataclass
class Backend:
    name: str
    url: str
    data_dir: Path
    drop: Callable[[], None] = field(default=lambda: None)


def sqlite_backend() -> Backend:
    data_dir = DATA_DIR / "api-sqlite"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    return Backend("SQLite", f"sqlite:///{data_dir / 'evidencehub.db'}", data_dir)


def postgres_backend(base_url: str) -> Backend:
    url, drop = postgres_scratch(base_url)
    data_dir = DATA_DIR / "api-postgresql"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    return Backend("PostgreSQL", url, data_dir, drop)


def environment(backend: Backend) -> dict[str, str]:
    return {
        **os.environ,
        "EVIDENCEHUB_DATA_DIR": str(backend.data_dir),
        "EVIDENCEHUB_DATABASE_URL": backend.url,
        "EVIDENCEHUB_AUTH__JWT_SECRET": JWT_SECRET,
        "EVIDENCEHUB_WEB__RATE_LIMIT_ENABLED": "false",
        "EVIDENCEHUB_WEB__MAX_UPLOAD_MB": "64",
        "EVIDENCEHUB_QUEUE__CONSUMER_THREADS": "0",
        "EVIDENCEHUB_LOG__LEVEL": "warning",
        # 50 concurrent uploads queue for SQLite's single writer; let them wait rather than fail.
        "EVIDENCEHUB_DATABASE__SQLITE_BUSY_TIMEOUT_MS": "600000",
        "EVIDENCEHUB_DATABASE__POOL_SIZE": "20",
        "EVIDENCEHUB_DATABASE__MAX_OVERFLOW": "40",
    }


def seed(backend: Backend, total: int, work: Path) -> tuple[list[int], str, float]:
    """Store ``total`` results as runs of 50,000; returns run ids, an API token, and cases/s."""
    os.environ.update(environment(backend))
    from evidencehub.auth.service import create_api_token
    from evidencehub.config import load_settings
    from evidencehub.db.migrate import upgrade
    from evidencehub.db.session import forget_databases, get_database
    from evidencehub.orgs.service import ensure_organization
    from evidencehub.results.ingest import IngestRequest, ingest

    settings = load_settings()
    database = get_database(settings)
    upgrade(database)
    runs: list[int] = []
    started = time.perf_counter()
    remaining = total
    index = 0
    while remaining > 0:
        cases = min(CASES_PER_RUN, remaining)
        path = work / f"seed-{index}.xml"
        junit_file(path, cases, seed=index)
        outcome = ingest(
            database, settings, IngestRequest(paths=[str(path)], project="prism", build=f"seed-{index}")
        )
        assert outcome.run is not None
        runs.append(outcome.run.id)
        path.unlink()
        remaining -= cases
        index += 1
        print(f"  seeded {total - remaining:,} results", file=sys.stderr)
    rate = total / (time.perf_counter() - started)
    with database.session() as session:
        organization = ensure_organization(session, settings.default_organization)
        token = create_api_token(
            session, organization.id, name="bench", scopes=["results:read", "results:ingest"]
        ).token
    forget_databases()
    return runs, token, rate


def direct_ingest_rate(backend: Backend, path: Path) -> float:
    """MB/s of the ingest service on the upload file, without HTTP (the upload's baseline)."""
    from evidencehub.config import load_settings
    from evidencehub.db.session import forget_databases, get_database
    from evidencehub.results.ingest import IngestRequest, ingest

    settings = load_settings()
    started = time.perf_counter()
    ingest(
        get_database(settings), settings, IngestRequest(paths=[str(path)], project="prism", build="direct")
    )
    elapsed = time.perf_counter() - started
    forget_databases()
    return path.stat().st_size / 2**20 / elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, backend: Backend) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        executable = Path(sys.executable).with_name("evidencehub")
        self.log_path = backend.data_dir / "serve.log"
        self.log = self.log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [str(executable), "serve", "--port", str(self.port)],
            env=environment(backend),
            stdout=self.log,
            stderr=subprocess.STDOUT,  # to a file: an unread pipe would fill and block the server
            text=True,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@dataclass
class Measurement:
    scenario: str
    clients: int
    latencies_ms: list[float]
    errors: int
    wall_seconds: float
    bytes_sent: int = 0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def load(
    url: str,
    scenario: str,
    clients: int,
    requests: int,
    send: Callable[[httpx.Client, int], httpx.Response],
    bytes_per_request: int = 0,
) -> Measurement:
    """``requests`` calls of ``send`` spread over ``clients`` threads, each with its own keep-alive client."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=900) as client:
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                started = time.perf_counter()
                try:
                    ok = send(client, number).status_code < 400
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors += 0 if ok else 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    wall = time.perf_counter() - started
    return Measurement(scenario, clients, latencies, errors, wall, bytes_per_request * requests)


def run_backend(backend: Backend, args: argparse.Namespace) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    rows: list[str] = []
    try:
        print(f"{backend.name}: seeding {args.results:,} results", file=sys.stderr)
        runs, token, seed_rate = seed(backend, args.results, work)
        upload = work / "upload.xml"
        size = upload_file(upload, args.upload_mb)
        body = upload.read_bytes()
        direct = direct_ingest_rate(backend, upload)
        headers = {"Authorization": f"Bearer {token}"}
        server = Server(backend)
        try:
            for clients in CLIENTS:
                requests = max(args.requests, clients * 4)
                rng = random.Random(clients)
                baseline = load(
                    server.url, "GET /health (baseline)", clients, requests, lambda c, _n: c.get("/health")
                )
                summary = load(
                    server.url,
                    "run summary",
                    clients,
                    requests,
                    lambda c, _n, rng=rng: c.get(f"/api/v1/runs/{rng.choice(runs)}", headers=headers),
                )
                listing = load(
                    server.url,
                    "results ?status=failed&limit=100",
                    clients,
                    requests,
                    lambda c, _n, rng=rng: c.get(
                        f"/api/v1/runs/{rng.choice(runs)}/results",
                        params={"status": "failed", "limit": 100},
                        headers=headers,
                    ),
                )
                uploads = load(
                    server.url,
                    f"upload {size / 2**20:.0f} MB JUnit",
                    clients,
                    max(clients, args.uploads),
                    lambda c, n, clients=clients: c.post(
                        "/api/v1/runs",
                        params={
                            "project": "prism",
                            "build": f"upload-{clients}-{n}",
                            "filename": "results.xml",
                        },
                        headers={**headers, "Content-Type": "application/xml"},
                        content=body,
                    ),
                    bytes_per_request=size,
                )
                base_p95 = baseline.percentile(0.95)
                for measurement in (baseline, summary, listing):
                    rows.append(
                        row(
                            backend.name,
                            measurement,
                            f"{measurement.percentile(0.95) / base_p95:.1f}× baseline p95",
                        )
                    )
                rate = uploads.bytes_sent / 2**20 / uploads.wall_seconds
                rows.append(
                    row(
                        backend.name,
                        uploads,
                        f"{rate:.1f} MB/s aggregate = {rate / direct:.2f}× direct ingest ({direct:.1f} MB/s)",
                    )
                )
        finally:
            server.stop()
        rows.append(
            f"| {backend.name} | seeding (ingest service) | 1 | {args.results:,} results | | | | "
            f"{seed_rate:,.0f} cases/s | 0 | |"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        backend.drop()
    return rows


def row(backend: str, measurement: Measurement, note: str) -> str:
    count = len(measurement.latencies_ms)
    throughput = count / measurement.wall_seconds
    return (
        f"| {backend} | {measurement.scenario} | {measurement.clients} | {count} | "
        f"{measurement.percentile(0.50):.1f} | {measurement.percentile(0.95):.1f} | "
        f"{measurement.percentile(0.99):.1f} | {throughput:.1f} req/s | {measurement.errors} | {note} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=int, default=1_000_000, help="Results stored before measuring.")
    parser.add_argument("--requests", type=int, default=200, help="Requests per read scenario and level.")
    parser.add_argument("--uploads", type=int, default=3, help="Uploads at least, per level.")
    parser.add_argument("--upload-mb", type=float, default=10, help="Size of the uploaded JUnit file.")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both.")
    parser.add_argument("--pg-url", default=os.environ.get("EVIDENCEHUB_TEST_DATABASE_URL"))
    args = parser.parse_args()
    rows: list[str] = []
    for name in args.backends.split(","):
        if name == "sqlite":
            rows += run_backend(sqlite_backend(), args)
        elif name == "postgresql":
            if not args.pg_url:
                print("PostgreSQL skipped: set --pg-url or EVIDENCEHUB_TEST_DATABASE_URL", file=sys.stderr)
                continue
            rows += run_backend(postgres_backend(args.pg_url), args)
    print(f"API load, {args.results:,} stored results, nproc {os.cpu_count()}, {time.strftime('%Y-%m-%d')}\n")
    print(
        "| backend | scenario | clients | requests | p50 ms | p95 ms | p99 ms | throughput | errors | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
