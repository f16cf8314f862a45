"""The Octane target's entry points for publish.registry."""

from __future__ import annotations

from evidencehub.publish.targets.octane.service import after_job
from evidencehub.publish.targets.octane.target import create_target

__all__ = ["after_job", "create_target"]
