"""PDF rendering benchmark: the project's real reports printed by Chromium and by WeasyPrint.

The report documents are built by the project's own code (``reports.content`` builds the
sections from stored results, ``reports.render.render_html`` the HTML), over results
ingested into a temporary SQLite data dir, untimed:

* an evidence report over two nightly builds of the Prism example suite
  (``examples/generate.py``, about 3,400 results a build, up to 400 failures listed);
* a Hebrew one: an evidence report with a Hebrew title over a suite whose test names and
  failure messages are Hebrew (right-to-left text inside the left-to-right template).

Each HTML is then printed to PDF ``--repeat`` times by each renderer, in a process of its
own per renderer and document:

(a) Chromium print-to-PDF exactly as the runtime does it (``reports.render.render_pdf``:
    Playwright launches Debian's Chromium per document) — the baseline;
(b) WeasyPrint (``weasyprint.HTML(string=html).write_pdf()``) on Debian's Pango;
(b′) WeasyPrint on the same HTML plus one CSS rule, ``th, td { overflow-wrap: anywhere }``:
    WeasyPrint ignores the template's legacy ``word-break: break-word``, so (b) lets long
    test keys push the message column off the page; (b′) lays the table out as Chromium does;
(b″) WeasyPrint with ``table { table-layout: fixed }`` and ``overflow-wrap: break-word``:
    the cheap way to make it fit, with equal columns (the template sets no widths).

Per renderer and document: median and p95 seconds per PDF, the ratio of the median to
Chromium's in the same run, the peak memory of the renderer's whole process tree (Python,
and for Chromium the Playwright driver and every browser process; PSS and summed RSS,
sampled every 100 ms), how much the Python process itself grew (what a long-running
worker keeps), PDF bytes and pages, and a text check that can fail: ``pdftotext``
(poppler, which applies the Unicode bidi algorithm as PDF viewers do) must find the
report's key strings in the PDF, and each Hebrew phrase in logical order (a reversed
phrase is counted apart). The exit status is 1 when the runtime's renderer (a) fails it;
a WeasyPrint variant's FAIL is a finding of the table. The p95 of 5 PDFs is the slowest.

Needs ``weasyprint`` (the ``dev`` extra), Debian's ``chromium`` and ``poppler-utils``.
Run: ``python bench/pdf.py [--repeat 5] [--scale 1.0]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data" / "pdf"
RENDERERS = ("chromium", "weasyprint", "weasyprint-wrap", "weasyprint-fixed")
LABELS = {
    "chromium": "(a) Chromium print-to-PDF (runtime)",
    "weasyprint": "(b) WeasyPrint",
    "weasyprint-wrap": "(b′) WeasyPrint + `overflow-wrap: anywhere`",
    "weasyprint-fixed": "(b″) WeasyPrint + `table-layout: fixed`",
}
# The CSS each WeasyPrint variant adds to the template (see the module docstring).
EXTRA_CSS = {
    "weasyprint": "",
    "weasyprint-wrap": "th, td { overflow-wrap: anywhere; }",
    "weasyprint-fixed": "table { table-layout: fixed; } th, td { overflow-wrap: break-word; }",
}
# Hebrew words joined by spaces, or by the "_" and "." of test names; quotes and geresh inside words.
HEBREW_PHRASE = re.compile("[\u05d0-\u05ea\u05f3\u05f4\"'-]+(?:[ _.][\u05d0-\u05ea\u05f3\u05f4\"'-]+)+")
SEPARATOR = re.compile("([ _.])")
# pdftotext marks embedded runs with bidi controls; the check compares the characters only.
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\\s]")

# A Hebrew-speaking team's checkout suite: test names and failure messages in Hebrew,
# numbers, currency and identifiers mixed in, as such suites are written.
HEBREW_TESTS = (
    (
        "קופה.תשלומים",
        "test_תשלום_בכרטיס_אשראי",
        "הסכום בקבלה אינו תואם להזמנה",
        "צפוי 120.00 ₪, התקבל 118.50 ₪",
    ),
    ("קופה.תשלומים", "test_החזר_כספי_חלקי", "ההחזר נדחה על ידי חברת האשראי", "קוד שגיאה 051"),
    ("קופה.משלוחים", "test_חישוב_דמי_משלוח", "דמי המשלוח לאילת שגויים", 'צפוי 0 ₪ (פטור ממע"מ)'),
    ("קופה.משתמשים", "test_התחברות_עם_סיסמה_שגויה", "ההודעה למשתמש אינה מוצגת בעברית", "HTTP 401"),
    ("קופה.מלאי", "test_עדכון_מלאי_אחרי_הזמנה", "המלאי לא ירד לאחר אישור ההזמנה", 'מק"ט 7290011'),
    ("קופה.חשבוניות", "test_הפקת_חשבונית_מס", "מספר החשבונית אינו רץ ברצף", "חשבונית 10452 אחרי 10450"),
)


@dataclass(frozen=True)
class Report:
    """A report as the runtime builds it, and the strings its PDF must show."""

    name: str
    html: str
    key_strings: list[str]
    hebrew_phrases: list[str]


# ---------------------------------------------------------------- building the reports (untimed)


def _hebrew_junit(path: Path, cases: int, seed: int = 11) -> None:
    """A JUnit file of the Hebrew suite: 8% of the cases fail with a Hebrew message."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n<testsuite name="קופה" tests="0">\n')
        for number in range(cases):
            classname, name, message, detail = HEBREW_TESTS[number % len(HEBREW_TESTS)]
            out.write(f"<testcase classname={quoteattr(classname)} name={quoteattr(f'{name}[{number}]')}>")
            if rng.random() < 0.08:
                text = f"{message}: {detail}"
                out.write(
                    f'<failure message={quoteattr(text)} type="AssertionError">{escape(text)}</failure>'
                )
            out.write("</testcase>\n")
        out.write("</testsuite>\n</testsuites>\n")


