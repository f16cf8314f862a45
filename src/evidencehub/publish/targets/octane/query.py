"""Building Octane query statements safely (SPEC §4.4)."""

from __future__ import annotations

from collections.abc import Iterable

_ESCAPED = ("\\", "'", '"', "(", ")")


def quote(value: str) -> str:
    """A string literal for a query: single-quoted, with \\ ' " ( ) backslash-escaped (as the CI SDK does)."""
    for char in _ESCAPED:
        value = value.replace(char, "\\" + char)
    return f"'{value}'"


def in_list(field: str, values: Iterable[str]) -> str:
    return f"{field} IN {','.join(quote(value) for value in values)}"
