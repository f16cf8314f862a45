"""Imports every domain's model module so that Base.metadata is complete.

Alembic's env.py and the test-suite schema checks call load_all_models(); add
one import line here when a domain gains a model.py.
"""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "evidencehub.orgs.model",
    "evidencehub.results.model",
    "evidencehub.auth.model",
    "evidencehub.reports.model",
    "evidencehub.publish.model",
    "evidencehub.triage.model",
    "evidencehub.audit.model",
    "evidencehub.promotions.model",
)


def load_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