def _ingest(database: Any, settings: Any, paths: list[Path], project: str, build: str) -> None:
    from evidencehub.results.ingest import IngestRequest, ingest

    ingest(
        database,
        settings,
        IngestRequest(paths=[str(path) for path in paths], project=project, build=build, release="2026.12"),
    )


def _document_html(
    database: Any, title: str, project: str, max_failures: int
) -> tuple[str, list[list[str]], str]:
    """The evidence report's HTML as ``reports.service.run_execution`` builds it; its failure rows."""
    from sqlalchemy import select

    from evidencehub.db.base import utcnow
    from evidencehub.orgs.model import Organization
    from evidencehub.reports.content import ReportDocument, build_sections
    from evidencehub.reports.render import render_html
    from evidencehub.reports.schemas import ReportParameters
    from evidencehub.reports.service import _subtitle  # the runtime's own subtitle, not a copy

    parameters = ReportParameters(project=project, max_failures=max_failures)
    with database.session() as session:
        organization = session.scalars(select(Organization)).one()
        sections = build_sections(session, "evidence", organization.id, parameters)
        slug = organization.slug
    document = ReportDocument(
        title=title,
        subtitle=_subtitle("evidence", parameters),
        organization=slug,
        generated_at=utcnow(),
        sections=sections,
    )
    failures = next(section for section in sections if section.heading == "Failures and errors")
    assert failures.table is not None, "the report lists no failures: nothing to check"
    return render_html(document), failures.table.rows, document.subtitle


