from __future__ import annotations

import pytest

from tests.support.web import set_fast_web_env


@pytest.fixture(autouse=True)
def _fast_web(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fast_web_env(monkeypatch)
