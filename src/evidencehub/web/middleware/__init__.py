"""ASGI middleware: request ids and metrics, rate-limit headers, request body limits."""

from evidencehub.web.middleware.body_limit import BodyLimitMiddleware
from evidencehub.web.middleware.observe import ObserveMiddleware

__all__ = ["BodyLimitMiddleware", "ObserveMiddleware"]
