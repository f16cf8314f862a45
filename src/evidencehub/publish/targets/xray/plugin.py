"""The Xray target's entry points for publish.registry."""

from __future__ import annotations

from evidencehub.publish.targets.xray.service import prepare_job
from evidencehub.publish.targets.xray.target import create_target

__all__ = ["create_target", "prepare_job"]
