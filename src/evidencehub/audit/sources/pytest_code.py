"""Tests as code: pytest test functions, their docstring sections and markers.

Files are parsed with :mod:`ast` and never imported or executed. A test's
``@pytest.mark.xray("PZ-13602")`` marker (pytest-jira-xray; a list links several
tickets) gives its ticket key; the docstring's first line is the summary and
its sections (Google style ``Steps:`` with an indented body, NumPy style with
an underline, or Markdown headings) are fields. The code itself is the
automation: the node id gives the Automation Status and Execution Command.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evidencehub.audit.schemas import CodeLink, FieldKind, TestCaseDocument
from evidencehub.audit.sources.base import ReadOptions, SourceFormat, read_text
from evidencehub.audit.text import split_sections
from evidencehub.errors import InputError

_GOOGLE_SECTION = re.compile(r"^([A-Za-z\u0590-\u05FF][\w \u0590-\u05FF/&()'-]{0,48}?)\s*:\s*(.*)$")
_UNDERLINE = re.compile(r"^\s*(-{3,}|={3,})\s*$")
# Markers that say how pytest runs a test, not what it is about.
_MECHANICS = {"parametrize", "usefixtures", "filterwarnings", "timeout", "xray", "skipif", "xfail", "skip"}


@dataclass
class PytestTest:
    """A test function found in a file, with what its decorators and docstring say."""

    node_id: str
    file: str
    classname: str | None
    function: str
    line: int
    docstring: str
    xray_keys: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)

    def link(self) -> CodeLink:
        return CodeLink(
            node_id=self.node_id,
            file=self.file,
            classname=self.classname,
            function=self.function,
            line=self.line,
            markers=self.markers,
        )


def _detect(path: Path, head: bytes) -> bool:
    return path.suffix == ".py"


def is_test_file(path: Path) -> bool:
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def relative_name(path: Path, root: Path | None) -> str:
    """The path as pytest names it in node ids: relative to the repository (or working directory)."""
    for base in (root, Path.cwd()):
        if base is None:
            continue
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def collect_tests(path: Path, root: Path | None = None) -> list[PytestTest]:
    """Every pytest test function in a file (module level, or in ``Test*`` classes, nested too)."""
    text = read_text(path)
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise InputError(
            f"{path}, line {exc.lineno}: not valid Python: {exc.msg}",
            details={"file": str(path), "line": exc.lineno},
        ) from exc
    name = relative_name(path, root)
    return list(_walk(tree.body, name, []))


def _walk(
    body: list[ast.stmt], file: str, classes: list[str], inherited: tuple[list[str], list[str]] = ([], [])
) -> Iterator[PytestTest]:
    for node in body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            if any(isinstance(item, ast.FunctionDef) and item.name == "__init__" for item in node.body):
                continue  # pytest does not collect classes with a constructor
            markers, keys = _markers(node)
            yield from _walk(
                node.body, file, [*classes, node.name], (inherited[0] + markers, inherited[1] + keys)
            )
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            markers, keys = _markers(node)
            yield PytestTest(
                node_id="::".join([file, *classes, node.name]),
                file=file,
                classname="::".join(classes) or None,
                function=node.name,
                line=node.lineno,
                docstring=inspect.cleandoc(ast.get_docstring(node, clean=False) or ""),
                xray_keys=list(dict.fromkeys(inherited[1] + keys)),
                markers=list(dict.fromkeys(inherited[0] + markers)),
            )


def _markers(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> tuple[list[str], list[str]]:
    markers: list[str] = []
    keys: list[str] = []
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call is not None else decorator
        dotted = ast.unparse(target)
        if ".mark." not in f".{dotted}":
            continue
        marker = dotted.rsplit(".", 1)[-1]
        markers.append(marker)
        if marker == "xray" and call is not None:
            for argument in call.args:
                keys.extend(_string_values(argument))
    return markers, keys


def _string_values(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [value for item in node.elts for value in _string_values(item)]
    return []


def docstring_sections(docstring: str) -> tuple[str, list[tuple[str, str]]]:
    """The docstring's leading paragraph and its (section, body) pairs."""
    lines = docstring.splitlines()
    if any(line.lstrip().startswith("#") for line in lines):
        preamble, headed = split_sections(docstring)
        return preamble, [(section.heading, section.body) for section in headed]
    preamble_lines: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        underlined = index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1]) and line.strip()
        google = _GOOGLE_SECTION.match(line) if line and not line[0].isspace() else None
        if underlined:
            sections.append((line.strip(), []))
            index += 2
            continue
        if google and len(google.group(1).split()) <= 5:
            sections.append((google.group(1).strip(), [google.group(2)] if google.group(2) else []))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble_lines.append(line)
        index += 1
    return "\n".join(preamble_lines).strip(), [
        (heading, inspect.cleandoc("\n".join(body))) for heading, body in sections
    ]


def test_document(test: PytestTest, key: str | None, source: str) -> TestCaseDocument:
    """One ticket's view of a test function."""
    preamble, sections = docstring_sections(test.docstring)
    summary = preamble.splitlines()[0].strip() if preamble else None
    document = TestCaseDocument(
        key=key, summary=summary, source=source, source_format=SOURCE.name, code=test.link()
    )
    where = f"{test.node_id} (line {test.line})"
    if key:
        document.add("Key", FieldKind.DERIVED, key, location=f"@pytest.mark.xray on {where}")
    if summary:
        document.add("Summary", FieldKind.DOCSTRING, summary, location=f"docstring of {where}")
    if preamble:
        document.add("Description", FieldKind.DOCSTRING, preamble, location=f"docstring of {where}")
    for heading, body in sections:
        document.add(
            heading, FieldKind.DOCSTRING, body, location=f"docstring of {where}, section '{heading}'"
        )
    place = f"function {test.function}" + (f", class {test.classname}" if test.classname else "")
    document.add(
        "Automation Status",
        FieldKind.DERIVED,
        f"Automated (pytest) – {place}, file {test.file}",
        location=f"the test code {where}",
    )
    document.add(
        "Execution Command", FieldKind.DERIVED, f'pytest "{test.node_id}"', location=f"node id of {where}"
    )
    labels = [marker for marker in test.markers if marker not in _MECHANICS]
    document.add("Labels", FieldKind.DERIVED, items=labels, location=f"pytest markers on {where}")
    return document


test_document.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name


def _read(path: Path, options: ReadOptions) -> list[TestCaseDocument]:
    documents: list[TestCaseDocument] = []
    for test in collect_tests(path, options.repo):
        source = f"{path}:{test.line}"
        keys: list[str | None] = [*test.xray_keys] or [None]
        documents.extend(test_document(test, key, source) for key in keys)
    return documents


class _PytestSource(SourceFormat):
    def wants_in_directory(self, path: Path) -> bool:
        return is_test_file(path)


SOURCE = _PytestSource(
    name="pytest_code",
    description="pytest test functions: docstring sections and markers such as @pytest.mark.xray('KEY')",
    detect=_detect,
    read=_read,
    suffixes=(".py",),
)
