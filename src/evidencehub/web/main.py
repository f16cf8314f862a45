"""The app factory uvicorn calls in each worker process (``evidencehub serve --workers N``).

Settings come from the environment (EVIDENCEHUB_*), as in every process.
"""

from __future__ import annotations

from fastapi import FastAPI

from evidencehub.config import load_settings
from evidencehub.ops.logging import configure_logging
from evidencehub.web.app import create_app


def app() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log)
    return create_app(settings)
