"""Publishing benchmark: 100,000 results (100 slices) into the Octane emulator, three strategies side by side.

The emulator runs in its own process with a queue limit of 50 and processes R
tasks per second, so the ideal time is slices / R. Three strategies send the
same 100 payloads (produced by evidencehub's converter):

* **evidencehub** — this publisher: 5 workers, an in-flight budget of 50
  tracked by polling, retries (queue-full: fixed wait; 429/5xx: Retry-After or
  jittered backoff), lost tasks sent again, 20 requests/s;
* **collection tool** — the reference collection tool's strategy (ALM Octane's
  ALM→Octane importer): one POST, then wait 10 s before the next; a failed POST
  is tried 3 times, 5 s apart; no re-send of lost tasks;
* **CI SDK** — the CI plugins' strategy: POST back to back; on 503/502/429 or
  an I/O error wait a fixed 15 s and retry the same item, forever; any other
  error drops the item; no re-send of lost tasks.

Each runs in a clean scenario and with faults (10 % of test-results requests
answered 500/502/503, 2 % of accepted tasks lost). Time is compressed by
``--time-scale`` (default 0.1): every documented wait (10 s, 5 s, 15 s, our
10 s queue-full retry and 2 s poll interval) and the 20 requests/s cap are
scaled together with the processing rate, which keeps the ratios what they
would be at real speed while the run takes minutes, not hours.

Key figures: time ÷ ideal, share of POSTs refused as queue-full, runs lost, runs
duplicated. Run: ``python bench/publish.py [--results 100000] [--rate 2]``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
sys.path.insert(0, str(BENCH_DIR))

from ingest import generate  # noqa: E402 - the same realistic JUnit generator as the ingest benchmark

CLIENT_ID, CLIENT_SECRET = "bench", "bench-secret"
API = "/api/shared_spaces/1001/workspaces/1002"
FAULTS = {"error_500": 0.1 / 3, "error_502": 0.1 / 3, "error_503": 0.1 / 3, "lost_tasks": 0.02, "seed": 11}
TARGETS = {
    ("evidencehub", "clean"): "≤ 1.15× ideal, ≤ 5 % rejected, 0 lost, 0 duplicated",
    ("evidencehub", "faults"): "≤ 1.5× ideal, 0 lost, 0 duplicated",
}


@dataclass
class Outcome:
    strategy: str
    scenario: str
    seconds: float
    counters: dict[str, Any]
    note: str = ""


class Emulator:
    """The emulator in its own process (``evidencehub emulate octane --port 0``), driven over HTTP."""

    def __init__(self, rate: float, queue_limit: int) -> None:
        command = [
            sys.executable, "-m", "evidencehub", "emulate", "octane", "--port", "0",
            "--queue-limit", str(queue_limit), "--tasks-per-second", str(rate),
            "--api-key", f"{CLIENT_ID}:{CLIENT_SECRET}",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.url = line.split("listening on ", 1)[1].split()[0]
        self.control = httpx.Client(base_url=self.url, timeout=30)

    def reset(self, faults: dict[str, Any]) -> None:
        self.control.post("/__emulator__/reset").raise_for_status()
        self.control.patch("/__emulator__/config", json={"faults": {**dict.fromkeys(FAULTS, 0.0), **faults}})

    def counters(self) -> dict[str, Any]:
        counters: dict[str, Any] = self.control.get("/__emulator__/counters").json()
        return counters

    def wait_idle(self) -> None:
        while True:
            counters = self.counters()
            if counters["queued"] == 0 and counters["running"] == 0:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self.control.close()
        self.process.terminate()
        self.process.wait(timeout=20)


@contextlib.contextmanager
def signed_in(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=120) as client:
        credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        client.post("/authentication/sign_in", json=credentials).raise_for_status()
        yield client


def post(client: httpx.Client, payload: bytes) -> httpx.Response:
    return client.post(f"{API}/test-results", content=payload, headers={"Content-Type": "application/xml"})


def collection_tool(url: str, payloads: list[bytes], scale: float) -> str:
    """One POST, then wait 10 s before the next; 3 tries 5 s apart; a slice failing all three is dropped."""
    dropped = 0
    with signed_in(url) as client:
        for index, payload in enumerate(payloads):
            for attempt in range(3):
                try:
                    if post(client, payload).status_code == 202:
                        break
                except httpx.TransportError:
                    pass
                if attempt < 2:
                    time.sleep(5 * scale)
            else:
                dropped += 1
            if index < len(payloads) - 1:
                time.sleep(10 * scale)
    return f"{dropped} slices dropped after 3 tries" if dropped else ""


def ci_sdk(url: str, payloads: list[bytes], scale: float) -> str:
    """Back-to-back POSTs; 503/502/429/I-O error: wait 15 s and retry the same item; other errors drop it."""
    queue = collections.deque(payloads)
    dropped = 0
    with signed_in(url) as client:
        while queue:
            try:
                status = post(client, queue[0]).status_code
            except httpx.TransportError:
                time.sleep(15 * scale)
                continue
            if status in (503, 502, 429):
                time.sleep(15 * scale)
                continue
            queue.popleft()
            dropped += status != 202
    return f"{dropped} slices dropped on other errors" if dropped else ""


def prepare(results: int, workdir: Path) -> tuple[Any, Any, int, list[bytes]]:
    """Ingest a JUnit file of ``results`` tests; render its slices with the converter (a dry run)."""
    from evidencehub.config import load_settings
    from evidencehub.db.migrate import upgrade
    from evidencehub.db.session import Database
    from evidencehub.ops.logging import configure_logging
    from evidencehub.publish.targets.octane.service import PublishRequest, dry_run
    from evidencehub.results.ingest import IngestRequest, ingest

    DATA_DIR.mkdir(exist_ok=True)
    junit = DATA_DIR / f"publish-{results}.xml"
    if not junit.exists():
        generate(junit, results)
    settings = load_settings(data_dir=workdir / "data")
    configure_logging(settings.log.model_copy(update={"level": "warning"}))
    database = Database(settings.effective_database_url(), settings.database)
    upgrade(database)
    started = time.perf_counter()
    outcome = ingest(database, settings, IngestRequest(paths=[str(junit)], project="bench", build="1"))
    assert outcome.run is not None
    print(
        f"ingested {outcome.run.totals.tests:,} results in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    started = time.perf_counter()
    files = dry_run(database, settings, PublishRequest(run_ids=[outcome.run.id]), workdir / "payload.xml")
    payloads = [path.read_bytes() for path, _tests, _warnings in files]
    print(f"rendered {len(payloads)} payloads in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return settings, database, outcome.run.id, payloads


def evidencehub_strategy(
    settings: Any, database: Any, run_id: int, url: str, scale: float
) -> Callable[[], str]:
    from evidencehub.config import load_settings
    from evidencehub.publish.targets.octane.service import PublishRequest, publish_run_to_octane

    octane = {
        "base_url": url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "workers": 5,
        "queue_limit": 50,
        "poll_interval_seconds": 2.0 * scale,
        "queue_full_retry_seconds": 10.0 * scale,
        "backoff_initial_seconds": 1.0 * scale,
        "backoff_max_seconds": 60.0 * scale,
        "requests_per_second": 20.0 / scale,
        "retry_max_attempts": 12,
    }
    ours = load_settings(data_dir=settings.data_dir, octane=octane)

    def run() -> str:
        job = publish_run_to_octane(database, ours, PublishRequest(run_ids=[run_id]))
        return "" if job.state == "succeeded" else f"job {job.state}: {job.error}"

    return run


def measure(emulator: Emulator, strategy: str, scenario: str, run: Callable[[], str]) -> Outcome:
    emulator.reset(FAULTS if scenario == "faults" else {})
    started = time.perf_counter()
    note = run()
    emulator.wait_idle()
    seconds = time.perf_counter() - started
    outcome = Outcome(strategy, scenario, seconds, emulator.counters(), note)
    print(f"{strategy} / {scenario}: {seconds:.1f}s {note}", file=sys.stderr)
    return outcome


def table(outcomes: list[Outcome], *, results: int, slices: int, rate: float, scale: float) -> str:
    ideal = slices / rate
    lines = [
        f"{results:,} results in {slices} slices; emulator queue limit 50, {rate:g} tasks/s "
        f"→ ideal {ideal:.1f}s; "
        f"time scale {scale:g} (waits and the request cap scaled alike); `nproc` = {os.cpu_count()}",
        "",
        "| strategy | scenario | time | ÷ ideal | POSTs | refused queue-full | runs lost | runs duplicated "
        "| target | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for item in outcomes:
        counters = item.counters
        posts = counters["posts_received"]
        refused = counters["posts_rejected_queue_full"]
        lost = results - counters["runs"]
        lines.append(
            f"| {item.strategy} | {item.scenario} | {item.seconds:.1f}s | {item.seconds / ideal:.2f}× "
            f"| {posts} | {refused} ({refused / posts if posts else 0:.1%}) | {lost:,} "
            f"| {counters['duplicate_runs']:,} "
            f"| {TARGETS.get((item.strategy, item.scenario), '')} | {item.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=2.0, help="emulator tasks per second (scaled time)")
    parser.add_argument("--time-scale", type=float, default=0.1)
    parser.add_argument("--strategies", default="evidencehub,collection tool,CI SDK")
    parser.add_argument("--scenarios", default="clean,faults")
    args = parser.parse_args()
    strategies = [name.strip() for name in args.strategies.split(",")]
    with tempfile.TemporaryDirectory(dir=DATA_DIR if DATA_DIR.exists() else None) as tmp:
        settings, database, run_id, payloads = prepare(args.results, Path(tmp))
        emulator = Emulator(args.rate, 50)
        outcomes = []
        try:
            for scenario in args.scenarios.split(","):
                runners: dict[str, Callable[[], str]] = {
                    "evidencehub": evidencehub_strategy(
                        settings, database, run_id, emulator.url, args.time_scale
                    ),
                    "collection tool": lambda: collection_tool(emulator.url, payloads, args.time_scale),
                    "CI SDK": lambda: ci_sdk(emulator.url, payloads, args.time_scale),
                }
                for strategy in strategies:
                    outcomes.append(measure(emulator, strategy, scenario, runners[strategy]))
        finally:
            emulator.stop()
            database.dispose()
    print(table(outcomes, results=args.results, slices=len(payloads), rate=args.rate, scale=args.time_scale))


if __name__ == "__main__":
    main()
