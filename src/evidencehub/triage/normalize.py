"""Normalizing failure text: mask what changes from run to run, keep what identifies the error.

Volatile tokens (UUIDs, hex ids and memory addresses, IPs and ports, timestamps,
temporary paths, numbers, line numbers in stack frames) become placeholders such
as ``<N>`` or ``<IP>``, so the same error in two runs normalizes to the same text.
Exception types and the meaningful lines are kept: framework frames (pytest,
JUnit, reflection, the Python/Java runtime) are dropped from traces and
duplicate lines are removed.

The result, :class:`Signature`, is what fingerprints, clusters, rules and the
learned index work on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TMP_PATH = re.compile(
    r"(?:/tmp|/var/tmp|/var/folders|/private/var/folders|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp)"
    r"[/\\][^\s'\"<>:,)]*"
)
_TMP_HINT = re.compile(r"tmp|folders|Temp")
_DIGIT = re.compile(r"\d")
# Order matters: specific shapes first, bare numbers last. Each mask has a guard: strings one of
# which every match contains (empty: no guard). A mask whose guard is absent from the text as it
# stands cannot match, so skipping it changes nothing; `in` costs a fraction of a regex scan, and
# most lines need only a few of the scans.
_MASKS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (
        ("-",),
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        "<UUID>",
    ),
    (
        (":",),
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<TS>",
    ),
    ((":",), re.compile(r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<TIME>"),
    (("-",), re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<DATE>"),
    (("0x",), re.compile(r"\b0x[0-9a-fA-F]+\b"), "<ADDR>"),
    ((".",), re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<IP>"),
    (("[",), re.compile(r"\[[0-9a-fA-F:]*:[0-9a-fA-F:]+\](?::\d{1,5})?"), "<IP>"),
    (
        (":",),
        re.compile(r"\b(localhost|[a-z][\w.-]*\.(?:local|internal|svc|com|net|org|io)):\d{1,5}\b"),
        r"\1:<PORT>",
    ),
    (("tmp", "folders", "Temp"), _TMP_PATH, "<TMP>"),  # the words of _TMP_HINT
    (("@",), re.compile(r"@[0-9a-fA-F]{6,}\b"), "@<ADDR>"),  # Java's Object@1b6d3586
    # Kubernetes pod names: deployment-<replicaset hash>-<5 random characters>.
    (("-",), re.compile(r"\b([a-z][a-z0-9-]*?)-[0-9a-f]{8,10}-[a-z0-9]{5}\b"), r"\1-<POD>"),
    # Generated ids after a separator: job-0c25dbe0, run_9f3a21, alr-3c53c614.
    (("-", "_"), re.compile(r"(?<=[-_])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{6,}\b"), "<HEX>"),
    ((), re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,}\b"), "<HEX>"),
    ((), re.compile(r"(?<!\w)[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<N>"),
)

# Line numbers in stack frames: Python ``File "x.py", line 12, in f`` and Java ``(Foo.java:12)``.
_PY_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+(?:, in (\S+))?')
# pytest's tracebacks in JUnit XML: ``tests/api/test_jobs.py:211: in test_cancel`` (short entries),
# ``tests/api/test_jobs.py:211: `` and ``…:211: AssertionError`` (long entries, after their source).
_PYTEST_FRAME = re.compile(r"^([^\s:]+\.py):\d+:(?: in (\S+)|(?: [\w.]*)?)\s*$")
# Lists of the same masked item (``['job-<HEX>', 'job-<HEX>']``) say one thing whatever their length.
_LIST = re.compile(r"\[([^\[\]\n]{1,2000})\]")
_JAVA_FRAME = re.compile(r"^\s*at ([\w$.<>/]+)\(([^)]*?)(?::\d+)?\)")
_GENERIC_LINE_NUMBER = re.compile(r"(\.\w{1,5}):\d+(?::\d+)?\b")  # file.py:12, file.ts:12:5
# "pkg.module.SomeError: message" at the start of a line, or "SomeError: message".
_EXCEPTION_HEAD = re.compile(
    r"^\s*(?:E\s+)?((?:[a-zA-Z_][\w$]*\.)*[A-Z][\w$]*(?:Error|Exception|Failure|Fault|Exit|Interrupt|Warning"
    r"|Timeout|Refused|Reset|Failed|Violation))\b(?::|$)"
)
# HTTP status codes identify errors (429 is not 503): protected from number masking.
_HTTP_STATUS = re.compile(
    r"(?i)\b(HTTP(?:/\d(?:\.\d)?)?|status(?: code)?|code|error|response)[\s:=]+([1-5]\d{2})\b"
)
# Tokens for similarity: words, numbers and placeholders such as <N> (a regex, not a password).
TOKEN_PATTERN = r"[<\w][\w>]*"  # noqa: S105
_WORDS = re.compile(r"[A-Za-z][A-Za-z_]{2,}")
_WHITESPACE = re.compile(r"[ \t]+")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Frames of test runners and language runtimes carry no information about the failure.
FRAMEWORK_FRAME = re.compile(
    r"(?:site-packages/(?:_pytest|pluggy|unittest)|/_pytest/|/pluggy/|/unittest/(?:case|main|suite)\.py"
    r"|\bat (?:org\.junit|junit\.framework|org\.apache\.maven\.surefire|org\.testng|sun\.reflect"
    r"|java\.lang\.reflect|jdk\.internal\.reflect|java\.base/|org\.gradle|worker\.org\.gradle"
    r"|org\.eclipse\.jdt|com\.intellij|kotlin\.coroutines)"
    r"|\bat (?:Object\.<anonymous>|process\._tickCallback|processTicksAndRejections|node:internal))"
)
# Code of libraries (as opposed to the project's tests or product) in a frame's path or name.
LIBRARY_FRAME = re.compile(
    r"(?:site-packages|dist-packages|/lib/python\d|<frozen |node_modules"
    r"|^(?:java|javax|jdk|sun|org\.junit|junit|org\.hamcrest|org\.assertj|org\.mockito|kotlin)\.)"
)
# Paths or class names that are test code.
TEST_CODE = re.compile(
    r"(?:(?:^|[/\\])tests?[/\\]|(?:^|[/\\])test_[^/\\]*\.py$|_test\.(?:py|go)$|\.(?:test|spec)\.[jt]sx?$"
    r"|conftest\.py$|(?:^|\.)[A-Z]\w*(?:Test|Tests|IT|Spec)(?:\$\w+)?(?:\.\w+)?$|(?:^|\.)test\w*$|\.Tests?\."
    r"|[/\\]src[/\\]test[/\\])"
)

_NOISE_LINES = frozenset({"Traceback (most recent call last):", "^", "...", "Caused by:"})
MAX_MESSAGE_LINES = 6
MAX_TRACE_LINES = 30
MAX_LINE_CHARS = 300


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame: where (file or class) and the function, without the line number."""

    location: str
    function: str

    @property
    def is_library(self) -> bool:
        return bool(LIBRARY_FRAME.search(self.location))

    @property
    def is_test_code(self) -> bool:
        return bool(TEST_CODE.search(self.location))

    def __str__(self) -> str:
        return f"{self.location}:{self.function}" if self.function else self.location


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    frame: Frame | None
    innermost_last: bool  # a Python frame: Python prints the innermost frame last
    exception: str  # the exception type when the line starts with one ("pkg.FooError: …"), else ""


