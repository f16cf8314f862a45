"""Names of .NET tests: splitting ``Namespace.Class.Method(args)`` into class and test name."""

from __future__ import annotations

_OPENING = "(<[{"
_CLOSING = {")": "(", ">": "<", "]": "[", "}": "{"}


def split_full_name(full_name: str) -> tuple[str | None, str]:
    """``Ns.Fixture(1.5).Test("a.b")`` → (``Ns.Fixture(1.5)``, ``Test("a.b")``).

    The split is at the last dot outside brackets and quotes, so dots in
    arguments and generic parameters stay where they belong. A name without
    such a dot has no class part.
    """
    split_at = -1
    stack: list[str] = []
    quote: str | None = None
    for index, char in enumerate(full_name):
        if quote is not None:
            if char == quote:
                quote = None
            continue
        if char in "\"'":
            # Quotes only delimit string arguments; an apostrophe in a display name is just a letter.
            if stack:
                quote = char
        elif char in _OPENING:
            stack.append(char)
        elif char in _CLOSING:
            if stack and stack[-1] == _CLOSING[char]:
                stack.pop()
        elif char == "." and not stack:
            split_at = index
    if split_at <= 0 or split_at == len(full_name) - 1:
        return None, full_name
    return full_name[:split_at], full_name[split_at + 1 :]
