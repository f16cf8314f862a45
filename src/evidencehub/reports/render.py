"""Rendering a report document to HTML (Jinja2, autoescaped) and PDF (Chromium print-to-PDF).

Chromium (Debian's, driven by Playwright) was chosen over WeasyPrint by
measurement on this project's report template (bench/pdf.py; bench/README.md,
"PDF rendering"). On a 400-failure evidence report Chromium takes ≈2.2 s;
WeasyPrint on the same HTML clips the message column (it ignores
``word-break: break-word``), and with ``overflow-wrap: anywhere`` added it lays
the table out as Chromium does in ≈31 s. Chromium's ≈600 MB peak lives and dies
with a short browser process; WeasyPrint peaks at ≈100 MB but inside the
worker, which kept ≈55 MB after five renderings.
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from evidencehub.config import ReportSettings
from evidencehub.errors import ConfigError
from evidencehub.reports.content import ReportDocument


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("evidencehub.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(document: ReportDocument) -> str:
    return _environment().get_template("report.html.j2").render(document=document)


def chromium_executable(settings: ReportSettings) -> Path:
    if settings.chromium_path is not None:
        if not settings.chromium_path.is_file():
            raise ConfigError(
                f"reports.chromium_path {settings.chromium_path} does not exist",
                details={"field": "reports.chromium_path"},
            )
        return settings.chromium_path
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ConfigError(
        "PDF output needs Chromium: install Debian's `chromium` or set reports.chromium_path",
        details={"field": "reports.chromium_path"},
    )


def render_pdf(html: str, settings: ReportSettings) -> bytes:
    """The HTML printed to PDF by a headless Chromium that may not reach the network."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Route, sync_playwright

    executable = chromium_executable(settings)
    timeout_ms = settings.pdf_timeout_seconds * 1000

    def refuse(route: Route) -> None:
        route.abort()  # the report is self-contained: nothing is fetched while printing

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(executable), args=["--no-sandbox", "--disable-gpu"], timeout=timeout_ms
            )
            try:
                page = browser.new_page()
                page.route("**/*", refuse)
                page.set_content(html, timeout=timeout_ms)
                pdf: bytes = page.pdf(
                    format="A4",
                    landscape=True,
                    print_background=True,
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=(
                        '<div style="font-size:8px;width:100%;text-align:right;'
                        'padding-right:12mm;color:#666">'
                        'page <span class="pageNumber"></span> of <span class="totalPages"></span></div>'
                    ),
                    margin={"top": "14mm", "bottom": "14mm", "left": "12mm", "right": "12mm"},
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise RuntimeError(f"Chromium could not print the report: {str(exc).splitlines()[0]}") from exc
    return pdf