@dataclass(frozen=True, slots=True)
class Signature:
    """A failure reduced to what identifies its error."""

    exception: str  # the exception type, short form ("ConnectionRefusedError"), or "" when unknown
    message: str  # normalized message, its first meaningful lines
    trace: str  # normalized meaningful trace lines
    frames: tuple[Frame, ...]  # innermost last, framework frames dropped

    @property
    def own_frame(self) -> Frame | None:
        """The innermost frame outside third-party libraries: where the project's code failed."""
        for frame in reversed(self.frames):
            if not frame.is_library:
                return frame
        return None

    @property
    def raised_in_test_code(self) -> bool:
        """True when the innermost project frame is test code (a test, fixture or test helper)."""
        frame = self.own_frame
        return frame is not None and frame.is_test_code

    @property
    def document(self) -> str:
        """The text the learned index compares: exception, message and trace."""
        return "\n".join(part for part in (self.exception, self.message, self.trace) if part)


def mask(text: str) -> str:
    """Replace volatile tokens by placeholders."""
    # Every volatile token but a temporary path has a digit: most lines skip the costly passes.
    if _DIGIT.search(text) is None:
        return _TMP_PATH.sub("<TMP>", text) if _TMP_HINT.search(text) else text
    for guard, pattern, replacement in _MASKS:
        if guard:
            for needed in guard:
                if needed in text:
                    break
            else:
                continue
        text = pattern.sub(replacement, text)
    return text


