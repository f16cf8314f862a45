"""Reading a JSON Lines report one bounded line at a time."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from evidencehub.results.parsers.context import ParseContext


class JsonLines:
    """The JSON objects of a JSON Lines file, with their line numbers; blank lines are skipped."""

    def __init__(self, ctx: ParseContext) -> None:
        self._ctx = ctx

    @staticmethod
    def max_line_bytes(ctx: ParseContext) -> int:
        # A line carries at most a message, a trace and some output; escaping can make each
        # character up to six bytes (\\uXXXX). Anything longer is refused rather than buffered.
        return 6 * (2 * ctx.limits.max_field_chars + ctx.limits.max_output_chars) + 64 * 1024

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        ctx = self._ctx
        limit = self.max_line_bytes(ctx)
        with ctx.open() as raw:
            reader = io.BufferedReader(raw)  # type: ignore[arg-type]
            number = 0
            while True:
                line = reader.readline(limit + 1)
                if not line:
                    return
                number += 1
                if len(line) > limit and not line.endswith(b"\n"):
                    raise ctx.error(f"a line is longer than the limit of {limit:,} bytes", line=number)
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ctx.error(f"not valid JSON: {exc.msg} (column {exc.colno})", line=number) from None
                except (UnicodeDecodeError, RecursionError) as exc:
                    raise ctx.error(f"not valid JSON: {type(exc).__name__}", line=number) from None
                if not isinstance(value, dict):
                    raise ctx.error("expected one JSON object per line", line=number)
                yield number, value
