"""What the Xray emulator holds: issues (tests, plans, executions), test runs, tokens, the rate window.

Imports are validated whole before anything changes (a refused import leaves
no trace) and applied under one lock. As in Xray, an execution holds one test
run per test: importing a test again overwrites its run (counted in
``run_overwrites``), and a Generic test is found again by its definition
within the project instead of being created twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import re
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from evidencehub.emulators.xray.config import XrayEmulatorConfig, XrayFaults

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
STATUSES = {
    "server": frozenset({"PASS", "FAIL", "TODO", "EXECUTING", "ABORTED"}),
    "cloud": frozenset({"PASSED", "FAILED", "TODO", "EXECUTING", "ABORTED"}),
}
TEST_TYPES = frozenset({"Manual", "Generic", "Cucumber"})


class XrayApiError(Exception):
    """An answer other than 200: Xray's ``{"error": "…"}`` body with a status and headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Issue:
    key: str
    id: str
    type: str  # Test, Test Plan, Test Execution
    project: str
    summary: str
    test_type: str | None = None
    definition: str | None = None


@dataclass
class TestRun:
    test_key: str
    status: str
    comment: str | None
    start: str | None
    finish: str | None
    evidence: list[str]
    writes: int = 1


@dataclass
class Execution:
    issue: Issue
    info: dict[str, Any]
    runs: dict[str, TestRun] = field(default_factory=dict)
    imports: int = 0