def short_exception(name: str) -> str:
    """``java.net.ConnectException`` → ``ConnectException``; ``a.b.ReadTimeout`` → ``ReadTimeout``."""
    name = name.strip()
    if not name:
        return ""
    return name.rsplit(".", 1)[-1].split("$")[-1][:200]


def _reported_exception(failure_type: str | None) -> str:
    if failure_type and failure_type.strip():
        candidate = failure_type.strip().split()[0].rstrip(":")
        if re.fullmatch(r"[\w$.]+", candidate):
            return short_exception(candidate)
    return ""


def exception_type(failure_type: str | None, message: str, trace: str) -> str:
    """The exception type as the report gave it, else as found heading the message or the trace."""
    reported = _reported_exception(failure_type)
    if reported:
        return reported
    for text in (message, trace):
        for line in text.splitlines()[:80]:
            found = _EXCEPTION_HEAD.match(line)
            if found:
                return short_exception(found.group(1))
    return ""


def _frame(line: str) -> Frame | None:
    python = _PY_FRAME.match(line) or _PYTEST_FRAME.match(line)
    if python:
        return Frame(python.group(1), python.group(2) or "")
    java = _JAVA_FRAME.match(line)
    if java:
        qualified = java.group(1)
        owner, _, function = qualified.rpartition(".")
        return Frame(owner or qualified, function if owner else "")
    return None


def _collapse_list(match: re.Match[str]) -> str:
    items = match.group(1).split(", ")
    if len(items) > 1 and all(item == items[0] for item in items):
        return f"[{items[0]}, …]"
    return match.group(0)


def _analyse_line(raw: str) -> _Line | None:
    """One line normalized, with its frame; None for lines that say nothing (framework frames, noise)."""
    stripped = raw.strip()
    if not stripped or stripped in _NOISE_LINES or FRAMEWORK_FRAME.search(raw):
        return None
    frame = _frame(raw) if ("File " in raw or "at " in raw or ".py:" in raw) else None
    text = str(frame) if frame is not None else stripped[: MAX_LINE_CHARS * 2]
    text = mask(_GENERIC_LINE_NUMBER.sub(r"\1", _HTTP_STATUS.sub(r"\1 HTTP_\2", text)))
    text = _WHITESPACE.sub(" ", _LIST.sub(_collapse_list, text))[:MAX_LINE_CHARS]
    head = _EXCEPTION_HEAD.match(raw) if frame is None else None
    return _Line(
        text, frame, frame is not None and not stripped.startswith("at "), head.group(1) if head else ""
    )


# Traces repeat the same lines (frames, log lines) across failures and runs: each distinct line is
# normalized once. Bounded; cleared when full.
_line_cache: dict[str, _Line | None] = {}
_LINE_CACHE_LIMIT = 200_000

# Log lines recur with other numbers in them ("took 812 ms", ids, timings). The patterns above tell
# ASCII digits apart only as 0 (the "0x" of addresses), 1-5 (the first digit of an HTTP status) and
# 6-9; otherwise a digit is a digit (\d, [0-9a-f], \w). So a line with 1-5 turned into 1 and 6-9
# into 6 (its shape) goes through the same matches at the same places as the line itself, and when
# the result keeps no digit at all (every number was masked or dropped) it is the result of every
# line of that shape. Results with a digit left (HTTP_503, a frame in Foo2Test) are not shared.
# A line without "0x" and without the words an HTTP status needs has a coarser shape: every digit 1.
_shape_cache: dict[str, _Line | None] = {}
_SHAPE = str.maketrans("23456789", "11116666")
_COARSE_SHAPE = str.maketrans("023456789", "111111111")
_STATUS_WORDS = re.compile(r"(?i)http|status|code|error|response")  # every _HTTP_STATUS match has one


def _shape_key(raw: str) -> str:
    """The key under which lines analysed alike share their analysis (see above)."""
    if "0x" in raw or _STATUS_WORDS.search(raw) is not None:
        return "f" + raw.translate(_SHAPE)
    return "c" + raw.translate(_COARSE_SHAPE)


