"""Locating ../shared (corpus, triage data, Octane reference): skip outside CI, fail inside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path | None:
    configured = os.environ.get("EVIDENCEHUB_SHARED_DIR")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


def require_shared(*parts: str) -> Path:
    """The path under shared/, or skip (a user's machine) — but never skip in CI."""
    base = shared_dir()
    path = base.joinpath(*parts) if base is not None else None
    if path is None or not path.exists():
        message = f"../shared/{'/'.join(parts)} is not present (set EVIDENCEHUB_SHARED_DIR to point at it)"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI must have the shared data", pytrace=False)
        pytest.skip(message)
    return path
