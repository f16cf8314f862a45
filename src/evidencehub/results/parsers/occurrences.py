"""Keeping apart tests that a reporter lists twice under the same name."""

from __future__ import annotations


class Occurrences:
    """Names the second and later test with an already-seen (class, name) ``name (2)``, ``name (3)``, …

    Whole-document reporters (mocha, rspec, dart) write each test of a run once,
    never a rerun, so a repeated name is another test: without this it would be
    folded into the first as if it were a retry.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str | None, str], int] = {}

    def name(self, classname: str | None, name: str) -> str:
        key = (classname, name)
        count = self._seen.get(key, 0) + 1
        self._seen[key] = count
        return name if count == 1 else f"{name} ({count})"
