"""A repository's pytest tests, indexed: does a node id exist, which tests carry an Xray key.

Built once per audit from ``--repo DIR`` by parsing test files with ``ast``
(never importing them).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidencehub.audit.sources.pytest_code import PytestTest, collect_tests, is_test_file
from evidencehub.errors import InputError

# A pytest node id in a command: path/to/test_x.py[::Class]::test_name[param]
NODE_ID = re.compile(r"""(?P<file>[\w./\\-]+\.py)(?P<rest>(?:::[\w\[\]\-.,=+ ]+?)*)(?=$|["'\s])""")
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", "build", "dist"}


@dataclass(frozen=True)
class NodeRef:
    file: str
    classes: tuple[str, ...]
    function: str | None

    @property
    def node_id(self) -> str:
        return "::".join([self.file, *self.classes, *([self.function] if self.function else [])])


def find_node_ref(text: str) -> NodeRef | None:
    """The first pytest node id (or test file) mentioned in a command or sentence."""
    for match in NODE_ID.finditer(text.replace("\\", "/")):
        parts = [part.strip() for part in match.group("rest").split("::") if part.strip()]
        function = re.sub(r"\[.*$", "", parts[-1]) if parts else None
        return NodeRef(match.group("file").lstrip("./") or match.group("file"), tuple(parts[:-1]), function)
    return None


@dataclass
class RepoIndex:
    root: Path
    tests: dict[str, PytestTest] = field(default_factory=dict)
    by_key: dict[str, list[PytestTest]] = field(default_factory=dict)

    @classmethod
    def build(cls, root: Path) -> RepoIndex:
        if not root.is_dir():
            raise InputError(f"--repo {root}: not a directory", details={"parameter": "repo"})
        index = cls(root=root)
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root)
            if any(part in _SKIP_DIRS or part.startswith(".") for part in relative.parts[:-1]):
                continue
            if not is_test_file(path):
                continue
            try:
                tests = collect_tests(path, root)
            except InputError:
                continue  # a broken file elsewhere in the repo does not stop the audit
            for test in tests:
                index.tests[test.node_id] = test
                for key in test.xray_keys:
                    index.by_key.setdefault(key, []).append(test)
        return index

    def resolve(self, ref: NodeRef) -> tuple[bool, str | None]:
        """(exists, problem): problem is "no_file" or "no_test" when the node id does not resolve."""
        path = self.root / ref.file
        if not path.is_file():
            return False, "no_file"
        if ref.function is None:
            return True, None
        tests = self.tests if is_test_file(path) else {t.node_id: t for t in collect_tests(path, self.root)}
        if ref.node_id in tests:
            return True, None
        return False, "no_test"

    def linked(self, key: str | None) -> PytestTest | None:
        tests = self.by_key.get(key or "") or []
        return tests[0] if tests else None


def literal_payload(path: Path) -> Any | None:
    """A literal dict assigned to a name containing "payload" (or "body") in a test module, else None.

    Read with ``ast.literal_eval``: nothing is executed.
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        names = [target.id.casefold() for target in targets if isinstance(target, ast.Name)]
        if value is None or not any("payload" in name or name.endswith("body") for name in names):
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError):
            continue
        if isinstance(literal, dict) and literal:
            return literal
    return None