def build_reports(scale: float) -> list[Report]:
    from evidencehub.config import load_settings
    from evidencehub.db.migrate import upgrade
    from evidencehub.db.session import get_database

    reports: list[Report] = []
    with tempfile.TemporaryDirectory(prefix="eh-bench-pdf-") as scratch:
        work = Path(scratch)
        settings = load_settings(data_dir=work / "data")
        database = get_database(settings)
        upgrade(database)

        for build in ("3", "4"):
            out = work / f"prism-{build}"
            generate = [sys.executable, str(ROOT / "examples" / "generate.py"), str(out)]
            subprocess.run(
                [*generate, "--build", build, "--scale", str(scale)],
                check=True,
                capture_output=True,
            )
            _ingest(database, settings, [out], "prism", build)
        html, rows, subtitle = _document_html(database, "Prism release evidence", "prism", 400)
        picked = [rows[0], rows[len(rows) // 2], rows[-1]]
        reports.append(
            Report(
                name=f"evidence, {len(rows)} failures listed",
                html=html,
                key_strings=[
                    "Prism release evidence",
                    subtitle,
                    "Failures and errors",
                    *(row[1].rsplit(".", 1)[-1] for row in picked),  # test keys: the method part
                    *(row[4][:40] for row in picked if row[4]),
                ],
                hebrew_phrases=[],
            )
        )

        junit = work / "kupa.xml"
        _hebrew_junit(junit, max(600, round(3000 * scale)))
        _ingest(database, settings, [junit], "kupa", "812")
        title = "דוח ראיות לגרסה 2026.12 של הקופה"
        html, rows, subtitle = _document_html(database, title, "kupa", 200)
        phrases = {title.split(" 2026", maxsplit=1)[0], " ".join(title.split()[-2:])}
        for row in rows:
            phrases.update(HEBREW_PHRASE.findall(row[1]))  # the test key's package and name
            phrases.update(HEBREW_PHRASE.findall(row[4]))  # the message
        picked = rows[:: max(1, len(rows) // 5)]
        reports.append(
            Report(
                name=f"Hebrew evidence, {len(rows)} failures listed",
                html=html,
                key_strings=[
                    subtitle,
                    "Failures and errors",
                    "AssertionError",
                    *(row[1].rsplit("[", 1)[-1].rstrip("]") for row in picked),  # the case numbers
                ],
                hebrew_phrases=sorted(phrases),
            )
        )
    return reports


# ---------------------------------------------------------------- rendering (in a child process each)


class TreePeak:
    """Peak memory of this process and all its descendants together, sampled in a thread.

    PSS (each shared page divided among the processes sharing it) is the honest sum for
    Chromium's several processes, whose RSS counts the same shared pages once per process;
    the summed RSS is kept beside it.
    """

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self._root = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak_pss = 0
        self.peak_rss = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> tuple[int, int]:
        import psutil

        pss = rss = 0
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                memory = process.memory_full_info()
            except psutil.Error:
                continue  # a browser process that just ended
            pss += memory.pss
            rss += memory.rss
        return pss, rss

    def _run(self) -> None:
        while not self._stop.is_set():
            pss, rss = self._sample()
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _renderer(name: str) -> Callable[[str], bytes]:
    if name == "chromium":
        from evidencehub.config import ReportSettings
        from evidencehub.reports.render import render_pdf

        settings = ReportSettings()
        return lambda html: render_pdf(html, settings)
    import weasyprint

    def weasy(html: str) -> bytes:
        html = html.replace("</style>", f"{EXTRA_CSS[name]}\n</style>", 1)
        pdf: bytes = weasyprint.HTML(string=html).write_pdf()
        return pdf

    return weasy


def run_child(renderer: str, html_path: Path, pdf_path: Path, repeat: int) -> dict[str, Any]:
    """Runs in the child: ``repeat`` renderings of one HTML, each timed; memory of the whole tree."""
    import psutil

    render = _renderer(renderer)
    html = html_path.read_text(encoding="utf-8")
    own = psutil.Process()
    rss_before = own.memory_info().rss
    seconds: list[float] = []
    pdf = b""
    with TreePeak() as peak:
        for _ in range(repeat):
            started = time.perf_counter()
            pdf = render(html)
            seconds.append(time.perf_counter() - started)
    pdf_path.write_bytes(pdf)
    return {
        "seconds": seconds,
        "peak_pss_mb": peak.peak_pss / 2**20,
        "peak_rss_mb": peak.peak_rss / 2**20,
        "python_growth_mb": (own.memory_info().rss - rss_before) / 2**20,
        "pdf_bytes": len(pdf),
    }


def _child(renderer: str, html_path: Path, pdf_path: Path, repeat: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", renderer, "--html", str(html_path)]
    command += ["--pdf", str(pdf_path), "--repeat", str(repeat)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{renderer} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- checking the PDFs


def _squeezed(text: str) -> str:
    """Characters only: no whitespace (cells wrap) and no bidi controls; NFC."""
    return BIDI_CONTROLS.sub("", unicodedata.normalize("NFC", text))


def pdf_pages(pdf_path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf_path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]


def check_text(pdf_path: Path, report: Report) -> tuple[bool, str]:
    """(passed, what was found): the key strings, and the Hebrew phrases in logical order."""
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    found = _squeezed(text)
    missing = [key for key in report.key_strings if _squeezed(key) not in found]
    logical = [phrase for phrase in report.hebrew_phrases if _squeezed(phrase) in found]
    reversed_ = [
        phrase
        for phrase in report.hebrew_phrases
        if phrase not in logical and _squeezed("".join(reversed(SEPARATOR.split(phrase)))) in found
    ]
    passed = not missing and len(logical) == len(report.hebrew_phrases)
    summary = f"keys {len(report.key_strings) - len(missing)}/{len(report.key_strings)}"
    if report.hebrew_phrases:
        summary += (
            f", Hebrew phrases in logical order {len(logical)}/{len(report.hebrew_phrases)}, "
            f"reversed {len(reversed_)}"
        )
        unfound = [
            phrase for phrase in report.hebrew_phrases if phrase not in logical and phrase not in reversed_
        ]
        if unfound:
            summary += "; not found: " + ", ".join(unfound[:2])
    if missing:
        summary += "; missing: " + ", ".join(repr(key[:40]) for key in missing[:3])
    return passed, summary


# ---------------------------------------------------------------- the run


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="PDFs per renderer and document (default 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="examples/generate.py scale (default 1.0)")
    parser.add_argument("--child", choices=RENDERERS, help=argparse.SUPPRESS)
    parser.add_argument("--html", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pdf", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_child(args.child, args.html, args.pdf, args.repeat)))
        return 0

    for tool in ("chromium", "pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            print(f"needs `{tool}` on PATH (Debian: apt-get install chromium poppler-utils)", file=sys.stderr)
            return 2
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    print("ingesting and building the reports …", file=sys.stderr)
    reports = build_reports(args.scale)
    import weasyprint

    print(
        f"\nnproc {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start, "
        f"{args.repeat} PDFs each; "
        f"WeasyPrint {weasyprint.__version__}, {_chromium_version()}\n"
    )
    print(
        "| document | renderer | pages | PDF KB | median s | p95 s | time ÷ Chromium | peak PSS MB (tree) "
        "| peak RSS MB (tree, summed) "
        "| Python RSS growth MB | text check |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    failed = False
    for number, report in enumerate(reports):
        html_path = DATA_DIR / f"report-{number}.html"
        html_path.write_text(report.html, encoding="utf-8")
        baseline: float | None = None
        for renderer in RENDERERS:  # Chromium first: the baseline
            pdf_path = DATA_DIR / f"report-{number}-{renderer}.pdf"
            print(f"{report.name}: {renderer} …", file=sys.stderr)
            result = _child(renderer, html_path, pdf_path, args.repeat)
            median = statistics.median(result["seconds"])
            baseline = baseline if baseline is not None else median
            passed, summary = check_text(pdf_path, report)
            failed = failed or (renderer == "chromium" and not passed)  # the others' FAILs are findings
            cells = [
                f"{report.name} ({len(report.html) // 1024} KB HTML)",
                LABELS[renderer],
                str(pdf_pages(pdf_path)),
                f"{result['pdf_bytes'] / 1024:,.0f}",
                f"{median:.2f}",
                f"{_p95(result['seconds']):.2f}",
                f"{median / baseline:.2f}×",
                f"{result['peak_pss_mb']:,.0f}",
                f"{result['peak_rss_mb']:,.0f}",
                f"{result['python_growth_mb']:,.0f}",
                f"{'pass' if passed else 'FAIL'}: {summary}",
            ]
            print(
                "| " + " | ".join(cells) + " |",
                flush=True,
            )
    print(
        f"\nload average {os.getloadavg()[0]:.1f} at the end; PDFs and HTML in {DATA_DIR.relative_to(ROOT)}/"
    )
    return 1 if failed else 0


def _chromium_version() -> str:
    chromium = shutil.which("chromium") or "chromium"
    completed = subprocess.run([chromium, "--version"], capture_output=True, text=True, check=False)
    return completed.stdout.strip() or "Chromium (version unknown)"


if __name__ == "__main__":
    sys.exit(main())