def _digit_free(line: _Line | None) -> bool:
    if line is None:
        return True
    frame = line.frame
    return (
        _DIGIT.search(line.text) is None
        and _DIGIT.search(line.exception) is None
        and (frame is None or _DIGIT.search(f"{frame.location} {frame.function}") is None)
    )


def _line(raw: str) -> _Line | None:
    """The analysis of one line, from the caches when a line of that text or shape was seen."""
    cache = _line_cache
    if raw in cache:
        return cache[raw]
    if len(cache) >= _LINE_CACHE_LIMIT:
        cache.clear()
    if _DIGIT.search(raw) is None:
        line = cache[raw] = _analyse_line(raw)
        return line
    shape = _shape_key(raw)
    shapes = _shape_cache
    if shape in shapes:
        line = cache[raw] = shapes[shape]
        return line
    line = cache[raw] = _analyse_line(raw)
    if _digit_free(line):
        if len(shapes) >= _LINE_CACHE_LIMIT:
            shapes.clear()
        shapes[shape] = line
    return line


@dataclass(slots=True)
class _Lines:
    lines: list[str]  # normalized, de-duplicated, at most the limit
    frames: list[Frame]  # innermost last
    heads: list[tuple[str, str]]  # (exception type, normalized line) of lines starting with an exception


def _meaningful_lines(text: str, limit: int) -> _Lines:
    """Normalized, de-duplicated lines without framework frames, every frame, and the exception lines."""
    lines: list[str] = []
    heads: list[tuple[str, str]] = []
    seen: set[str] = set()
    frames: list[Frame] = []
    innermost_first = True
    cache = _line_cache
    for raw in text.splitlines():
        line = cache[raw] if raw in cache else _line(raw)
        if line is None:
            continue
        if line.frame is not None:
            frames.append(line.frame)
            innermost_first = innermost_first and not line.innermost_last
        elif line.exception:
            heads.append((line.exception, line.text))
        if line.text not in seen and len(lines) < limit:
            seen.add(line.text)
            lines.append(line.text)
    if innermost_first:
        frames.reverse()
    return _Lines(lines, frames, heads)


def normalize(
    *,
    failure_type: str | None,
    message: str | None,
    trace: str | None,
    max_trace_lines: int = MAX_TRACE_LINES,
) -> Signature:
    """The signature of one failure. Text is bounded, so cost does not grow with huge traces."""
    message_text = _ANSI.sub("", (message or "")[:8192])
    trace_text = _ANSI.sub("", (trace or "")[:32768])
    in_message = _meaningful_lines(message_text, MAX_MESSAGE_LINES)
    in_trace = _meaningful_lines(trace_text, max_trace_lines)
    message_lines, trace_lines, frames = in_message.lines, in_trace.lines, in_trace.frames
    # The exception line of a Python traceback is its last; in Java and most others, its first.
    python = trace_text.lstrip().startswith("Traceback")
    trace_head = (in_trace.heads[-1] if python else in_trace.heads[0]) if in_trace.heads else None
    exception = _reported_exception(failure_type)
    if not exception:
        head = in_message.heads[0] if in_message.heads else trace_head
        exception = short_exception(head[0]) if head else ""
    if not message_lines and trace_text:
        # Many reports leave the message empty: the trace's exception line is the message.
        if trace_head is not None:
            message_lines = [trace_head[1]]
        else:
            message_lines = [line for line in trace_lines if "/" not in line and ":" in line][:1]
    message_norm = "\n".join(message_lines)
    # The exception name heading a line carries no more than `exception` already does.
    if exception:
        message_norm = re.sub(
            rf"^(?:E\s+)?(?:[\w$]+\.)*{re.escape(exception)}:\s*", "", message_norm, flags=re.MULTILINE
        )
    trace_norm = "\n".join(line for line in trace_lines if line not in message_lines)
    return Signature(
        exception=exception, message=message_norm.strip(), trace=trace_norm, frames=tuple(frames)
    )


def informative_words(text: str) -> set[str]:
    """Words of three or more letters, lowercased: a measure of how much a message says."""
    return {word.lower() for word in _WORDS.findall(text)}
