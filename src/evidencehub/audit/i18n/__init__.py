"""Message catalogs: every sentence the audit shows a person, in English and Hebrew.

``message("he", "status.missing")`` → "חסר". Catalogs are YAML files beside
this module; both hold the same keys (a test guarantees it). Jira field names
inside messages stay as Jira spells them, in both languages.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from evidencehub.audit.schemas import LANGUAGES, Language


@cache
def catalog(language: Language) -> dict[str, str]:
    """The flattened catalog: nested YAML keys joined with dots."""
    text = resources.files(__name__).joinpath(f"{language}.yaml").read_text(encoding="utf-8")
    flat: dict[str, str] = {}
    _flatten(yaml.safe_load(text) or {}, "", flat)
    return flat


def _flatten(node: Any, prefix: str, into: dict[str, str]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{name}.", into)
        else:
            into[name] = str(value)


def message(language: Language, key: str, **params: Any) -> str:
    """The message ``key`` in ``language`` with ``{placeholders}`` filled."""
    text = catalog(language).get(key)
    if text is None:
        text = catalog("en")[key]
    return text.format(**params) if params else text


def languages() -> tuple[Language, ...]:
    return LANGUAGES
