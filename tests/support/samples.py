"""The Prism sample generator of ``make demo`` (examples/generate.py), loaded as a module for tests."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.shared import REPO_ROOT


def sample_generator() -> ModuleType:
    path = REPO_ROOT / "examples" / "generate.py"
    spec = importlib.util.spec_from_file_location("prism_sample_generator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
