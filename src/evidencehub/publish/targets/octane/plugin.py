"""The Octane target's entry points for publish.registry."""

from __future__ import annotations

from evidencehub.publish.targets.octane.readiness import readiness_check
from evidencehub.publish.targets.octane.service import after_job
from evidencehub.publish.targets.octane.target import create_target

__all__ = ["after_job", "create_target", "readiness_check"]
