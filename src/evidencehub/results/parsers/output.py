"""Collecting a test's output piece by piece without keeping more than the output limit."""

from __future__ import annotations

from evidencehub.results.parsers.base import TRUNCATION_MARK
from evidencehub.results.parsers.context import ParseContext


class OutputBuffer:
    """Output pieces up to ``limit`` characters; what comes after is only counted."""

    __slots__ = ("_limit", "_omitted", "_parts", "_size")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._omitted = 0

    def add(self, piece: str) -> None:
        room = self._limit - self._size
        if room <= 0:
            self._omitted += len(piece)
            return
        kept = piece[:room]
        self._parts.append(kept)
        self._size += len(kept)
        self._omitted += len(piece) - len(kept)

    def lines(self) -> list[str]:
        """The kept text split into lines (for picking a message out of it)."""
        return "".join(self._parts).splitlines()

    def text(self, ctx: ParseContext) -> str | None:
        """The kept output with a truncation mark if anything was cut; None when there was none."""
        kept = "".join(self._parts)
        if self._omitted:
            return kept + TRUNCATION_MARK.format(omitted=self._omitted, limit=self._limit)
        return ctx.output(kept)