class XrayEmulatorState:
    def __init__(self, config: XrayEmulatorConfig) -> None:
        self.lock = threading.RLock()
        self.config: XrayEmulatorConfig = config
        self.reset(config)

    def reset(self, config: XrayEmulatorConfig | None = None) -> None:
        with self.lock:
            self.config = config or self.config
            self.random = random.Random(self.config.faults.seed)  # noqa: S311 - fault dice, not secrets
            self.issues: dict[str, Issue] = {}
            self.executions: dict[str, Execution] = {}
            self.counters: Counter[str] = Counter()
            self.tokens: dict[str, tuple[str, float]] = {}  # token → (client id, expiry)
            self.token_uses: Counter[str] = Counter()  # token → requests it authorised
            self.windows: dict[str, deque[float]] = {}
            self.not_before: dict[str, float] = {}  # body sha256 → when a refused body may come again
            self._next_number: Counter[str] = Counter()
            self._next_id = 10000

    def update_config(self, changes: dict[str, Any]) -> None:
        with self.lock:
            self.config = self.config.model_copy(update=changes)

    def set_faults(self, faults: XrayFaults) -> None:
        with self.lock:
            self.config = self.config.model_copy(update={"faults": faults})
            self.random = random.Random(faults.seed)  # noqa: S311

    def chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self.lock:
            return self.random.random() < probability

    def count(self, name: str) -> None:
        with self.lock:
            self.counters[name] += 1

    # -- issues

    def new_issue(self, project: str, type_: str, summary: str, **fields: Any) -> Issue:
        with self.lock:
            self._next_number[project] += 1
            self._next_id += 1
            issue = Issue(
                key=f"{project}-{self._next_number[project]}",
                id=str(self._next_id),
                type=type_,
                project=project,
                summary=summary,
                **fields,
            )
            self.issues[issue.key] = issue
            return issue

    # -- authentication

    def issue_token(self, client_id: str, secret: str) -> str:
        with self.lock:
            expected = self.config.api_keys.get(client_id)
            if expected is None or not secrets.compare_digest(expected, secret):
                self.counters["auth_failures"] += 1
                raise XrayApiError(401, "Authentication failed. Invalid client credentials!")
            token = secrets.token_urlsafe(24)
            self.tokens[token] = (client_id, time.monotonic() + self.config.token_ttl_seconds)
            self.counters["tokens_issued"] += 1
            return token

    def caller(self, authorization: str | None) -> str:
        """Who sent a request (for the rate window); XrayApiError 401 when nobody valid."""
        scheme, _, value = (authorization or "").partition(" ")
        with self.lock:
            if self.config.flavour == "cloud":
                entry = self.tokens.get(value) if scheme.lower() == "bearer" else None
                if entry is None:
                    self.counters["auth_failures"] += 1
                    raise XrayApiError(401, "Authentication failed. Invalid or missing token.")
                limit = self.config.token_expire_after_requests
                if limit is not None and self.token_uses[value] >= limit and time.monotonic() < entry[1]:
                    # used up: from now on the token is refused exactly as a timed-out one is
                    self.tokens[value] = entry = (entry[0], 0.0)
                    self.counters["tokens_expired_by_count"] += 1
                if time.monotonic() >= entry[1]:
                    self.counters["auth_failures"] += 1
                    raise XrayApiError(401, "Authentication failed. Token expired.")
                self.token_uses[value] += 1
                return entry[0]
            if scheme.lower() == "bearer" and value in self.config.tokens:
                return "token:" + hashlib.sha256(value.encode()).hexdigest()[:8]
            if scheme.lower() == "basic":
                try:
                    user, _, password = base64.b64decode(value).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    user, password = "", ""
                expected = self.config.users.get(user)
                if expected is not None and secrets.compare_digest(expected, password):
                    return user
            self.counters["auth_failures"] += 1
            raise XrayApiError(
                401, "You are not authenticated. Authentication required to perform this operation."
            )

    # -- the rate limit

    def admit(self, caller: str, body: bytes) -> None:
        """Count a request against the caller's window; XrayApiError 429 with Retry-After when full."""
        digest = hashlib.sha256(body).hexdigest()
        now = time.monotonic()
        with self.lock:
            self.counters["requests"] += 1
            allowed_at = self.not_before.pop(digest, None)
            if allowed_at is not None and now < allowed_at - 0.005:
                self.counters["early_retries"] += 1  # a refused request came back before Retry-After
            limit = self.config.rate_limit_requests
            if limit is None:
                return
            window = self.windows.setdefault(caller, deque())
            span = self.config.rate_limit_window_seconds
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= limit:
                wait = max(0.01, window[0] + span - now)
                self.not_before[digest] = now + wait
                self.counters["rate_limited"] += 1
                raise XrayApiError(
                    429,
                    f"Too many requests: the limit is {limit} requests per {span:g} seconds",
                    headers={"Retry-After": f"{wait:.2f}"},
                )
            window.append(now)

    def refused(self, body: bytes, retry_after: float) -> None:
        """An injected 429 for ``body``: it too must not come back before ``retry_after``."""
        with self.lock:
            self.not_before[hashlib.sha256(body).hexdigest()] = time.monotonic() + retry_after

    # -- imports

    def import_json(self, document: Any) -> tuple[Execution, list[Issue]]:
        """Validate an Xray JSON document, then apply it; XrayApiError 400 naming the first problem."""
        with self.lock:
            execution, info, tests = self._check_document(document)
            planned = [self._check_test(index, test) for index, test in enumerate(tests)]
            return self._apply(execution, info, planned)

    def _project(self, key: Any, what: str) -> str:
        if not isinstance(key, str) or not PROJECT_KEY.match(key):
            raise XrayApiError(400, f"{what}: project key {key!r} is not valid")
        if self.config.projects is not None and key not in self.config.projects:
            raise XrayApiError(400, f"{what}: project with key '{key}' does not exist")
        return key

    def _check_document(self, document: Any) -> tuple[Execution | None, dict[str, Any], list[Any]]:
        if not isinstance(document, dict):
            raise XrayApiError(400, "Error reading the request: the body must be a JSON object")
        tests = document.get("tests", [])
        if not isinstance(tests, list):
            raise XrayApiError(400, "Error reading the request: 'tests' must be an array")
        info = document.get("info") or {}
        if not isinstance(info, dict):
            raise XrayApiError(400, "Error reading the request: 'info' must be an object")
        key = document.get("testExecutionKey")
        execution = None
        if key is not None:
            execution = self.executions.get(str(key))
            if execution is None:
                raise XrayApiError(400, f"Test Execution with key '{key}' was not found")
        else:
            self._project(info.get("project"), "Error creating Test Execution")
            if not str(info.get("summary") or "").strip():
                info = {**info, "summary": "Execution of automated tests"}
        plan = info.get("testPlanKey")
        if plan is not None and (plan not in self.issues or self.issues[plan].type != "Test Plan"):
            raise XrayApiError(400, f"Test Plan with key '{plan}' was not found")
        environments = info.get("testEnvironments", [])
        if not isinstance(environments, list) or any(
            not isinstance(item, str) or not item or " " in item for item in environments
        ):
            raise XrayApiError(400, "testEnvironments must be an array of names without spaces")
        return execution, info, tests

    def _check_test(self, index: int, test: Any) -> dict[str, Any]:
        where = f"tests[{index}]"
        if not isinstance(test, dict):
            raise XrayApiError(400, f"{where} must be an object")
        statuses = STATUSES[self.config.flavour]
        status = test.get("status")
        if status not in statuses:
            raise XrayApiError(
                400, f"{where}: status '{status}' is not valid; expected one of {', '.join(sorted(statuses))}"
            )
        key = test.get("testKey")
        if key is not None:
            issue = self.issues.get(str(key))
            if issue is None or issue.type != "Test":
                raise XrayApiError(400, f"{where}: Test with key '{key}' was not found")
        else:
            self._check_info(where, test.get("testInfo"))
        wrong, right = (
            ("evidences", "evidence") if self.config.flavour == "cloud" else ("evidence", "evidences")
        )
        if wrong in test:
            raise XrayApiError(400, f"{where}: unknown field '{wrong}' (this Xray expects '{right}')")
        names = []
        for number, item in enumerate(test.get(right) or []):
            names.append(self._check_evidence(f"{where}.{right}[{number}]", item))
        return {**test, "_evidence": names}

    def _check_info(self, where: str, info: Any) -> None:
        if not isinstance(info, dict):
            raise XrayApiError(400, f"{where}: a test needs 'testKey' or 'testInfo'")
        self._project(info.get("projectKey"), f"{where}.testInfo")
        if not str(info.get("summary") or "").strip():
            raise XrayApiError(400, f"{where}.testInfo: summary is required")
        if info.get("type") not in TEST_TYPES:
            raise XrayApiError(400, f"{where}.testInfo: type '{info.get('type')}' is not a test type")
        if info.get("type") == "Generic" and not str(info.get("definition") or "").strip():
            raise XrayApiError(400, f"{where}.testInfo: a Generic test needs a definition")

    def _check_evidence(self, where: str, item: Any) -> str:
        if not isinstance(item, dict) or not item.get("filename") or not item.get("data"):
            raise XrayApiError(400, f"{where}: evidence needs data (base64) and filename")
        try:
            data = base64.b64decode(str(item["data"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise XrayApiError(400, f"{where}: data is not valid base64") from exc
        if len(data) > self.config.max_evidence_kb * 1024:
            raise XrayApiError(400, f"{where}: evidence is larger than {self.config.max_evidence_kb} KB")
        return str(item["filename"])

    def _test_issue(self, test: dict[str, Any]) -> Issue:
        key = test.get("testKey")
        if key is not None:
            return self.issues[str(key)]
        info = test["testInfo"]
        project, kind = info["projectKey"], info["type"]
        definition = str(info.get("definition") or "")
        for issue in self.issues.values():
            if issue.type != "Test" or issue.project != project or issue.test_type != kind:
                continue
            if (kind == "Generic" and issue.definition == definition) or (
                kind != "Generic" and issue.summary == info["summary"]
            ):
                return issue
        self.counters["tests_created"] += 1
        return self.new_issue(
            project, "Test", str(info["summary"]), test_type=kind, definition=definition or None
        )

    def _apply(
        self, execution: Execution | None, info: dict[str, Any], tests: list[dict[str, Any]]
    ) -> tuple[Execution, list[Issue]]:
        if execution is None:
            issue = self.new_issue(str(info["project"]), "Test Execution", str(info["summary"]))
            execution = Execution(issue=issue, info=dict(info))
            self.executions[issue.key] = execution
            self.counters["executions_created"] += 1
        execution.imports += 1
        self.counters["imports"] += 1
        touched = []
        for test in tests:
            issue = self._test_issue(test)
            touched.append(issue)
            run = execution.runs.get(issue.key)
            values: dict[str, Any] = {
                "status": str(test["status"]),
                "comment": test.get("comment"),
                "start": test.get("start"),
                "finish": test.get("finish"),
                "evidence": list(test["_evidence"]),
            }
            if run is None:
                execution.runs[issue.key] = TestRun(test_key=issue.key, **values)
                self.counters["runs_created"] += 1
            else:
                for name, value in values.items():
                    setattr(run, name, value)
                run.writes += 1
                self.counters["run_overwrites"] += 1
        return execution, touched

    # -- read-back

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                **dict(self.counters),
                "executions": len(self.executions),
                "tests": sum(1 for issue in self.issues.values() if issue.type == "Test"),
            }

    def executions_view(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "key": execution.issue.key,
                    "project": execution.issue.project,
                    "summary": execution.issue.summary,
                    "info": execution.info,
                    "imports": execution.imports,
                    "runs": [
                        {
                            "test_key": run.test_key,
                            "definition": self.issues[run.test_key].definition,
                            "summary": self.issues[run.test_key].summary,
                            "status": run.status,
                            "comment": run.comment,
                            "start": run.start,
                            "finish": run.finish,
                            "evidence": run.evidence,
                            "writes": run.writes,
                        }
                        for run in execution.runs.values()
                    ],
                }
                for execution in self.executions.values()
            ]

    def tests_view(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "key": issue.key,
                    "project": issue.project,
                    "summary": issue.summary,
                    "test_type": issue.test_type,
                    "definition": issue.definition,
                }
                for issue in self.issues.values()
                if issue.type == "Test"
            ]
