"""The web API (FastAPI): thin routers over the domain services, under /api/v1."""

from evidencehub.web.app import create_app

__all__ = ["create_app"]
